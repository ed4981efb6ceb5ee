"""Owners are Supabase Auth users: owner_id references auth.users(id), and deleting a user keeps
their runs, datasets and searches, ownerless (as the service role writes them)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from .api import Conn, call, call_one

USER = uuid.UUID("cccccccc-0000-4000-8000-00000000000c")


def count(conn: Conn, text: str, *params: Any) -> Any:
    return conn.execute(text, params).fetchone()["count"]


def test_deleting_a_user_keeps_their_results_without_an_owner(conn: Conn, as_role: Any) -> None:
    with as_role(conn, "authenticated", sub=str(USER)):
        session = call_one(
            conn, "start_session", session_name="mine", model_type="yolov8n", epochs=2
        )
        call(conn, "log_epoch", session_id=session["id"], epoch=0, map50=0.4, map50_95=0.2)
        call(conn, "finish_session", session_id=session["id"])
        dataset = call_one(conn, "upsert_dataset", name="my data", class_names=["a"])
        search = call_one(conn, "create_hyperparameter_run", name="my search")
    assert session["owner_id"] == dataset["owner_id"] == search["owner_id"] == USER

    conn.execute("delete from auth.users where id = %s", (USER,))

    for table, row in (
        ("training_sessions", session),
        ("training_datasets", dataset),
        ("hyperparameter_runs", search),
    ):
        owners = conn.execute(f"select owner_id from public.{table} where id = %s", (row["id"],))
        assert owners.fetchall() == [{"owner_id": None}], table
    left = conn.execute(
        "select status, best_map50_95, (select count(*) from training_metrics m"
        " where m.session_id = s.id) as epochs from training_sessions s where id = %s",
        (session["id"],),
    ).fetchone()
    assert left == {"status": "completed", "best_map50_95": 0.2, "epochs": 1}
    # The former owner's token (still valid for up to an hour) can no longer change the run.
    with pytest.raises(psycopg.Error) as info, as_role(conn, "authenticated", sub=str(USER)):
        call(conn, "request_stop", session_id=session["id"])
    assert info.value.sqlstate in {"MT004", "MT006"}


def test_an_owner_must_be_a_user(conn: Conn) -> None:
    """A token whose user was deleted cannot create rows in its name."""
    claims = json.dumps({"role": "authenticated", "sub": str(USER)})  # not in auth.users
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as info, conn.transaction():
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute("set local role authenticated")
        call(conn, "start_session", session_name="ghost", model_type="yolov8n", epochs=2)
    assert "owner_id" in str(info.value)
    assert count(conn, "select count(*) from training_sessions") == 0


def test_the_owner_constraints_reference_auth_users(conn: Conn) -> None:
    rows = conn.execute(
        "select conrelid::regclass::text as tbl, confdeltype from pg_constraint"
        " where contype = 'f' and confrelid = 'auth.users'::regclass order by 1"
    ).fetchall()
    assert rows == [
        {"tbl": "hyperparameter_runs", "confdeltype": "n"},
        {"tbl": "training_datasets", "confdeltype": "n"},
        {"tbl": "training_sessions", "confdeltype": "n"},
    ]
