"""Writing test data the way training machines do: through the SQL API functions."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

Row = dict[str, Any]


def call(conn: psycopg.Connection[Any], fn: str, **args: Any) -> Row:
    """``select * from fn(name => value, ...)``; dicts and lists of dicts travel as jsonb."""

    def adapt(value: Any) -> Any:
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            return Jsonb(value)
        return value

    named = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in args
    )
    query = sql.SQL("select * from {}({})").format(sql.Identifier(fn), named)
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    try:
        row = cur.execute(query, {k: adapt(v) for k, v in args.items()}).fetchone()
    finally:
        cur.close()
    assert row is not None
    return row


def start(conn: psycopg.Connection[Any], name: str, **args: Any) -> Row:
    """Start a running session ``name`` (yolov8n, 10 epochs unless given)."""
    return call(
        conn,
        "start_session",
        **{"session_name": name, "model_type": "yolov8n", "epochs": 10, **args},
    )


def epochs(conn: psycopg.Connection[Any], session_id: Any, *rows: Row) -> int:
    """Log a batch of epoch rows; returns the number written."""
    return int(call(conn, "log_epochs", session_id=session_id, metrics=list(rows))["log_epochs"])
