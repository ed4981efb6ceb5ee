"""The live store: one change feed, re-reading only what a change names, catching up after a
reconnect. Real database, real feed, runs written through the SDK."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from dashboard.store import RECENT_EPOCHS, LiveStore
from mltrack_sdk.client import Client
from mltrack_sdk.live import Change, ChangeFeed, change_feed
from mltrack_sdk.live_postgres import PostgresSource
from tests.dashboard.support import log_epoch, log_run, no_ambient_config, wait_for

__all__ = ["no_ambient_config"]  # an autouse fixture


class RecordingClient(Client):
    """A real Client that also records which reads it made (name, keyword arguments)."""

    def __init__(self, url: str) -> None:
        super().__init__(database_url=url)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def sessions(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("sessions", kwargs))
        return super().sessions(*args, **kwargs)

    def metrics(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("metrics", kwargs))
        return super().metrics(*args, **kwargs)

    def active_sessions(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("active_sessions", kwargs))
        return super().active_sessions(*args, **kwargs)


@pytest.fixture
def make_store() -> Iterator[Callable[..., LiveStore]]:
    """``make_store(url, client=None) -> LiveStore`` with a fast-reconnecting feed; closed after."""
    stores: list[LiveStore] = []

    def make(url: str, client: Client | None = None) -> LiveStore:
        store = LiveStore(
            client or Client(database_url=url),
            lambda: change_feed(url, backoff_initial=0.2, backoff_max=1.0),
            offline_after=1.0,
            retry_max=1.0,
        )
        stores.append(store)
        assert store.wait_synced(15)
        return store

    yield make
    for store in stores:
        store.close()


def test_epochs_status_and_ranking_arrive_through_the_feed(
    direct_db_url: str, make_store: Callable[..., LiveStore]
) -> None:
    log_run(direct_db_url, "ranked first", quality=0.6)
    store = make_store(direct_db_url)
    assert [e.session_name for e in store.snapshot.leaderboard] == ["ranked first"]

    run = log_run(direct_db_url, "climber", epochs=8, logged=2, status=None, quality=0.9)
    sid = str(run.id)
    wait_for(lambda: sid in store.snapshot.active, what="the new running session")
    log_epoch(run, 2, 8, 0.9)
    run.flush()
    wait_for(lambda: store.snapshot.active[sid][0].latest_epoch == 2, what="epoch 2")
    assert [m.epoch for m in store.snapshot.recent_metrics[sid]] == [0, 1, 2]
    assert store.snapshot.sessions[sid].epochs_completed == 3
    history = store.snapshot.version("history")

    for epoch in range(3, 8):
        log_epoch(run, epoch, 8, 0.9)
    run.finish("completed")
    wait_for(lambda: store.snapshot.sessions[sid].status == "completed", what="completion")
    wait_for(lambda: sid not in store.snapshot.active, what="the card to go")
    # The leaderboard re-ranked: the new, better model is first.
    assert [e.session_name for e in store.snapshot.leaderboard] == ["climber", "ranked first"]
    assert store.snapshot.version("history") > history
    assert store.snapshot.state == "live"


def test_a_change_rereads_only_what_it_names(
    direct_db_url: str, make_store: Callable[..., LiveStore]
) -> None:
    for i in range(5):
        log_run(direct_db_url, f"old {i}")
    run = log_run(direct_db_url, "live", epochs=50, logged=40, status=None)
    client = RecordingClient(direct_db_url)
    store = make_store(direct_db_url, client)
    sid = str(run.id)
    # The card keeps the latest epochs only.
    assert [m.epoch for m in store.snapshot.recent_metrics[sid]] == list(
        range(40 - RECENT_EPOCHS, 40)
    )
    client.calls.clear()
    log_epoch(run, 40, 50, 0.5)
    run.flush()
    wait_for(lambda: store.snapshot.active[sid][0].latest_epoch == 40, what="epoch 40")
    wait_for(lambda: store.snapshot.recent_metrics[sid][-1].epoch == 40, what="the new epoch row")
    reads = client.calls
    # Never everything again: the session by id, its row of the view, and the new epoch only.
    assert ("sessions", {"limit": None}) not in reads
    assert all(
        kwargs.get("ids") == [sid] or kwargs.get("ids") == {sid}
        for name, kwargs in reads
        if name != "metrics"
    )
    epochs = [list(kwargs["epochs"]) for name, kwargs in reads if name == "metrics"]
    assert epochs and all(e == [40] for e in epochs)
    run.finish("completed")


def test_after_a_reconnect_it_reads_again_and_says_what_changed(
    direct_db_url: str, make_store: Callable[..., LiveStore], conn: psycopg.Connection[Any]
) -> None:
    run = log_run(direct_db_url, "through the outage", epochs=6, logged=2, status=None)
    store = make_store(direct_db_url)
    dbname = conn.info.dbname
    admin = psycopg.connect(conn.info.dsn, dbname="postgres", autocommit=True)
    # The feed's connection drops and cannot come back while the run goes on (its own
    # connection stays): what it writes now, no notification reaches the dashboard.
    admin.execute(f'alter database "{dbname}" allow_connections false')
    try:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where application_name = 'mltrack-live' and datname = current_database()"
        )
        wait_for(lambda: store.snapshot.state in ("reconnecting", "offline"), what="the drop")
        for epoch in range(2, 6):
            log_epoch(run, epoch, 6, 0.5)
        run.finish("completed")
    finally:
        admin.execute(f'alter database "{dbname}" allow_connections true')
        admin.close()
    wait_for(lambda: store.snapshot.state == "live", timeout=15, what="the reconnect")
    wait_for(lambda: store.snapshot.sessions[str(run.id)].status == "completed", what="catch-up")
    notes = store.snapshot.away_notes
    assert "through the outage: 4 epoch(s) logged (6/6)" in notes
    assert "through the outage: running → completed" in notes
    assert store.snapshot.reconnected_at is not None
    assert str(run.id) not in store.snapshot.active
    assert store.snapshot.leaderboard[0].session_name == "through the outage"


def test_details_are_read_once_then_kept_current(
    direct_db_url: str, make_store: Callable[..., LiveStore]
) -> None:
    run = log_run(direct_db_url, "opened", epochs=5, logged=2, status=None)
    client = RecordingClient(direct_db_url)
    store = make_store(direct_db_url, client)
    sid = str(run.id)
    assert [m.epoch for m in store.detail(sid).metrics] == [0, 1]
    client.calls.clear()
    assert store.detail(sid).session.session_name == "opened"
    assert client.calls == []  # the second look reads nothing
    log_epoch(run, 2, 5, 0.5)
    run.flush()
    wait_for(lambda: [m.epoch for m in store.detail(sid).metrics] == [0, 1, 2], what="epoch 2")
    assert ("sessions", {"limit": None}) not in client.calls
    run.finish("completed")
    wait_for(lambda: store.detail(sid).session.status == "completed", what="completion")


class HeldBack:
    """The real :class:`PostgresSource`, with the changes of one ``table`` held back until
    :meth:`release`: the orders a store meets when one change of a batch of epochs (the
    epochs', or the session's they moved) reaches it in a later batch than the other, or when a
    session change made by something else (a heartbeat) is read after the epochs committed."""

    def __init__(self, url: str, table: str) -> None:
        self.inner = PostgresSource(url, backoff_initial=0.2, backoff_max=1.0)
        self.table = table
        self.held: list[Change] = []
        self.holding = True
        self._emit: Callable[[Change], None] | None = None
        self._lock = threading.Lock()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self.inner.wait_ready(timeout)

    def run(self, emit: Callable[[Change], None], stop: threading.Event) -> None:
        def sieve(change: Change) -> None:
            with self._lock:
                if self.holding and change.table == self.table:
                    self.held.append(change)
                    return
            emit(change)

        self._emit = emit
        self.inner.run(sieve, stop)

    def release(self) -> None:
        with self._lock:
            self.holding = False
            held, self.held = self.held, []
        assert self._emit is not None
        for change in held:
            self._emit(change)


@pytest.mark.parametrize("late", ["training_metrics", "training_sessions"])
def test_a_card_never_runs_ahead_of_its_recent_epochs(direct_db_url: str, late: str) -> None:
    """The card's latest epoch and its recent epochs come from one snapshot, and an open
    detail's session and its epochs agree, whichever change of an epoch comes first: when the
    session is read with an epoch the feed has not delivered yet, the store reads that epoch
    too."""
    run = log_run(direct_db_url, "ahead", epochs=8, logged=2, status=None, quality=0.9)
    sid = str(run.id)
    source = HeldBack(direct_db_url, late)
    store = LiveStore(
        Client(database_url=direct_db_url),
        lambda: ChangeFeed(source),
        offline_after=1.0,
        retry_max=1.0,
    )
    try:
        assert store.wait_synced(15)
        assert [m.epoch for m in store.snapshot.recent_metrics[sid]] == [0, 1]
        assert [m.epoch for m in store.detail(sid).metrics] == [0, 1]
        log_epoch(run, 2, 8, 0.9)
        run.flush()
        wait_for(lambda: store.snapshot.active[sid][0].latest_epoch == 2, what="epoch 2")
        assert source.held, f"the change of {late} was held back"
        snap = store.snapshot
        assert snap.active[sid][0].latest_epoch == 2
        assert [m.epoch for m in snap.recent_metrics[sid]] == [0, 1, 2]
        detail = store.detail(sid)
        assert detail.session.current_epoch == 2
        assert [m.epoch for m in detail.metrics] == [0, 1, 2]
        # The late change then adds nothing twice.
        source.release()
        log_epoch(run, 3, 8, 0.9)
        run.flush()
        wait_for(lambda: store.snapshot.active[sid][0].latest_epoch == 3, what="epoch 3")
        assert [m.epoch for m in store.snapshot.recent_metrics[sid]] == [0, 1, 2, 3]
    finally:
        store.close()
        run.finish("completed")
