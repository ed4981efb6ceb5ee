"""One module per page or view of the dashboard; each has a ``render`` function. Shared here:
the tab names and how a selected table row opens a session's details."""

from __future__ import annotations

from collections.abc import Sequence

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


def show_details(session_id: str) -> None:
    """Open ``session_id`` in the details tab (call it from a widget callback)."""
    st.session_state[DETAILS_KEY] = session_id
    st.session_state[TAB_KEY] = DETAILS


def open_details(table_key: str, ids: Sequence[str]) -> None:
    """``on_select`` callback of a table whose rows are the sessions ``ids``: the selected row
    opens in the details tab."""
    state = st.session_state.get(table_key)
    rows = state["selection"]["rows"] if state else []
    if rows and 0 <= rows[0] < len(ids):
        show_details(ids[rows[0]])
