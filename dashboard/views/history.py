"""Training History: ended sessions, sortable and filterable; a selected row opens its
details."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import streamlit as st

from dashboard import data, frames
from dashboard.views import open_details

if TYPE_CHECKING:
    import pandas as pd

    from dashboard.store import LiveStore, Snapshot


def render(store: LiveStore, snap: Snapshot) -> None:
    """Filters, sort order and the table."""
    models, datasets = store.memo(
        "history-options",
        snap.version("history"),
        lambda: (
            sorted({s.model_type for s in snap.sessions.values() if s.model_type}),
            sorted({s.dataset_name for s in snap.sessions.values() if s.dataset_name}),
        ),
    )
    cols = st.columns(4)
    statuses = cols[0].multiselect(
        "Status", data.TERMINAL, default=list(data.TERMINAL), key="history_status"
    )
    model_types = cols[1].multiselect("Model type", models, key="history_model")
    names = cols[2].multiselect("Dataset", datasets, key="history_dataset")
    sort = cols[3].selectbox(
        "Sort by", list(data.HISTORY_SORTS), format_func=data.HISTORY_SORTS.get, key="history_sort"
    )
    wanted = (tuple(statuses), tuple(model_types), tuple(names), sort)
    table, ids = store.memo(
        ("history", wanted),
        snap.version("history"),
        lambda: _table(snap, statuses, model_types, names, sort),
    )
    if table.empty:
        st.info("No ended session matches (completed, failed and cancelled runs are listed here).")
        return
    st.caption(f"{len(table)} session(s). Select a row to open its details.")
    st.dataframe(
        table,
        hide_index=True,
        key="history_table",
        on_select=functools.partial(open_details, "history_table", ids),
        selection_mode="single-row",
    )


def _table(
    snap: Snapshot,
    statuses: list[str],
    model_types: list[str],
    names: list[str],
    sort: frames.HistorySort,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The table as shown (text cells; the ids kept apart, not sent to the browser) and the
    session id of each row."""
    frame = data.history_frame(
        snap.sessions.values(),
        statuses=statuses,
        model_types=model_types,
        datasets=names,
        sort=sort,
    )
    return frames.history_table(frame).drop(columns="id"), tuple(frame["id"])
