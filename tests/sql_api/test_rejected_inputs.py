"""Every input the SQL API refuses: SQLSTATE, message, hint, diag column_name, and no writes.

Each case calls one function with one bad field (the other arguments are valid). The error must
carry the mltrack SQLSTATE, name the field in ``column_name``, start its message with the field
and the rule, give a hint - and leave every table exactly as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from .api import Conn, call, call_one, scalar, session_row, snapshot
from .rejected_cases import BASE, CASES, DONE, PENDING, RUNNING, Bad


def build_world(conn: Conn) -> dict[str, Any]:
    """Rows in every table, so a stray write anywhere shows up in the snapshot."""
    call_one(conn, "upsert_dataset", name="coco8", class_names=["person", "car"], train_size=8)
    run = call_one(conn, "create_hyperparameter_run", name="existing sweep")
    base = {"model_type": "yolov8n", "epochs": 10}
    running = call_one(
        conn,
        "start_session",
        session_name="running",
        dataset_name="coco8",
        hyperparameter_run_id=run["id"],
        **base,
    )
    scalar(
        conn,
        "log_epochs",
        session_id=running["id"],
        metrics=[{"epoch": 0, "precision": 0.5, "map50": 0.4, "map50_95": 0.3, "total_loss": 2.0}],
    )
    scalar(
        conn,
        "record_validation",
        session_id=running["id"],
        results=[{"class_name": "all", "map50": 0.4}],
    )
    call_one(conn, "record_benchmark", session_id=running["id"], avg_inference_ms=10.0)
    done = call_one(conn, "start_session", session_name="done", **base)
    call_one(conn, "finish_session", session_id=done["id"], final_map50_95=0.5)
    pending = call_one(conn, "start_session", session_name="pending", status="pending", **base)
    return {RUNNING: running["id"], DONE: done["id"], PENDING: pending["id"]}


@pytest.fixture(scope="module")
def shared(pg_server: Any, template_db: str) -> Iterator[tuple[Conn, dict[str, Any]]]:
    """One migrated database with a world for all rejected-input cases of this module.

    Sharing is sound here because every case asserts that it wrote nothing; a fresh clone per
    case would cost ~50 ms each for some 250 cases.
    """
    name = f"sql_api_rejected_{os.getpid()}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
        admin.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    try:
        with psycopg.connect(pg_server.url(name), autocommit=True, row_factory=dict_row) as c:
            yield c, build_world(c)
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def resolve(value: Any, ids: dict[str, Any]) -> Any:
    return ids[value] if isinstance(value, str) and value in ids else value


@pytest.mark.parametrize("case", CASES)
def test_rejected_input_names_field_and_rule_and_writes_nothing(
    shared: tuple[Conn, dict[str, Any]], case: Bad
) -> None:
    conn, world = shared
    args = {k: resolve(v, world) for k, v in {**BASE[case.fn], **case.args}.items()}
    # The outer transaction always rolls back, so a call that wrongly succeeds cannot leak rows
    # into the shared database; the call itself runs in a savepoint, as its own unit of work.
    with conn.transaction(force_rollback=True):
        before = snapshot(conn)
        with pytest.raises(psycopg.Error) as info, conn.transaction():
            call(conn, case.fn, **args)
        after = snapshot(conn)

    diag = info.value.diag
    assert (diag.sqlstate, diag.column_name) == (case.sqlstate, case.column), diag.message_primary
    assert diag.message_primary is not None
    assert diag.message_primary.startswith(f"{case.column} {case.rule}"), diag.message_primary
    assert diag.message_hint, "every mltrack error carries a hint"
    assert after == before


def test_every_api_function_has_rejected_cases() -> None:
    assert {p.values[0].fn for p in CASES} == set(BASE)


def test_base_arguments_are_accepted(conn: Conn) -> None:
    """The arguments each case starts from are valid, so a case fails only on its bad field."""
    world = build_world(conn)
    # finish_session last: request_stop refuses a finished session.
    for fn in sorted(BASE, key=lambda fn: fn == "finish_session"):
        args = {k: resolve(v, world) for k, v in BASE[fn].items()}
        call(conn, fn, **args)
    assert session_row(conn, world[RUNNING])["status"] == "completed"
