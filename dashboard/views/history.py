"""Training History: ended sessions, sorted and filtered as a whole, shown a page at a time; a
selected row opens its details."""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import streamlit as st

from dashboard import data, frames
from dashboard.views import HISTORY, keep, open_details, restore

if TYPE_CHECKING:
    import pandas as pd

    from dashboard.store import LiveStore, Snapshot

#: Rows on one page of the table.
PAGE_ROWS = 100
PAGE_KEY = "history_page"

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
    """A filter or the order changed: back to page 1. Only the widget's state is set, not the
    kept value: a late watcher run (see :func:`restore`) can fire this while History is not
    drawn, and the page kept must then win when History comes back."""
    st.session_state[PAGE_KEY] = 1


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
    restore(HISTORY, "history_status", list(data.TERMINAL), data.TERMINAL)
    restore(HISTORY, "history_model", [], models)
    restore(HISTORY, "history_dataset", [], datasets)
    restore(HISTORY, "history_sort", "newest")
    restore(HISTORY, PAGE_KEY, 1)
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
    keep("history_status", "history_model", "history_dataset", "history_sort")
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
    keep(PAGE_KEY)
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
