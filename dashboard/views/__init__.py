"""One module per page or view of the dashboard; each has a ``render`` function. Shared here:
the tab names, how a selected table row opens a session's details, and how a tab's widgets keep
their values while another tab is open."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import streamlit as st

#: Session-state key (and query parameter) of the open tab.
TAB_KEY = "tab"
ACTIVE = "Active Training"
HISTORY = "Training History"
LEADERBOARD = "Model Leaderboard"
DETAILS = "Session Details"
COMPARE = "Compare"
SWEEPS = "Sweeps"
TABS = (ACTIVE, HISTORY, LEADERBOARD, DETAILS, COMPARE, SWEEPS)
#: Session-state key of the session the details tab shows.
DETAILS_KEY = "details_session"
#: Session-state key of the tab the last completed run of the page drew (None: no tab).
SHOWN_KEY = "_shown_tab"
_KEPT = "_kept_"
_UNSET: Any = object()


def restore(
    tab: str, key: str, default: Any = _UNSET, allowed: Collection[Any] | None = None
) -> None:
    """Give the widget ``key`` of ``tab`` the value it had when the tab was last drawn (else
    ``default``; none: the widget's own); call it before the widget, and :func:`keep` after.

    Streamlit forgets a widget's value while its tab is not drawn, so the value is kept apart
    and set again through the session state, which the browser follows. When the tab comes back
    (another tab was drawn by the last completed run) it is set again even if the server still
    holds a value: a watcher run the browser asked for before it left the tab can bring that
    back after the browser dropped the widget, which the browser would then draw anew at its
    default and send back. Values no longer ``allowed`` (e.g. deleted sessions) are dropped."""
    if st.session_state.get(SHOWN_KEY) == tab and key in st.session_state:
        return
    value = st.session_state.get(_KEPT + key, default)
    if allowed is not None and value is not _UNSET:
        if isinstance(value, list):
            value = [v for v in value if v in allowed]
        elif value not in allowed:
            value = default
    if value is not _UNSET:
        st.session_state[key] = value


def keep(*keys: str) -> None:
    """Keep the values of the widgets ``keys`` for :func:`restore`."""
    for key in keys:
        if key in st.session_state:
            st.session_state[_KEPT + key] = st.session_state[key]


def put(key: str, value: Any) -> None:
    """Set the widget ``key`` to ``value`` from outside it (a callback, a link): kept too."""
    st.session_state[key] = value
    st.session_state[_KEPT + key] = value


def show_details(session_id: str) -> None:
    """Open ``session_id`` in the details tab (call it from a widget callback)."""
    put(DETAILS_KEY, session_id)
    st.session_state[TAB_KEY] = DETAILS


def open_details(table_key: str, ids: Sequence[str]) -> None:
    """``on_select`` callback of a table whose rows are the sessions ``ids``: the selected row
    opens in the details tab."""
    state = st.session_state.get(table_key)
    rows = state["selection"]["rows"] if state else []
    if rows and 0 <= rows[0] < len(ids):
        show_details(ids[rows[0]])
