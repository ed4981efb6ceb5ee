"""The mltrack dashboard: ``mltrack dashboard`` (or ``streamlit run dashboard/app.py``).

Reads the database the SDK's configuration names (``$MLTRACK_DATABASE_URL``, ``$SUPABASE_URL``
+ ``$SUPABASE_KEY``, or ``mltrack up``'s) through one live store per server process (one change feed
for every browser tab). The page re-draws from that store, never querying the database on a
timer; only the open tab is drawn.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (streamlit run): the repository root first
    _root = str(Path(__file__).resolve().parent.parent)
    if _root not in sys.path:
        sys.path.insert(0, _root)

import streamlit as st

from dashboard.store import LiveStore
from dashboard.views import (
    ACTIVE,
    COMPARE,
    DETAILS,
    HISTORY,
    LEADERBOARD,
    SWEEPS,
    TAB_KEY,
    TABS,
    active,
    compare,
    details,
    empty,
    header,
    history,
    leaderboard,
    sweeps,
)
from mltrack_sdk.errors import MltrackError

#: Seconds between re-draws of the page from the live store (in-process: no database query).
REFRESH_SECONDS = 0.5

VIEWS = {
    ACTIVE: active.render,
    HISTORY: history.render,
    LEADERBOARD: leaderboard.render,
    DETAILS: details.render,
    COMPARE: compare.render,
    SWEEPS: sweeps.render,
}


@st.fragment(run_every=REFRESH_SECONDS)
def page(store: LiveStore) -> None:
    """The whole page, re-drawn from the store every tick and on every interaction. One
    fragment holds everything, so its runs never overlap a whole-app run (in Streamlit 1.67
    a fragment run that starts as an app run ends can wipe what the app run drew)."""
    st.title("📈 mltrack: training dashboard")
    snap = store.snapshot
    header.render(store, snap)
    if not snap.synced:
        return
    if not snap.sessions:
        empty.render()
        return
    tabs = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
    for label, container in zip(TABS, tabs, strict=True):
        if container.open:
            with container:
                VIEWS[label](store, snap)


def main() -> None:
    st.set_page_config(page_title="mltrack", page_icon="📈", layout="wide")
    try:
        from dashboard.runtime import get_store

        store = get_store()
    except MltrackError as exc:
        st.error(f"No database to show: {exc.message}")
        st.stop()
    page(store)


main()
