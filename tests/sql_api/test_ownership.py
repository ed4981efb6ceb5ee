"""Who may write what, through the SQL functions: owner A, other user B, service_role, anon.

authenticated users read everything and write only their own sessions (MT006 otherwise);
service_role (training machines) writes any session; anon may call nothing and read nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import pytest

from .api import Conn, call, call_one, query, scalar, session_row, snapshot

AsRole = Callable[..., AbstractContextManager[Conn]]

USER_A = uuid.UUID("aaaaaaaa-0000-4000-8000-00000000000a")
USER_B = uuid.UUID("bbbbbbbb-0000-4000-8000-00000000000b")


def as_user(conn: Conn, as_role: AsRole, role: str, user: uuid.UUID | None = None) -> Any:
    return as_role(conn, role, sub=str(user) if user else None)


def refused(
    conn: Conn, as_role: AsRole, role: str, user: uuid.UUID | None, fn: str, **args: Any
) -> psycopg.Error:
    """Call ``fn`` as ``role``/``user``; assert it fails and return the error."""
    with pytest.raises(psycopg.Error) as info, as_user(conn, as_role, role, user):
        call(conn, fn, **args)
    return info.value


@pytest.fixture
def owned(conn: Conn, as_role: AsRole) -> dict[str, Any]:
    """User A's running session (with an epoch, validation, benchmark), completed session,
    dataset and hyperparameter run - all written by A through the API."""
    with as_user(conn, as_role, "authenticated", USER_A):
        running = call_one(
            conn, "start_session", session_name="A running", model_type="yolov8n", epochs=10
        )
        scalar(
            conn,
            "log_epochs",
            session_id=running["id"],
            metrics=[{"epoch": 0, "map50": 0.4, "map50_95": 0.3}],
        )
        scalar(
            conn,
            "record_validation",
            session_id=running["id"],
            results=[{"class_name": "all", "map50": 0.4}],
        )
        call_one(conn, "record_benchmark", session_id=running["id"], avg_inference_ms=10.0)
        done = call_one(
            conn, "start_session", session_name="A done", model_type="yolov8s", epochs=5
        )
        call_one(conn, "finish_session", session_id=done["id"], final_map50_95=0.6, final_map50=0.8)
        dataset = call_one(conn, "upsert_dataset", name="a-data", class_names=["cat"])
        run = call_one(conn, "create_hyperparameter_run", name="A sweep")
    return {"running": running, "done": done, "dataset": dataset, "run": run}


def test_rows_written_by_a_user_belong_to_that_user(conn: Conn, owned: dict[str, Any]) -> None:
    assert owned["running"]["owner_id"] == USER_A
    assert owned["done"]["owner_id"] == USER_A
    assert owned["dataset"]["owner_id"] == USER_A
    assert owned["run"]["owner_id"] == USER_A
    assert session_row(conn, owned["running"]["id"])["owner_id"] == USER_A


def test_the_owner_writes_every_part_of_the_own_session(
    conn: Conn, as_role: AsRole, owned: dict[str, Any]
) -> None:
    sid = owned["running"]["id"]
    with as_user(conn, as_role, "authenticated", USER_A):
        assert call_one(conn, "log_epoch", session_id=sid, epoch=1, map50_95=0.35)["epoch"] == 1
        assert scalar(conn, "heartbeat", session_id=sid) is False
        assert (
            scalar(
                conn,
                "record_validation",
                session_id=sid,
                split="test",
                results=[{"class_name": "all"}],
            )
            == 1
        )
        call_one(conn, "record_benchmark", session_id=sid, avg_inference_ms=5.0)
        assert call_one(conn, "request_stop", session_id=sid)["stop_requested"] is True
        assert (
            call_one(
                conn,
                "start_session",
                session_id=sid,
                session_name="replay",
                model_type="m",
                epochs=1,
            )["id"]
            == sid
        )
        done = call_one(conn, "finish_session", session_id=sid, status="cancelled")
        again = call_one(conn, "upsert_dataset", name="a-data", class_names=["cat", "dog"])
    assert (done["status"], done["epochs_completed"], done["best_inference_ms"]) == (
        "cancelled",
        2,
        5.0,
    )
    assert again["num_classes"] == 2


OTHER_USER_WRITES: list[tuple[str, dict[str, Any]]] = [
    ("log_epoch", {"epoch": 1, "map50": 0.5}),
    ("log_epochs", {"metrics": [{"epoch": 1}]}),
    ("finish_session", {"status": "failed", "status_reason": "not mine"}),
    ("heartbeat", {}),
    ("request_stop", {"reason": "not mine"}),
    ("record_validation", {"results": [{"class_name": "all", "map50": 0.9}]}),
    ("record_benchmark", {"avg_inference_ms": 1.0}),
    ("start_session", {"session_name": "replay", "model_type": "yolov8n", "epochs": 10}),
]


@pytest.mark.parametrize(("fn", "args"), OTHER_USER_WRITES, ids=[f for f, _ in OTHER_USER_WRITES])
def test_another_user_gets_mt006_on_writes(
    conn: Conn, as_role: AsRole, owned: dict[str, Any], fn: str, args: dict[str, Any]
) -> None:
    sid = owned["running"]["id"]
    before = snapshot(conn)
    error = refused(conn, as_role, "authenticated", USER_B, fn, session_id=sid, **args)
    diag = error.diag
    assert (diag.sqlstate, diag.column_name) == ("MT006", "session_id")
    assert diag.message_primary == (
        f"session_id belongs to another user: you may read it but not write to it (got {sid})"
    )
    assert diag.message_hint is not None and "owner" in diag.message_hint
    assert snapshot(conn) == before


def refused_start_by_user_b(conn: Conn, as_role: AsRole, **args: Any) -> psycopg.Error:
    """The error of a valid ``start_session`` by user B with ``args`` added (it must fail)."""
    return refused(
        conn,
        as_role,
        "authenticated",
        USER_B,
        "start_session",
        session_name="x",
        model_type="yolov8n",
        epochs=1,
        **args,
    )


def test_another_user_cannot_start_a_session_for_the_owner(
    conn: Conn, as_role: AsRole, owned: dict[str, Any]
) -> None:
    before = snapshot(conn)
    error = refused_start_by_user_b(conn, as_role, owner_id=USER_A)
    assert (error.diag.sqlstate, error.diag.column_name) == ("MT006", "owner_id")
    assert error.diag.message_primary is not None
    assert error.diag.message_primary.startswith("owner_id must be your own user id")
    assert error.diag.message_hint
    assert snapshot(conn) == before


def test_a_session_joins_only_its_owners_hyperparameter_run(
    conn: Conn, as_role: AsRole, owned: dict[str, Any]
) -> None:
    run_id = owned["run"]["id"]
    before = snapshot(conn)
    error = refused_start_by_user_b(conn, as_role, hyperparameter_run_id=run_id)
    assert (error.diag.sqlstate, error.diag.column_name) == ("MT006", "hyperparameter_run_id")
    assert error.diag.message_primary is not None
    assert error.diag.message_primary.startswith("hyperparameter_run_id belongs to another user")
    assert snapshot(conn) == before

    with as_user(conn, as_role, "authenticated", USER_A):
        trial = call_one(
            conn,
            "start_session",
            session_name="A trial",
            model_type="yolov8n",
            epochs=1,
            hyperparameter_run_id=run_id,
        )
    assert (trial["owner_id"], trial["hyperparameter_run_id"]) == (USER_A, run_id)
    run = query(conn, "select trials_started from hyperparameter_runs where id = %s", (run_id,))
    assert run == [{"trials_started": 1}]


def test_another_user_cannot_change_the_owners_dataset(
    conn: Conn, as_role: AsRole, owned: dict[str, Any]
) -> None:
    before = snapshot(conn)
    error = refused(
        conn,
        as_role,
        "authenticated",
        USER_B,
        "upsert_dataset",
        name="a-data",
        class_names=["hijacked"],
    )
    assert (error.diag.sqlstate, error.diag.column_name) == ("MT006", "name")
    assert error.diag.message_primary is not None
    assert error.diag.message_primary.startswith("name is a dataset of another user")
    assert error.diag.message_hint
    assert snapshot(conn) == before


def test_another_user_reads_the_owners_rows(
    conn: Conn, as_role: AsRole, owned: dict[str, Any]
) -> None:
    running, done = owned["running"]["id"], owned["done"]["id"]
    with as_user(conn, as_role, "authenticated", USER_B):
        sessions = {r["id"] for r in query(conn, "select id from training_sessions")}
        metrics = query(conn, "select session_id, epoch from training_metrics")
        validation = query(conn, "select session_id from validation_results")
        benchmarks = query(conn, "select session_id from model_benchmarks")
        datasets = query(conn, "select name from training_datasets")
        runs = query(conn, "select name from hyperparameter_runs")
        active = query(conn, "select id from active_training_sessions")
        summary = {r["id"] for r in query(conn, "select id from training_performance_summary")}
        board = query(conn, "select rank, id from models_leaderboard")
    assert sessions == summary == {running, done}
    assert metrics == [{"session_id": running, "epoch": 0}]
    assert validation == [{"session_id": running}]
    assert benchmarks == [{"session_id": running}]
    assert datasets == [{"name": "a-data"}]
    assert runs == [{"name": "A sweep"}]
    assert active == [{"id": running}]
    assert board == [{"rank": 1, "id": done}]


def test_another_user_writes_own_sessions_but_table_writes_to_others_do_nothing(
    conn: Conn, as_role: AsRole, owned: dict[str, Any]
) -> None:
    sid = owned["running"]["id"]
    with as_user(conn, as_role, "authenticated", USER_B):
        mine = call_one(conn, "start_session", session_name="B run", model_type="yolov8n", epochs=3)
        assert scalar(conn, "log_epochs", session_id=mine["id"], metrics=[{"epoch": 0}]) == 1
        # Row-level security hides A's session from B's direct updates.
        cur = conn.execute(
            "update training_sessions set session_name = 'hijacked' where id = %s", (sid,)
        )
        assert cur.rowcount == 0
    assert mine["owner_id"] == USER_B
    assert session_row(conn, sid)["session_name"] == "A running"

    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        as_user(conn, as_role, "authenticated", USER_B),
    ):
        conn.execute("insert into training_metrics (session_id, epoch) values (%s, 5)", (sid,))


def test_service_role_writes_any_session(
    conn: Conn, as_role: AsRole, owned: dict[str, Any]
) -> None:
    sid = owned["running"]["id"]
    with as_user(conn, as_role, "service_role"):
        assert (
            scalar(
                conn,
                "log_epochs",
                session_id=sid,
                metrics=[{"epoch": 1, "map50_95": 0.5, "map50": 0.7}],
            )
            == 1
        )
        assert (
            scalar(
                conn,
                "record_validation",
                session_id=sid,
                results=[{"class_name": "all", "map50": 0.7}],
            )
            == 1
        )
        call_one(conn, "record_benchmark", session_id=sid, avg_inference_ms=4.0)
        call_one(conn, "request_stop", session_id=sid, reason="admin")
        assert scalar(conn, "heartbeat", session_id=sid) is True
        done = call_one(conn, "finish_session", session_id=sid)
        for_a = call_one(
            conn,
            "start_session",
            session_name="for A",
            model_type="yolov8n",
            epochs=1,
            owner_id=USER_A,
        )
        dataset = call_one(conn, "upsert_dataset", name="a-data", class_names=["cat", "dog"])
    assert (
        done["status"],
        done["owner_id"],
        done["final_map50_95"],
        done["best_inference_ms"],
    ) == ("completed", USER_A, 0.5, 4.0)
    assert for_a["owner_id"] == USER_A
    assert (dataset["owner_id"], dataset["num_classes"]) == (USER_A, 2)


def test_only_service_role_marks_stale_sessions(
    conn: Conn, as_role: AsRole, owned: dict[str, Any]
) -> None:
    sid = owned["running"]["id"]
    conn.execute(
        "update training_sessions set last_heartbeat_at = now() - interval '1 hour' where id = %s",
        (sid,),
    )
    before = snapshot(conn)
    for user in (USER_A, USER_B):
        error = refused(conn, as_role, "authenticated", user, "mark_stale_sessions")
        assert error.diag.sqlstate == "42501"
    assert snapshot(conn) == before

    with as_user(conn, as_role, "service_role"):
        marked = call(conn, "mark_stale_sessions", timeout_seconds=60)
    assert [r["mark_stale_sessions"] for r in marked] == [sid]
    assert session_row(conn, sid)["status"] == "failed"


ANON_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("start_session", {"session_name": "x", "model_type": "yolov8n", "epochs": 1}),
    ("log_epoch", {"session_id": "<running>", "epoch": 1}),
    ("log_epochs", {"session_id": "<running>", "metrics": [{"epoch": 1}]}),
    ("finish_session", {"session_id": "<running>"}),
    ("heartbeat", {"session_id": "<running>"}),
    ("request_stop", {"session_id": "<running>"}),
    ("mark_stale_sessions", {"timeout_seconds": 1}),
    ("record_validation", {"session_id": "<running>", "results": [{"class_name": "all"}]}),
    ("record_benchmark", {"session_id": "<running>", "avg_inference_ms": 1.0}),
    ("upsert_dataset", {"name": "anon-data"}),
    ("create_hyperparameter_run", {"name": "anon sweep"}),
]


@pytest.mark.parametrize(("fn", "args"), ANON_CALLS, ids=[f for f, _ in ANON_CALLS])
def test_anon_may_call_no_function(
    conn: Conn, as_role: AsRole, owned: dict[str, Any], fn: str, args: dict[str, Any]
) -> None:
    args = {k: owned["running"]["id"] if v == "<running>" else v for k, v in args.items()}
    before = snapshot(conn)
    error = refused(conn, as_role, "anon", None, fn, **args)
    assert error.diag.sqlstate == "42501"
    assert error.diag.message_primary == f"permission denied for function {fn}"
    assert snapshot(conn) == before


@pytest.mark.parametrize(
    "relation",
    [
        "active_training_sessions",
        "training_performance_summary",
        "models_leaderboard",
        "training_sessions",
        "training_metrics",
        "validation_results",
        "model_benchmarks",
        "training_datasets",
        "hyperparameter_runs",
    ],
)
def test_anon_may_read_no_view_or_table(
    conn: Conn, as_role: AsRole, owned: dict[str, Any], relation: str
) -> None:
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege) as info,
        as_user(conn, as_role, "anon"),
    ):
        conn.execute(f"select * from {relation}")  # relation names come from the list above
    kind = (
        "view"
        if relation
        in {"active_training_sessions", "training_performance_summary", "models_leaderboard"}
        else "table"
    )
    assert info.value.diag.message_primary == f"permission denied for {kind} {relation}"


def test_only_the_owner_finishes_a_hyperparameter_run(
    conn: Conn, as_role: AsRole, owned: dict[str, Any]
) -> None:
    run_id = owned["run"]["id"]
    error = refused(
        conn, as_role, "authenticated", USER_B, "finish_hyperparameter_run", run_id=run_id
    )
    assert (error.diag.sqlstate, error.diag.column_name) == ("MT006", "run_id")
    anon = refused(conn, as_role, "anon", None, "finish_hyperparameter_run", run_id=run_id)
    assert anon.sqlstate == "42501"
    with as_user(conn, as_role, "authenticated", USER_A):
        assert call_one(conn, "finish_hyperparameter_run", run_id=run_id)["status"] == "completed"
