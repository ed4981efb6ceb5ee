"""Model Leaderboard: the top 50 completed models by mAP50-95, re-ranked live."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboard.components import model_leaderboard
from dashboard.views import show_details

if TYPE_CHECKING:
    from dashboard.store import LiveStore, Snapshot


def render(store: LiveStore, snap: Snapshot) -> None:
    """The leaderboard; a selected row opens its details."""
    st.caption(
        "Completed runs by mAP50-95 (ties: mAP50, then faster inference). Inference speed is"
        " the session's best benchmark. Select a row to open its details."
    )
    model_leaderboard(store=store, on_select=show_details)
