"""Helpers for the SQL API tests: call a function the way the SDK does, snapshot the tables.

``call(conn, "start_session", session_name="r", ...)`` runs
``select * from "start_session"("session_name" => %(session_name)s, ...)``: named arguments only,
so a test breaks when a parameter is renamed, exactly as the SDK would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

Row = dict[str, Any]
Conn = psycopg.Connection[Any]

#: Every table of the schema, for "nothing was written" snapshots.
TABLES = (
    "training_sessions",
    "training_metrics",
    "validation_results",
    "model_benchmarks",
    "training_datasets",
    "hyperparameter_runs",
)


def _adapt(value: Any) -> Any:
    """dicts and lists of dicts travel as jsonb; other JSON must be wrapped in Jsonb by the test."""
    if isinstance(value, dict) or (
        isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
    ):
        return Jsonb(value)
    return value


def call(conn: Conn, fn: str, **args: Any) -> list[Row]:
    """Call SQL API function ``fn`` with named arguments; return all result rows as dicts."""
    named = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in args
    )
    query = sql.SQL("select * from {}({})").format(sql.Identifier(fn), named)
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    try:
        return cur.execute(query, {k: _adapt(v) for k, v in args.items()}).fetchall()
    finally:
        cur.close()


def call_one(conn: Conn, fn: str, **args: Any) -> Row:
    """Call ``fn`` and return its single row."""
    rows = call(conn, fn, **args)
    assert len(rows) == 1, rows
    return rows[0]


def scalar(conn: Conn, fn: str, **args: Any) -> Any:
    """Call a function that returns a scalar (log_epochs, heartbeat, ...) and return the value."""
    row = call_one(conn, fn, **args)
    assert list(row) == [fn], row
    return row[fn]


def query(conn: Conn, text: str | sql.Composed, params: Any = None) -> list[Row]:
    """Run a plain query (as whatever role ``conn`` currently has) and return dict rows."""
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    try:
        return cur.execute(text, params).fetchall()
    finally:
        cur.close()


def snapshot(conn: Conn) -> dict[str, list[str]]:
    """Every row of every table as text (read as superuser, so RLS hides nothing)."""
    result: dict[str, list[str]] = {}
    for table in TABLES:
        stmt = sql.SQL("select t::text as r from public.{} t order by 1").format(
            sql.Identifier(table)
        )
        result[table] = [r["r"] for r in query(conn, stmt)]
    return result


def session_row(conn: Conn, session_id: Any) -> Row:
    """The training_sessions row of ``session_id``."""
    rows = query(conn, "select * from training_sessions where id = %s", (session_id,))
    assert len(rows) == 1, rows
    return rows[0]


def metrics_rows(conn: Conn, session_id: Any) -> list[Row]:
    """The training_metrics rows of a session by epoch, without the write timestamp."""
    rows = query(
        conn, "select * from training_metrics where session_id = %s order by epoch", (session_id,)
    )
    for row in rows:
        del row["recorded_at"]
    return rows


def db_now(conn: Conn) -> Any:
    """The database's clock_timestamp()."""
    return query(conn, "select clock_timestamp() as t")[0]["t"]


def only(row: Row, keys: Iterable[str]) -> Row:
    """``row`` restricted to ``keys`` (pass the expected dict to compare just its keys)."""
    return {k: row[k] for k in keys}


def pick(row: Row, *keys: str) -> tuple[Any, ...]:
    """The values of ``keys`` in ``row``, as a tuple."""
    return tuple(row[k] for k in keys)


def log_epochs(conn: Conn, session_id: Any, rows: list[dict[str, Any]]) -> int:
    """log_epochs(session_id, metrics) -> the number of rows written."""
    return int(scalar(conn, "log_epochs", session_id=session_id, metrics=rows))


class Listener:
    """A connection of its own that LISTENs on mltrack_changes and returns decoded payloads."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute("listen mltrack_changes")

    def take(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Exactly the next ``n`` notifications (fails on a timeout), then checks none follow."""
        got = [
            json.loads(note.payload)
            for note in self.conn.notifies(timeout=timeout, stop_after=n)
            if note.channel == "mltrack_changes"
        ]
        assert len(got) == n, got
        extra = [json.loads(note.payload) for note in self.conn.notifies(timeout=0.05)]
        assert extra == [], extra
        return got

    def close(self) -> None:
        self.conn.close()
