"""Streamlit components to put in an app of your own (the seed's ``<TrainingMetricsChart>``,
``<ModelLeaderboard>``, ``<TrainingSessionDetails>``). Each reads the process' live store
(:func:`dashboard.runtime.get_store`) unless given one, so a page that shows them stays current
through the one change feed::

    import streamlit as st
    from dashboard.components import model_leaderboard, training_metrics_chart

    model_leaderboard()
    training_metrics_chart(st.text_input("session id"))
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

from dashboard import charts, data
from mltrack_sdk.errors import InvalidValueError, MltrackError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from dashboard.store import LiveStore
    from mltrack_sdk.models import SessionDetail

STATUS_ICONS = {
    "pending": "⏳",
    "running": "🔄",
    "completed": "✅",
    "failed": "❌",
    "cancelled": "⏹️",
}


def _store(store: LiveStore | None) -> LiveStore:
    if store is not None:
        return store
    from dashboard.runtime import get_store

    return get_store()


def _detail(store: LiveStore, session_id: str) -> SessionDetail | None:
    """The session's details, or a message in the page (never a traceback) and None."""
    try:
        return store.detail(session_id)
    except (NotFoundError, InvalidValueError) as exc:
        st.warning(f"No such session: {exc.message}")
    except MltrackError as exc:
        st.error(f"Cannot read session {session_id} now: {exc.message}")
    return None


def training_metrics_chart(session_id: str, *, store: LiveStore | None = None) -> None:
    """Loss curves (box, cls, dfl, total; train and validation), mAP50 and mAP50-95,
    precision and recall, and the learning rate of one session, by epoch.

    Example::

        training_metrics_chart("6f1c0a2e-...")
    """
    detail = _detail(_store(store), str(session_id))
    if detail is None:
        return
    metrics = detail.metrics
    if not metrics:
        st.info("No epochs logged yet.")
        return
    left, right = st.columns(2)
    left.altair_chart(charts.loss_chart(data.loss_frame(metrics)), width="stretch")
    right.altair_chart(
        charts.line_chart(
            data.metrics_frame(metrics, ["map50", "map50_95"]), title="mAP", y_title="mAP"
        ),
        width="stretch",
    )
    left, right = st.columns(2)
    left.altair_chart(
        charts.line_chart(
            data.metrics_frame(metrics, ["precision", "recall"]), title="Precision and recall"
        ),
        width="stretch",
    )
    right.altair_chart(
        charts.line_chart(data.metrics_frame(metrics, ["learning_rate"]), title="Learning rate"),
        width="stretch",
    )


def _number_columns(frame: pd.DataFrame, digits: dict[str, str]) -> dict[str, object]:
    return {
        column: st.column_config.NumberColumn(column, format=fmt)
        for column, fmt in digits.items()
        if column in frame
    }


def model_leaderboard(
    *,
    limit: int = 50,
    store: LiveStore | None = None,
    on_select: Callable[[str], None] | None = None,
    key: str = "leaderboard_table",
) -> None:
    """The top ``limit`` completed models by mAP50-95, trophies for the top three, precision,
    recall, inference speed (ms, FPS) and training duration; re-ranked live. ``on_select``
    is called (as a widget callback) with the session id of a row the user selects.

    Example::

        model_leaderboard(limit=10)
    """
    live = _store(store)
    snap = live.snapshot
    frame = live.memo(
        ("leaderboard", limit),
        snap.version("leaderboard"),
        lambda: data.leaderboard_frame(snap.leaderboard[:limit]),
    )
    if frame.empty:
        st.info("No completed model yet: the leaderboard ranks completed runs by mAP50-95.")
        return
    with st.container(key="podium", horizontal=True):
        for entry in snap.leaderboard[: min(3, limit)]:
            st.metric(
                f"{data.TROPHIES[entry.rank]} {entry.session_name or entry.id}",
                "-" if entry.final_map50_95 is None else f"{entry.final_map50_95:.4f}",
                help="mAP50-95 of the completed model",
                border=True,
            )
    config = _number_columns(
        frame,
        {
            # As the trophy cards and Training History show them: fractions, not percents.
            "mAP50-95": "%.4f",
            "mAP50": "%.4f",
            "precision": "%.3f",
            "recall": "%.3f",
            "inference ms": "%.2f",
            "FPS": "%.0f",
        },
    )
    config.update(id=None, training_s=None)
    st.dataframe(
        frame,
        hide_index=True,
        column_config=config,
        placeholder="",  # a run without a benchmark: blank, not "None"
        key=key,
        on_select=(
            functools.partial(_selected, key, tuple(frame["id"]), on_select)
            if on_select is not None
            else "ignore"
        ),
        selection_mode="single-row",
    )


def _selected(key: str, ids: tuple[str, ...], then: Callable[[str], None]) -> None:
    """The table's ``on_select`` callback: ``then(session id)`` of the selected row."""
    state = st.session_state.get(key)
    rows = state["selection"]["rows"] if state else []
    if rows and 0 <= rows[0] < len(ids):
        then(ids[rows[0]])


