"""Shared part of the database benchmark: the throwaway server, the schema, logging.

``start_server()`` starts Debian's Postgres 15 (or ``--pg-bin``) through
``mltrack_sdk.testing.postgres`` with Postgres' default durability; only shared_buffers and
max_wal_size are raised. ``apply_schema(url)`` migrates a database.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/db_bench.py` from a checkout without install
    sys.path.insert(0, str(ROOT))

from mltrack_sdk.testing.postgres import DEBIAN_PG_BIN, TempPostgres, has_postgres  # noqa: E402

DEFAULT_PG_BIN = DEBIAN_PG_BIN
BENCH_DB = "mltrack_bench"
#: Raised for the load; fsync, synchronous_commit and full_page_writes stay at their defaults.
SERVER_SETTINGS = {"shared_buffers": "'1GB'", "max_wal_size": "'4GB'"}

Log = Callable[[str], None]


def print_flush(msg: str) -> None:
    print(msg, flush=True)


def start_server(bin_dir: Path = DEFAULT_PG_BIN, log: Log = print_flush) -> TempPostgres:
    """A private Postgres in a temp dir, listening on a Unix socket only."""
    if not has_postgres(bin_dir):
        raise SystemExit(
            f"no Postgres binaries in {bin_dir}: pass --pg-bin DIR or --database-url URL"
        )
    return TempPostgres(
        bin_dir, prefix="mltrack-bench-", settings=SERVER_SETTINGS, start_timeout=120, log=log
    )


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
        c.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


# =============================================================================== schema


def _apply_files(url: str) -> None:
    """Fallback: bootstrap.sql, then every migration file in order, each in one transaction."""
    migrations = sorted((ROOT / "supabase" / "migrations").glob("[0-9]*_*.sql"))
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute("select to_regclass('public.training_sessions') is not null").fetchone()
        if row and row[0]:
            return
        if c.execute("select to_regprocedure('auth.uid()') is null").fetchone()[0]:  # type: ignore[index]
            with c.transaction():
                c.execute((ROOT / "mltrack_sdk" / "sql" / "bootstrap.sql").read_bytes())
        for path in migrations:
            with c.transaction():
                # No parameters: psycopg uses the simple protocol, so a whole file runs at once.
                c.execute(path.read_bytes())


def apply_schema(url: str, log: Log = print_flush) -> str:
    """Migrate the database; return how (for the report)."""
    try:
        from mltrack_sdk.migrate import migrate
    except ImportError as exc:
        log(f"mltrack_sdk.migrate unavailable ({exc}); applying the SQL files directly")
        _apply_files(url)
        return "sql files"
    try:
        migrate(url)
    except Exception as exc:
        with psycopg.connect(url, autocommit=True) as c:
            row = c.execute("select to_regclass('public.training_sessions') is null").fetchone()
        if not (row and row[0]):
            raise  # a real failure half-way: do not apply anything twice
        log(f"mltrack_sdk.migrate.migrate failed ({exc}); applying the SQL files directly")
        _apply_files(url)
        return "sql files"
    return "mltrack_sdk.migrate"


def server_info(url: str) -> dict[str, Any]:
    names = (
        "server_version",
        "shared_buffers",
        "max_wal_size",
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "wal_level",
        "work_mem",
        "jit",
        "random_page_cost",
        "effective_cache_size",
    )
    with psycopg.connect(url, autocommit=True) as c:
        return {
            n: c.execute(sql.SQL("show {}").format(sql.Identifier(n))).fetchone()[0]  # type: ignore[index]
            for n in names
        }
