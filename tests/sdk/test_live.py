"""The live change feed over LISTEN/NOTIFY, on a real Postgres: changes, reconnects, catch-up."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from mltrack_sdk.errors import MltrackError
from mltrack_sdk.live import Change, ChangeFeed, FeedClosed, change_feed, parse_notification
from mltrack_sdk.migrate import migrate

from .data import call, epochs, start

Conn = psycopg.Connection[Any]


def wait_for(feed: ChangeFeed, match: Callable[[Change], bool], timeout: float = 10.0) -> Change:
    """The first change that ``match``es (others are skipped); fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    seen: list[Change] = []
    while (left := deadline - time.monotonic()) > 0:
        change = feed.get(timeout=left)
        if change is None:
            break
        if match(change):
            return change
        seen.append(change)
    pytest.fail(f"no matching change within {timeout}s; got {seen}")


def listeners(url: str) -> int:
    """Feed connections that have run their LISTEN (idle after a first statement)."""
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute(
            "select count(*) from pg_stat_activity where application_name = 'mltrack-live'"
            " and state = 'idle' and query <> '' and datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def wait_listening(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while listeners(url) == 0:
        assert time.monotonic() < deadline, "the feed did not start listening"
        time.sleep(0.05)


def test_session_and_metrics_changes_arrive_with_ids(conn: Conn, direct_db_url: str) -> None:
    with change_feed(direct_db_url) as feed:
        assert feed.wait_ready(10)
        s = start(conn, "live", epochs=5)
        sid = str(s["id"])
        inserted = wait_for(feed, lambda c: c.table == "training_sessions")
        assert inserted.operation == "INSERT"
        assert inserted.ids["id"] == sid and inserted.session_id == sid
        assert inserted.catch_up is False

        epochs(conn, s["id"], {"epoch": 0, "map50_95": 0.1}, {"epoch": 1}, {"epoch": 2})
        batch = wait_for(feed, lambda c: c.table == "training_metrics")
        assert batch.operation == "INSERT" and batch.session_id == sid
        assert (batch.ids["min_epoch"], batch.ids["max_epoch"], batch.ids["count"]) == (0, 2, 3)
        # The batch moved the session's summary on: one session UPDATE follows.
        summary = wait_for(feed, lambda c: c.table == "training_sessions")
        assert summary.operation == "UPDATE" and summary.session_id == sid

        # Rewriting an epoch is an UPDATE of the metrics.
        epochs(conn, s["id"], {"epoch": 1, "map50_95": 0.3})
        rewrite = wait_for(feed, lambda c: c.table == "training_metrics")
        assert rewrite.operation == "UPDATE" and rewrite.ids["max_epoch"] == 1

        call(conn, "finish_session", session_id=s["id"], status="completed")
        finished = wait_for(feed, lambda c: c.table == "training_sessions")
        assert finished.operation == "UPDATE" and finished.session_id == sid
    # Closed: what was queued can still be read, then iteration ends and get() says so.
    assert all(c.session_id == sid for c in feed)
    with pytest.raises(FeedClosed):
        feed.get(timeout=1)
    assert listeners(direct_db_url) == 0


def test_tables_filter_drops_other_tables(conn: Conn, direct_db_url: str) -> None:
    with change_feed(direct_db_url, tables={"training_metrics"}) as feed:
        wait_listening(direct_db_url)
        s = start(conn, "filtered")
        epochs(conn, s["id"], {"epoch": 0})
        first = wait_for(feed, lambda c: True)
        assert first.table == "training_metrics" and first.session_id == str(s["id"])
        assert feed.get(timeout=0.5) is None


def test_feed_reconnects_and_catches_up(pg_server_factory: Callable[[], Any]) -> None:
    server = pg_server_factory()
    url = server.admin_url
    migrate(url)

    # 1. The server goes away and comes back; nothing was written meanwhile. Live changes
    #    arrive again once the feed has reconnected by itself.
    fast: dict[str, Any] = {"backoff_initial": 0.1, "backoff_max": 0.5, "ping_interval": 0.5}
    with change_feed(url, **fast) as feed:
        wait_listening(url)
        server.stop()
        server.start()
        wait_listening(url)
        with psycopg.connect(url, autocommit=True) as c:
            s = start(c, "after restart")
        change = wait_for(feed, lambda c: c.table == "training_sessions")
        assert change.operation == "INSERT" and change.session_id == str(s["id"])
        assert change.catch_up is False

    # 2. A write lands while the feed is disconnected: the first reconnect is only tried after
    #    backoff_initial, well after the write. The feed reports it as a catch-up change.
    slow: dict[str, Any] = {
        "backoff_initial": 4.0,
        "ping_interval": 0.5,
        "catch_up_margin": timedelta(0),
    }
    with change_feed(url, **slow) as feed:
        wait_listening(url)
        server.stop()
        server.start()
        with psycopg.connect(url, autocommit=True) as c:
            missed = start(c, "while disconnected", epochs=3)
            epochs(c, missed["id"], {"epoch": 0}, {"epoch": 1})
        assert listeners(url) == 0, "the feed reconnected before the write (test precondition)"
        sid = str(missed["id"])
        session = wait_for(feed, lambda c: c.table == "training_sessions" and c.session_id == sid)
        assert session.catch_up is True and session.operation == "UPDATE"
        assert session.row is not None and session.row["session_name"] == "while disconnected"
        assert session.commit_time is not None
        metrics = wait_for(feed, lambda c: c.table == "training_metrics" and c.session_id == sid)
        assert metrics.catch_up is True
        assert (metrics.ids["min_epoch"], metrics.ids["max_epoch"]) == (0, 1)
        # The session written before the outage is older than the watermark: not repeated.
        assert feed.get(timeout=0.3) is None

        # And it is live again afterwards.
        with psycopg.connect(url, autocommit=True) as c:
            call(c, "finish_session", session_id=missed["id"], status="completed")
        done = wait_for(feed, lambda c: c.table == "training_sessions")
        assert done.catch_up is False and done.session_id == sid


def test_notification_parsing_skips_foreign_payloads() -> None:
    change = parse_notification(
        '{"table": "training_metrics", "op": "DELETE", "session_id": "s", "count": 2}'
    )
    assert change == Change(
        "training_metrics", "DELETE", ids={"session_id": "s", "count": 2}, row=None
    )
    assert parse_notification("not json") is None
    assert parse_notification('{"table": "x", "op": "TRUNCATE"}') is None
    assert parse_notification("[1, 2]") is None


def test_change_feed_needs_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLTRACK_DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLTRACK_HOME", "/nonexistent/mltrack-home")  # no `mltrack up` database
    with pytest.raises(MltrackError, match="no database configured"):
        change_feed()
    with pytest.raises(MltrackError, match="supabase_key"):
        change_feed(supabase_url="https://example.supabase.co")
    with pytest.raises(MltrackError, match="unknown tables: nope"):
        change_feed("postgresql://unused", tables={"nope"})


def test_source_error_reaches_the_reader() -> None:
    class Broken:
        def run(self, emit: Callable[[Change], None], stop: Any) -> None:
            emit(Change("training_sessions", "INSERT", ids={"id": "1"}))
            raise RuntimeError("source broke")

    with ChangeFeed(Broken()) as feed:
        assert feed.wait_ready(0) is False  # this source cannot tell
        assert feed.get(timeout=5) == Change("training_sessions", "INSERT", ids={"id": "1"})
        with pytest.raises(RuntimeError, match="source broke"):
            feed.get(timeout=5)
