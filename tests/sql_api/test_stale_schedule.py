"""Scheduling the stale check after the migrations: one documented call, once pg_cron is on."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from mltrack_sdk.migrate import migrate
from mltrack_sdk.testing.postgres import DEBIAN_PG_BIN, TempPostgres, has_postgres

from .api import Conn


def test_without_pg_cron_it_says_how_to_enable_it(conn: Conn) -> None:
    with pytest.raises(psycopg.Error) as info:
        conn.execute("select schedule_stale_check()")
    assert info.value.sqlstate == "MT005"
    assert "pg_cron is not enabled" in str(info.value)
    assert "Database > Extensions" in (info.value.diag.message_hint or "")


def test_enabling_pg_cron_after_the_migrations_is_enough(tmp_path: Path) -> None:
    lib = Path("/usr/lib/postgresql/15/lib/pg_cron.so")
    if not (has_postgres(DEBIAN_PG_BIN) and lib.exists()):
        pytest.skip("needs Debian's postgresql-15-cron (make test installs it)")
    settings = {"shared_preload_libraries": "'pg_cron'", "cron.database_name": "'postgres'"}
    with TempPostgres(settings=settings) as pg:
        url = pg.url("postgres")
        migrate(url)
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("create extension pg_cron")
            job = c.execute("select schedule_stale_check(300)").fetchone()
            again = c.execute("select schedule_stale_check(300)").fetchone()
            jobs = c.execute("select jobname, schedule, command from cron.job").fetchall()
    assert job is not None and again is not None and job[0] == again[0]
    assert jobs == [
        ("mltrack-mark-stale-sessions", "* * * * *", "select public.mark_stale_sessions(300)")
    ]
