"""The one :class:`~dashboard.store.LiveStore` of this server process, for the SDK's
configuration (``$MLTRACK_DATABASE_URL``, ``$SUPABASE_URL`` + ``$SUPABASE_KEY``, or the database
of ``mltrack up``), kept in ``st.cache_resource``: every browser tab shares its change feed::

    from dashboard.runtime import get_store

    snapshot = get_store().snapshot
"""

from __future__ import annotations

import streamlit as st

from dashboard.store import LiveStore
from mltrack_sdk.connect import resolve_target

#: The longest wait between reconnection attempts of the feed (seconds).
FEED_BACKOFF_MAX = 5.0
#: How long the first page waits for the first read of the database (seconds).
FIRST_READ_WAIT = 5.0


def get_store() -> LiveStore:
    """The process' store for the configured database; raises
    :class:`~mltrack_sdk.errors.NotConfiguredError` when none is configured.

    Example::

        store = get_store()
        print(store.snapshot.state)
    """
    target = resolve_target()
    token = target.access_token if isinstance(target.access_token, str) else None
    return _store(target.database_url, target.supabase_url, target.supabase_key, token)


def _release(store: LiveStore) -> None:
    store.close()


@st.cache_resource(show_spinner=False, max_entries=8, on_release=_release)
def _store(
    database_url: str | None,
    supabase_url: str | None,
    supabase_key: str | None,
    access_token: str | None,
) -> LiveStore:
    from mltrack_sdk.client import Client
    from mltrack_sdk.live import change_feed

    settings = {"supabase_url": supabase_url, "supabase_key": supabase_key}
    if access_token:
        settings["access_token"] = access_token
    given = {k: v for k, v in settings.items() if v}
    client = Client(database_url=database_url, **given)

    def open_feed():  # type: ignore[no-untyped-def]
        return change_feed(database_url, backoff_max=FEED_BACKOFF_MAX, **given)

    store = LiveStore(client, open_feed)
    # The first page shows the data rather than "connecting" when the database answers soon.
    store.wait_synced(FIRST_READ_WAIT)
    return store


__all__ = ["FEED_BACKOFF_MAX", "get_store"]