def training_session_details(
    session_id: str,
    *,
    store: LiveStore | None = None,
    on_close: Callable[[], None] | None = None,
) -> None:
    """Everything about one session: status (and the failure reason), summary, metric charts,
    configuration, hyperparameters, dataset, hardware, per-class validation and benchmarks.
    With ``on_close``, a Close button calls it.

    Example::

        training_session_details(session_id, on_close=lambda: st.session_state.pop("open"))
    """
    live = _store(store)
    detail = _detail(live, str(session_id))
    if detail is None:
        return
    s = detail.session
    title, close = st.columns([6, 1])
    title.subheader(f"{STATUS_ICONS.get(s.status, '')} {s.session_name or s.id}")
    if on_close is not None and close.button("Close", key=f"close-{s.id}"):
        on_close()
    st.caption(f"{s.status} · {s.model_type or '-'} · {s.dataset_name or '-'} · id {s.id}")
    if s.status in ("failed", "cancelled") and s.status_reason:
        st.error(f"{s.status.capitalize()}: {s.status_reason}")
    elif s.stop_requested and s.status == "running":
        st.warning(f"Stop requested: {s.status_reason or 'ends after the current epoch'}")
    cards = st.columns(6)
    best = s.final_map50_95 if s.final_map50_95 is not None else s.best_map50_95
    cards[0].metric("mAP50-95", _fmt(best))
    cards[1].metric("mAP50", _fmt(s.final_map50 if s.final_map50 is not None else s.best_map50))
    cards[2].metric("precision", _fmt(s.final_precision))
    cards[3].metric("recall", _fmt(s.final_recall))
    cards[4].metric("epochs", f"{s.epochs_completed}/{s.epochs or '?'}")
    cards[5].metric("duration", data.format_duration(s.duration_seconds))
    training_metrics_chart(str(s.id), store=live)

    left, right = st.columns(2)
    with left:
        st.markdown("**Configuration**")
        st.dataframe(
            {
                "setting": ["model", "dataset", "epochs", "batch size", "learning rate",
                            "image size", "best epoch", "model path"],
                "value": [str(v if v is not None else "-") for v in (
                    s.model_type, s.dataset_name, s.epochs, s.batch_size, s.learning_rate,
                    s.img_size, s.best_epoch, s.model_path)],
            },
            hide_index=True,
        )  # fmt: skip
        st.markdown("**Hyperparameters**")
        _settings(s.config, "No hyperparameters recorded.")
    with right:
        st.markdown("**Dataset**")
        dataset = next(
            (
                d
                for d in live.snapshot.datasets
                if (s.dataset_id and d.id == s.dataset_id) or d.name == s.dataset_name
            ),
            None,
        )
        if dataset is None:
            st.caption(f"{s.dataset_name or 'No dataset'} (not registered with upsert_dataset)")
        else:
            st.caption(
                f"{dataset.name}: {dataset.num_classes or len(dataset.class_names)} classes,"
                f" {dataset.train_size} train / {dataset.val_size} val / {dataset.test_size} test"
            )
            if dataset.class_names:
                st.caption("classes: " + ", ".join(dataset.class_names[:50]))
        st.markdown("**Hardware**")
        _settings(s.hardware_info, "No hardware recorded.")

    st.markdown("**Validation per class**")
    frame = data.validation_frame(detail.validation_results)
    if frame.empty:
        st.caption("No validation results recorded.")
    else:
        left, right = st.columns([3, 2])
        left.dataframe(frame, hide_index=True)
        right.altair_chart(charts.per_class_chart(frame), width="stretch")

    st.markdown("**Benchmarks**")
    if not detail.benchmarks:
        st.caption("No inference benchmark recorded.")
    else:
        st.dataframe(
            [
                {
                    "device": b.device_name or b.device,
                    "format": b.model_format,
                    "dtype": b.dtype,
                    "batch": b.batch_size,
                    "img size": b.img_size,
                    "avg ms": b.avg_inference_ms,
                    "p95 ms": b.p95_inference_ms,
                    "FPS": b.fps,
                    "runs": b.num_runs,
                }
                for b in detail.benchmarks
            ],
            hide_index=True,
            column_config={
                "avg ms": st.column_config.NumberColumn(format="%.2f"),
                "p95 ms": st.column_config.NumberColumn(format="%.2f"),
                "FPS": st.column_config.NumberColumn(format="%.1f"),
            },
        )
    if detail.session.hardware_info or detail.session.config:
        with st.expander("Raw session row"):
            st.code(json.dumps(s.model_dump(mode="json"), indent=2), language="json")


def _settings(values: dict[str, Any] | None, empty: str) -> None:
    """A mapping shown open (it used to be a folded ``{...}`` that hid every value)."""
    if values:
        st.json(values, expanded=True)
    else:
        st.caption(empty)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


__all__ = ["model_leaderboard", "training_metrics_chart", "training_session_details"]
