"""Active Training: a card per running session, drawn from the live store (ages and ETA move
on between changes without a query)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import streamlit as st

from dashboard import charts, data
from mltrack_sdk.errors import MltrackError

if TYPE_CHECKING:
    from dashboard.store import LiveStore, Snapshot
    from mltrack_sdk.models import EpochMetrics

#: Seconds between re-draws of the cards when nothing changed (their ages and ETA move on).
AGE_SECONDS = 5.0


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def card(store: LiveStore, c: data.ActiveCard, recent: tuple[EpochMetrics, ...]) -> None:
    """One running session's card."""
    with st.container(border=True, key=f"active-{c.session_id}"):
        head, button = st.columns([5, 1])
        head.markdown(
            f"**{c.name}**  \n{c.model_type or '-'} · {c.dataset_name or '-'}"
            f" · `{c.session_id[:8]}`"
        )
        stop = button.button(
            "Stop requested" if c.stop_requested else "Stop",
            key=f"stop-{c.session_id}",
            disabled=c.stop_requested,
            help="Ends the run after its current epoch (cancelled).",
        )
        if stop:
            try:
                store.request_stop(c.session_id)
                st.toast(f"Stop requested: {c.name} ends after its current epoch.")
            except MltrackError as exc:
                st.error(f"Could not request the stop: {exc.message}")
        total = c.epochs or 0
        st.progress(
            c.progress,
            text=f"Epoch {c.epochs_completed}/{total or '?'} ({c.progress * 100:.0f}%)",
        )
        cols = st.columns(6)
        cols[0].metric("Current epoch", "-" if c.current_epoch is None else c.current_epoch)
        cols[1].metric("Loss", _fmt(c.loss))
        cols[2].metric("mAP50", _fmt(c.map50, 3))
        cols[3].metric("Elapsed", data.format_duration(c.elapsed_seconds))
        cols[4].metric("ETA", data.format_duration(c.eta_seconds))
        age = data.format_duration(c.heartbeat_age_seconds)
        cols[5].metric("Heartbeat", f"⚠️ {age} ago" if c.late else f"{age} ago")
        if c.late:
            st.warning(
                f"Heartbeat late: none for {age} (the SDK beats every 10 s). The process may"
                " be stuck or gone; the stale check marks it failed after 2 minutes."
            )
        if c.stop_requested:
            st.caption("Stop requested: the run ends after its current epoch.")
        scores = data.metrics_frame(recent, ["map50_95", "map50"])
        losses = data.metrics_frame(recent, ["total_loss"])
        if not (scores.empty and losses.empty):
            st.altair_chart(charts.mini_chart(scores, losses), width="stretch")


def render(store: LiveStore, snap: Snapshot) -> None:
    """Every running session's card, newest first."""
    if not snap.active:
        st.info(
            "No training is running now. Start one (`mltrack train`, `mltrack demo` or the SDK)"
            " and it appears here live."
        )
        return
    now = time.monotonic()
    for sid, (row, read_at) in snap.active.items():
        card(store, data.active_card(row, now - read_at), snap.recent_metrics.get(sid, ()))
