"""The mltrack dashboard: ``mltrack dashboard`` (or ``streamlit run dashboard/app.py``).

Reads the database the SDK's configuration names (``$MLTRACK_DATABASE_URL``, ``$SUPABASE_URL``
+ ``$SUPABASE_KEY``, or ``mltrack up``'s) through one live store per server process (one change feed
for every browser tab). The page is drawn from that store, never querying the database on a
timer, and only the open tab is drawn. A small watcher checks twice a second whether what the page
shows moved in the store (the versions of the scopes the open tab reads) and only then draws the
page again: an idle page costs next to nothing.

Links: ``?tab=Leaderboard`` (a tab's label or its short name) opens that tab, ``?session=<id>``
opens a session's details; the URL follows the tab and the session chosen.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Hashable
from pathlib import Path

if __package__ in (None, ""):  # run as a script (streamlit run): the repository root first
    _root = str(Path(__file__).resolve().parent.parent)
    if _root not in sys.path:
        sys.path.insert(0, _root)

import streamlit as st

from dashboard import data
from dashboard.store import LiveStore, Snapshot
from dashboard.views import (
    ACTIVE,
    COMPARE,
    DETAILS,
    DETAILS_KEY,
    HISTORY,
    LEADERBOARD,
    SHOWN_KEY,
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
    put,
    sweeps,
)
from dashboard.views.compare import COMPARE_KEY
from mltrack_sdk.errors import MltrackError

#: Seconds between two looks of the watcher at the store (in-process: no database query).
REFRESH_SECONDS = 0.5
#: Query parameter of the session the details tab shows.
SESSION_PARAM = "session"
#: Session-state key of what the page last drew (see :func:`drawn`).
DRAWN_KEY = "_drawn"
_LINKED_KEY = "_links_followed"

VIEWS = {
    ACTIVE: active.render,
    HISTORY: history.render,
    LEADERBOARD: leaderboard.render,
    DETAILS: details.render,
    COMPARE: compare.render,
    SWEEPS: sweeps.render,
}
#: Short names a link may give for a tab (``?tab=Leaderboard``), besides the labels.
TAB_ALIASES = {
    "active": ACTIVE,
    "history": HISTORY,
    "leaderboard": LEADERBOARD,
    "details": DETAILS,
    "compare": COMPARE,
    "sweeps": SWEEPS,
}


def tab_of_link(value: str | None) -> str | None:
    """The tab a ``?tab=`` value names (a label or a short name, any case), or None."""
    if not value:
        return None
    wanted = value.strip().casefold()
    return next((t for t in TABS if t.casefold() == wanted), None) or TAB_ALIASES.get(wanted)


def follow_links() -> None:
    """On a page's first run: open the tab and the session its URL names. The tabs widget is
    bound to ``?tab=`` (labels); a short name is turned into the label here."""
    if st.session_state.get(_LINKED_KEY):
        return
    st.session_state[_LINKED_KEY] = True
    params = st.query_params
    tab = tab_of_link(params.get(TAB_KEY))
    session = params.get(SESSION_PARAM)
    if session:
        put(DETAILS_KEY, session)
        tab = tab or DETAILS
    if tab:
        st.session_state[TAB_KEY] = tab


def open_tab() -> str:
    """The tab the user has open."""
    tab = st.session_state.get(TAB_KEY)
    return tab if tab in TABS else ACTIVE


def drawn(store: LiveStore, snap: Snapshot, tab: str) -> Hashable:
    """What the page shows depends on, for the open ``tab``: the page is drawn again when this
    moves. Cheap: versions of the store's scopes and a few values."""
    away = snap.reconnected_at is not None and time.time() - snap.reconnected_at < (
        header.AWAY_NOTE_SECONDS
    )
    cards = store.memo(
        "summary", snap.version("sessions"), lambda: data.summary_cards(snap.sessions.values())
    )
    page: tuple[Hashable, ...] = (snap.state, snap.error, snap.synced, away, snap.away_notes, cards)
    if tab == ACTIVE:
        # The cards' ages and ETA move on between changes.
        tick = int(time.monotonic() // active.AGE_SECONDS) if snap.active else 0
        return (*page, tab, snap.version("active"), tick)
    if tab == HISTORY:
        return (*page, tab, snap.version("history"))
    if tab == LEADERBOARD:
        return (*page, tab, snap.version("leaderboard"))
    if tab == DETAILS:
        chosen = st.session_state.get(DETAILS_KEY)
        one = snap.version(f"session:{chosen}") if chosen else 0
        return (*page, tab, len(snap.sessions), one, snap.version("datasets"))
    if tab == COMPARE:
        picked = tuple(st.session_state.get(COMPARE_KEY) or ())
        ones = tuple(snap.version(f"session:{sid}") for sid in picked)
        return (*page, tab, len(snap.sessions), ones)
    return (*page, tab, snap.version("runs"))


@st.fragment(run_every=REFRESH_SECONDS)
def watch(store: LiveStore) -> None:
    """Draws nothing: re-runs the page when what it shows moved in the store. (Only this
    fragment runs on a timer; it holds no element, so its runs never wipe what the page drew.)"""
    if drawn(store, store.snapshot, open_tab()) != st.session_state.get(DRAWN_KEY):
        st.rerun()


def page(store: LiveStore) -> None:
    """The page: connection state and summary cards, then the open tab."""
    st.title("📈 mltrack: training dashboard")
    snap = store.snapshot
    header.render(store, snap)
    if snap.synced and not snap.sessions:
        empty.render()
    elif snap.synced:
        tabs = st.tabs(TABS, key=TAB_KEY, on_change="rerun", bind="query-params")
        for label, container in zip(TABS, tabs, strict=True):
            if container.open:
                with container:
                    VIEWS[label](store, snap)
        chosen = st.session_state.get(DETAILS_KEY)
        if open_tab() == DETAILS and chosen:
            st.query_params[SESSION_PARAM] = chosen
        elif SESSION_PARAM in st.query_params:
            del st.query_params[SESSION_PARAM]
    st.session_state[DRAWN_KEY] = drawn(store, snap, open_tab())
    st.session_state[SHOWN_KEY] = open_tab() if snap.synced and snap.sessions else None


def main() -> None:
    st.set_page_config(page_title="mltrack", page_icon="📈", layout="wide")
    try:
        from dashboard.runtime import get_store

        store = get_store()
    except MltrackError as exc:
        st.error(f"No database to show: {exc.message}")
        st.stop()
    follow_links()
    page(store)
    watch(store)


main()
