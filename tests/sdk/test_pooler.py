"""Behind a transaction pooler (Supabase's port 6543; PgBouncer in transaction mode here).

Each transaction may run on another server connection: prepared statements, LISTEN and session
advisory locks do not carry over. Reads failed after a few calls with ``prepared statement
"_pg3_0" already exists``. (``make test`` also runs the whole SDK suite through PgBouncer.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from conftest import PgServer, create_database, drop_database

import mltrack_sdk as mlt
from mltrack_sdk.errors import MltrackError
from mltrack_sdk.live import change_feed
from mltrack_sdk.migrate import migrate
from mltrack_sdk.testing.pgbouncer import PgBouncer, has_pgbouncer
from mltrack_sdk.transports.postgres import is_transaction_pooler


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def bouncer(pg_server: PgServer) -> Iterator[PgBouncer]:
    if not has_pgbouncer():
        pytest.skip("needs the pgbouncer package (make test installs it)")
    parts = urlsplit(pg_server.admin_url)
    if not parts.port:
        pytest.skip("needs a TCP test server")
    with PgBouncer(parts.hostname or "127.0.0.1", parts.port) as running:
        yield running


def test_reads_writes_and_migrate_through_a_transaction_pooler(
    pg_server: PgServer, bouncer: PgBouncer
) -> None:
    name = "pooled_fresh"
    create_database(pg_server, name)
    try:
        url = bouncer.url(name)
        # Concurrent migrators through the pooler: the lock is per transaction, so it holds.
        results: list[Any] = []
        threads = [threading.Thread(target=lambda: results.append(migrate(url))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        # Each file applied once, by whichever run held the lock for it.
        applied = [version for result in results for version in result]
        assert len(results) == 3 and sorted(applied) == sorted(set(applied))
        with psycopg.connect(pg_server.url(name)) as c:
            history = c.execute("select version from supabase_migrations.schema_migrations")
            assert sorted(r[0] for r in history.fetchall()) == sorted(applied)
        with mlt.start_session("pooled", model_type="m", epochs=20, database_url=url) as run:
            for epoch in range(20):
                run.log_epoch(epoch, map50_95=epoch / 40)
        clients = [mlt.Client(database_url=url) for _ in range(3)]
        try:
            for _ in range(10):  # more than psycopg's prepare threshold, interleaved
                for client in clients:
                    assert len(client.metrics(run.id)) == 20
                    assert client.session(run.id).session.status == "completed"
        finally:
            for client in clients:
                client.close()
    finally:
        drop_database(pg_server, name)


def test_live_feed_refuses_the_transaction_pooler_in_one_line() -> None:
    url = "postgresql://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"
    assert is_transaction_pooler(url)
    assert not is_transaction_pooler(url.replace(":6543", ":5432"))
    with change_feed(url) as feed, pytest.raises(MltrackError, match="transaction pooler"):
        feed.get(timeout=10)


def test_pooler_fixture_is_a_real_transaction_pooler(
    bouncer: PgBouncer, direct_db_url: str
) -> None:
    """The stand-in behaves as Supabase's: consecutive transactions of one client may run on
    different server connections (here: two clients, so the pool has two)."""
    url = bouncer.url(urlsplit(direct_db_url).path.lstrip("/"))
    with (
        psycopg.connect(url, autocommit=True, prepare_threshold=None) as a,
        psycopg.connect(url, autocommit=True, prepare_threshold=None) as b,
    ):
        with a.transaction(), b.transaction():
            pids = {
                a.execute("select pg_backend_pid()").fetchone(),
                b.execute("select pg_backend_pid()").fetchone(),
            }
        assert len(pids) == 2
        seen = {a.execute("select pg_backend_pid()").fetchone() for _ in range(20)}
        seen |= {b.execute("select pg_backend_pid()").fetchone() for _ in range(20)}
        assert seen <= pids
