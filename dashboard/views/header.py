"""The top of every page: the connection state (live / reconnecting / offline), what changed
while the connection was away, and the summary cards."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

import streamlit as st

from dashboard import data

if TYPE_CHECKING:
    from dashboard.store import LiveStore, Snapshot

#: How long the "while the connection was away" note stays after a reconnect (seconds).
AWAY_NOTE_SECONDS = 120.0


def _as_of(snap: Snapshot) -> str:
    if snap.changed_at is None:
        return ""
    return f" Showing the data as of {datetime.fromtimestamp(snap.changed_at):%H:%M:%S}."


def connection(snap: Snapshot) -> None:
    """The connection state, always visible; an outage is a message, never a traceback."""
    with st.container(key="connection-state"):
        if snap.state == "live":
            st.markdown("🟢 **Live**: changes appear as they are written.")
        elif snap.state == "connecting":
            st.markdown("⚪ **Connecting** to the database…")
        elif snap.state == "reconnecting":
            st.warning(f"🟡 **Reconnecting** to the database…{_as_of(snap)}")
        else:
            st.error(
                f"🔴 **Offline**: cannot reach the database ({snap.error or 'no connection'})."
                f" The dashboard keeps trying and updates by itself when it is back.{_as_of(snap)}"
            )
    recent = snap.reconnected_at is not None and time.time() - snap.reconnected_at < (
        AWAY_NOTE_SECONDS
    )
    if snap.state == "live" and recent:
        assert snap.reconnected_at is not None
        at = f"{datetime.fromtimestamp(snap.reconnected_at):%H:%M:%S}"
        with st.container(key="away-notes"):
            if snap.away_notes:
                lines = "\n".join(f"- {line}" for line in snap.away_notes[:20])
                more = len(snap.away_notes) - 20
                extra = f"\n- … and {more} more" if more > 0 else ""
                st.info(f"Reconnected at {at}. While the connection was away:\n{lines}{extra}")
            else:
                st.info(f"Reconnected at {at}. Nothing changed while the connection was away.")


def summary(store: LiveStore, snap: Snapshot) -> None:
    """Active sessions, total sessions, best mAP50-95 achieved, completed runs."""
    cards = store.memo(
        "summary", snap.version("sessions"), lambda: data.summary_cards(snap.sessions.values())
    )
    best = "-" if cards.best_map50_95 is None else f"{cards.best_map50_95:.3f}"
    with st.container(key="summary-cards", horizontal=True):
        st.metric("Active sessions", cards.active, border=True)
        st.metric("Total sessions", cards.total, border=True)
        st.metric("Best mAP50-95", best, border=True)
        st.metric("Completed runs", cards.completed, border=True)


def render(store: LiveStore, snap: Snapshot) -> None:
    """Connection state, then the summary cards once something was read."""
    connection(snap)
    if snap.synced:
        summary(store, snap)
