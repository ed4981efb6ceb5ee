"""The write policies of the rows that belong to a session (epochs, validation results,
benchmarks) let a signed-in user write only rows of the sessions they own, directly in the
tables: insert, update, delete, and never move a row into another user's session. Migration
20261203180001 states these policies as a lookup of the session in the query instead of a call
of owns_session() per row; these are the rules they must keep."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from .api import Conn, Row

StartFn = Callable[..., Row]

#: table -> (columns of a new row after session_id, their values, a column to update, its value)
TABLES: dict[str, tuple[str, tuple[Any, ...], str, Any]] = {
    "training_metrics": ("epoch, map50", (1, 0.5), "map50", 0.7),
    "validation_results": ("class_name, map50", ("cat", 0.5), "map50", 0.7),
    "model_benchmarks": ("avg_inference_ms", (4.0,), "fps", 100.0),
}


@pytest.fixture
def sessions(conn: Conn, start: StartFn) -> dict[str, Any]:
    """Two users, each with a session: a (the owner of the rows here) and b."""
    users = {name: str(uuid.uuid4()) for name in ("a", "b")}
    for user in users.values():
        conn.execute("insert into auth.users (id) values (%s)", (user,))
    found = {name: start(owner_id=user)["id"] for name, user in users.items()}
    return {"users": users, "sessions": found}


def _write(
    conn: Conn, as_role: Callable[..., Any], user: str, statement: str, params: tuple[Any, ...]
) -> int:
    with as_role(conn, "authenticated", sub=user) as c:
        return c.execute(statement, params).rowcount


@pytest.mark.parametrize("table", sorted(TABLES))
def test_the_owner_writes_only_rows_of_own_sessions(
    conn: Conn, as_role: Callable[..., Any], sessions: dict[str, Any], table: str
) -> None:
    columns, values, column, new_value = TABLES[table]
    a, b = sessions["users"]["a"], sessions["users"]["b"]
    mine, theirs = sessions["sessions"]["a"], sessions["sessions"]["b"]
    marks = ", ".join(["%s"] * (len(values) + 1))
    insert = f"insert into public.{table} (session_id, {columns}) values ({marks})"

    assert _write(conn, as_role, a, insert, (mine, *values)) == 1
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        _write(conn, as_role, a, insert, (theirs, *values))

    update = f"update public.{table} set {column} = %s where session_id = %s"
    assert _write(conn, as_role, b, update, (new_value, mine)) == 0  # not b's rows
    assert _write(conn, as_role, a, update, (new_value, mine)) == 1
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        _write(
            conn,
            as_role,
            a,
            f"update public.{table} set session_id = %s where session_id = %s",
            (theirs, mine),
        )

    delete = f"delete from public.{table} where session_id = %s"
    assert _write(conn, as_role, b, delete, (mine,)) == 0
    assert conn.execute(f"select count(*) as n from public.{table}").fetchone() == {"n": 1}
    assert _write(conn, as_role, a, delete, (mine,)) == 1
    assert conn.execute(f"select count(*) as n from public.{table}").fetchone() == {"n": 0}
