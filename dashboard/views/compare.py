"""Compare: the curves of several chosen sessions overlaid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboard import charts, data
from dashboard.views import COMPARE, keep, restore
from mltrack_sdk.errors import MltrackError

if TYPE_CHECKING:
    from dashboard.store import LiveStore, Snapshot

COMPARE_KEY = "compare_sessions"
PICKER_LIMIT = 500


def chosen(snap: Snapshot) -> list[str]:
    """The sessions chosen for comparison (from the widget's state)."""
    return list(st.session_state.get(COMPARE_KEY) or [])


def render(store: LiveStore, snap: Snapshot) -> None:
    """Pickers, the overlaid chart and a table of the chosen sessions."""
    sessions = snap.sessions
    restore(COMPARE, COMPARE_KEY, [], sessions)
    restore(COMPARE, "compare_metric", allowed=data.METRIC_LABELS)
    options = [sid for sid, s in sessions.items() if s.epochs_completed > 0][:PICKER_LIMIT]
    options += [sid for sid in chosen(snap) if sid not in options]
    left, right = st.columns([3, 1])
    picked = left.multiselect(
        "Sessions",
        options,
        format_func=lambda sid: data.session_label(sessions[sid]) if sid in sessions else sid,
        key=COMPARE_KEY,
        max_selections=10,
        placeholder="Choose sessions to overlay",
    )
    metric = right.selectbox(
        "Metric", list(data.METRIC_LABELS), format_func=data.METRIC_LABELS.get, key="compare_metric"
    )
    keep(COMPARE_KEY, "compare_metric")
    if not picked:
        st.info("Choose two or more sessions to overlay their curves.")
        return
    metrics = {}
    for sid in picked:
        try:
            metrics[sid] = store.detail(sid).metrics
        except MltrackError as exc:
            st.error(f"Cannot read session {sid} now: {exc.message}")
    labels = {sid: data.session_label(sessions[sid]) for sid in metrics if sid in sessions}
    frame = data.compare_frame(metrics, metric, labels)
    title = data.METRIC_LABELS[metric]
    st.altair_chart(
        charts.line_chart(frame, color="session", title=title, y_title=title, height=340),
        width="stretch",
    )
    st.dataframe(
        [
            {
                "session": s.session_name,
                "status": s.status,
                "model": s.model_type,
                "dataset": s.dataset_name,
                "epochs": s.epochs_completed,
                "best mAP50-95": s.best_map50_95,
                "final mAP50-95": s.final_map50_95,
                "duration": data.format_duration(s.duration_seconds),
            }
            for sid in picked
            if (s := sessions.get(sid)) is not None
        ],
        hide_index=True,
    )
