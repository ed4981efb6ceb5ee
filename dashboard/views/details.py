"""Session Details: one session chosen from a list (or opened from a table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboard import data
from dashboard.components import training_session_details
from dashboard.views import DETAILS, DETAILS_KEY, keep, restore

if TYPE_CHECKING:
    from dashboard.store import LiveStore, Snapshot

#: Sessions offered in the picker (newest first); one opened from a table is always offered.
PICKER_LIMIT = 500


def render(store: LiveStore, snap: Snapshot) -> None:
    """A picker and the chosen session's details."""
    restore(DETAILS, DETAILS_KEY)
    options = list(snap.sessions)[:PICKER_LIMIT]
    chosen = st.session_state.get(DETAILS_KEY)
    if chosen and chosen not in options:
        options.append(chosen)
    sessions = snap.sessions
    session_id = st.selectbox(
        "Session",
        options,
        index=None,
        format_func=lambda sid: data.session_label(sessions[sid]) if sid in sessions else sid,
        key=DETAILS_KEY,
        placeholder="Choose a session (or select a row in History or the Leaderboard)",
    )
    keep(DETAILS_KEY)
    if session_id:
        training_session_details(session_id, store=store)
