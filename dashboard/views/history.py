"""Training History: ended sessions, sorted and filtered as a whole, shown a page at a time; a
selected row opens its details."""

from __future__ import annotations

import functools
import math
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import streamlit as st

from dashboard import data, frames
from dashboard.views import HISTORY, SHOWN_KEY, open_details

if TYPE_CHECKING:
    import pandas as pd

    from dashboard.store import LiveStore, Snapshot

#: Rows on one page of the table.
PAGE_ROWS = 100
PAGE_KEY = "history_page"
_KEPT = "_kept_"

_NUMBER = "%.4f"
#: How the table shows its typed columns (missing cells blank).
COLUMNS = {
    "started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "completed": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "duration (s)": st.column_config.NumberColumn(format="%.0f"),
    "epochs": st.column_config.NumberColumn(format="%d"),
    "planned": st.column_config.NumberColumn(format="%d"),
    "mAP50-95": st.column_config.NumberColumn(format=_NUMBER),
    "mAP50": st.column_config.NumberColumn(format=_NUMBER),
    "precision": st.column_config.NumberColumn(format="%.3f"),
    "recall": st.column_config.NumberColumn(format="%.3f"),
}


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def _restore(
    key: str, default: Any, allowed: Collection[Any] | None = None, *, mounted: bool
) -> None:
    """Give a widget back the value it had when the tab was last drawn (else ``default``).

    Streamlit forgets a widget's value while its tab is not drawn (e.g. while a row's details
    are open), so the value is kept apart (:func:`_keep`) and set again through the session
    state, which the browser follows. When the tab comes back (not ``mounted`` in the last
    completed run) it is set again even if the server still holds a value: a watcher run the
    browser asked for before it left the tab can bring that back after the browser dropped the
    widget, which the browser would then draw anew at its default and send back."""
    if not mounted or key not in st.session_state:
        value = st.session_state.get(_KEPT + key, default)
        if allowed is not None:
            value = [v for v in value if v in allowed]
        st.session_state[key] = value


def _keep(*keys: str) -> None:
    for key in keys:
        st.session_state[_KEPT + key] = st.session_state[key]


def render(store: LiveStore, snap: Snapshot) -> None:
    """Filters, sort order, the page control and one page of the table."""
    models, datasets = store.memo(
        "history-options",
        snap.version("history"),
        lambda: (
            sorted({s.model_type for s in snap.sessions.values() if s.model_type}),
            sorted({s.dataset_name for s in snap.sessions.values() if s.dataset_name}),
        ),
    )
    mounted = st.session_state.get(SHOWN_KEY) == HISTORY
    _restore("history_status", list(data.TERMINAL), data.TERMINAL, mounted=mounted)
    _restore("history_model", [], models, mounted=mounted)
    _restore("history_dataset", [], datasets, mounted=mounted)
    _restore("history_sort", "newest", mounted=mounted)
    _restore(PAGE_KEY, 1, mounted=mounted)
    cols = st.columns([3, 3, 3, 3, 1])
    statuses = cols[0].multiselect(
        "Status", data.TERMINAL, key="history_status", on_change=_first_page
    )
    model_types = cols[1].multiselect(
        "Model type", models, key="history_model", on_change=_first_page
    )
    names = cols[2].multiselect("Dataset", datasets, key="history_dataset", on_change=_first_page)
    sort = cols[3].selectbox(
        "Sort by",
        list(data.HISTORY_SORTS),
        format_func=data.HISTORY_SORTS.get,
        key="history_sort",
        on_change=_first_page,
    )
    _keep("history_status", "history_model", "history_dataset", "history_sort")
    wanted = (tuple(statuses), tuple(model_types), tuple(names), sort)
    # Sorted and filtered once per version of the history, shared by every viewer; a page
    # is a slice of it.
    table, ids = store.memo(
        ("history", wanted),
        snap.version("history"),
        lambda: _table(snap, statuses, model_types, names, sort),
    )
    if table.empty:
        st.info("No ended session matches (completed, failed and cancelled runs are listed here).")
        return
    pages = max(1, math.ceil(len(table) / PAGE_ROWS))
    if not 1 <= st.session_state.get(PAGE_KEY, 1) <= pages:
        st.session_state[PAGE_KEY] = 1  # fewer pages than before (e.g. sessions deleted)
    page = cols[4].number_input("Page", min_value=1, max_value=pages, step=1, key=PAGE_KEY)
    _keep(PAGE_KEY)
    first = (int(page) - 1) * PAGE_ROWS
    last = min(first + PAGE_ROWS, len(table))
    st.caption(
        f"Rows {first + 1:,}-{last:,} of {len(table):,} session(s). Select a row to open its "
        f"details. Page {page} of {pages}: 'Sort by' orders all pages, a column header this "
        "page only."
    )
    key = f"history_table-{page}"  # a page's own selection
    st.dataframe(
        table.iloc[first:last],
        hide_index=True,
        column_config=COLUMNS,
        placeholder="",
        key=key,
        on_select=functools.partial(open_details, key, ids[first:last]),
        selection_mode="single-row",
    )


def _table(
    snap: Snapshot,
    statuses: list[str],
    model_types: list[str],
    names: list[str],
    sort: frames.HistorySort,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The table as shown (typed cells; the ids kept apart, not sent to the browser) and the
    session id of each row."""
    frame = data.history_frame(
        snap.sessions.values(),
        statuses=statuses,
        model_types=model_types,
        datasets=names,
        sort=sort,
    )
    return frames.history_table(frame), tuple(frame["id"])
