"""What a hostile review found in the database: each case failed before its fix.

Direct writes that row-level security allows must keep every summary true or be refused;
replays of one id must return the row; a run whose heartbeat comes back must end truthfully.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from .api import Conn, call, call_one, scalar, session_row

AsRole = Callable[..., AbstractContextManager[Conn]]

OWNER = uuid.UUID("aaaaaaaa-0000-4000-8000-00000000000a")
OTHER = uuid.UUID("bbbbbbbb-0000-4000-8000-00000000000b")


def owner(conn: Conn, as_role: AsRole, user: uuid.UUID = OWNER) -> AbstractContextManager[Conn]:
    return as_role(conn, "authenticated", sub=str(user))


def sqlstate_of(
    conn: Conn, as_role: AsRole, statement: str, params: tuple[Any, ...] = ()
) -> tuple[str | None, str | None]:
    """Run ``statement`` as the owner; return the error's SQLSTATE and column (None: it ran)."""
    try:
        with owner(conn, as_role) as c:
            c.execute(statement, params)
    except psycopg.Error as exc:
        return exc.sqlstate, exc.diag.column_name
    return None, None


@pytest.fixture
def run(conn: Conn, as_role: AsRole) -> dict[str, Any]:
    """The owner's running session with epochs 0-4; epoch 2 is the best."""
    with owner(conn, as_role):
        row = call_one(conn, "start_session", session_name="r", model_type="yolov8n", epochs=10)
        scalar(
            conn,
            "log_epochs",
            session_id=row["id"],
            metrics=[
                {"epoch": e, "map50": 0.5, "map50_95": v, "total_loss": 1.0 - v}
                for e, v in enumerate([0.1, 0.2, 0.9, 0.3, 0.4])
            ],
        )
    return row


def summary(conn: Conn, session_id: Any) -> dict[str, Any]:
    row = session_row(conn, session_id)
    return {k: row[k] for k in ("epochs_completed", "current_epoch", "best_epoch", "best_map50_95")}


# -- defect 9: direct writes keep the summary true ------------------------------------------------


def test_moving_the_best_epoch_moves_best_epoch(conn: Conn, as_role: AsRole, run: Any) -> None:
    assert sqlstate_of(
        conn,
        as_role,
        "update training_metrics set epoch = 9 where session_id = %s and epoch = 2",
        (run["id"],),
    ) == (None, None)
    assert summary(conn, run["id"]) == {
        "epochs_completed": 5,
        "current_epoch": 9,
        "best_epoch": 9,
        "best_map50_95": 0.9,
    }
    done = call_one(conn, "finish_session", session_id=run["id"])
    assert done["final_map50_95"] == 0.9


def test_moving_a_row_to_another_own_session_recounts_both(
    conn: Conn, as_role: AsRole, run: Any
) -> None:
    with owner(conn, as_role):
        other = call_one(conn, "start_session", session_name="o", model_type="m", epochs=10)
    assert sqlstate_of(
        conn,
        as_role,
        "update training_metrics set session_id = %s where session_id = %s and epoch in (2, 4)",
        (other["id"], run["id"]),
    ) == (None, None)
    assert summary(conn, run["id"]) == {
        "epochs_completed": 3,
        "current_epoch": 3,
        "best_epoch": 3,
        "best_map50_95": 0.3,
    }
    assert summary(conn, other["id"]) == {
        "epochs_completed": 2,
        "current_epoch": 4,
        "best_epoch": 2,
        "best_map50_95": 0.9,
    }


def test_lowering_the_best_value_in_place_moves_best_epoch(
    conn: Conn, as_role: AsRole, run: Any
) -> None:
    sqlstate_of(
        conn,
        as_role,
        "update training_metrics set map50_95 = 0.05 where session_id = %s and epoch = 2",
        (run["id"],),
    )
    assert summary(conn, run["id"])["best_epoch"] == 4


def test_epochs_cannot_go_below_a_logged_epoch(conn: Conn, as_role: AsRole, run: Any) -> None:
    assert sqlstate_of(
        conn, as_role, "update training_sessions set epochs = 3 where id = %s", (run["id"],)
    ) == ("MT001", "epochs")
    assert sqlstate_of(
        conn, as_role, "update training_sessions set epochs = 4 where id = %s", (run["id"],)
    ) == (None, None)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("epochs_completed", "100"),
        ("current_epoch", "9"),
        ("best_epoch", "0"),
        ("best_map50", "1.0"),
        ("best_map50_95", "1.0"),
        ("best_inference_ms", "0.001"),
        ("best_fps", "1e6"),
        ("started_at", "now() - interval '1 year'"),
        ("completed_at", "now() + interval '1 hour'"),
        ("heartbeat_lost_at", "now()"),
    ],
)
def test_owner_cannot_set_derived_columns(
    conn: Conn, as_role: AsRole, run: Any, column: str, value: str
) -> None:
    before = session_row(conn, run["id"])
    statement = f"update training_sessions set {column} = {value} where id = %s"
    assert sqlstate_of(conn, as_role, statement, (run["id"],)) == ("MT001", column)
    assert session_row(conn, run["id"]) == before


def test_owner_cannot_insert_a_session_with_a_summary(conn: Conn, as_role: AsRole) -> None:
    assert sqlstate_of(
        conn,
        as_role,
        "insert into training_sessions (owner_id, session_name, model_type, epochs, best_epoch,"
        " best_map50_95) values (%s, 'x', 'm', 3, 0, 1.0)",
        (OWNER,),
    ) == ("MT001", "best_epoch")


def test_heartbeat_cannot_be_set_in_the_future(conn: Conn, as_role: AsRole, run: Any) -> None:
    assert sqlstate_of(
        conn,
        as_role,
        "update training_sessions set last_heartbeat_at = now() + interval '10 years'"
        " where id = %s",
        (run["id"],),
    ) == ("MT001", "last_heartbeat_at")
    # An honest direct heartbeat is fine.
    assert sqlstate_of(
        conn,
        as_role,
        "update training_sessions set last_heartbeat_at = clock_timestamp() where id = %s",
        (run["id"],),
    ) == (None, None)


def test_results_of_a_finished_run_are_final(conn: Conn, as_role: AsRole, run: Any) -> None:
    with owner(conn, as_role):
        done = call_one(conn, "finish_session", session_id=run["id"])
    assert done["final_map50_95"] == 0.9
    for statement in (
        "update training_sessions set final_map50_95 = 1.0 where id = %s",
        "update training_sessions set completed_at = started_at + interval '1 microsecond'"
        " where id = %s",
    ):
        state, _ = sqlstate_of(conn, as_role, statement, (run["id"],))
        assert state in ("MT001", "MT004")
    after = session_row(conn, run["id"])
    assert after["final_map50_95"] == 0.9
    assert after["duration_seconds"] == done["duration_seconds"]
    # A replayed finish (same arguments) changes nothing and is no error; model_path may be set.
    with owner(conn, as_role):
        call_one(conn, "finish_session", session_id=run["id"])
        call_one(conn, "finish_session", session_id=run["id"], model_path="runs/best.pt")
    assert session_row(conn, run["id"])["model_path"] == "runs/best.pt"


def test_mltrack_own_writes_still_keep_the_summary(conn: Conn, as_role: AsRole, run: Any) -> None:
    """The guard does not stop the triggers and API: benchmarks, heartbeats, finishing."""
    with owner(conn, as_role):
        call_one(conn, "record_benchmark", session_id=run["id"], avg_inference_ms=5.0)
        assert scalar(conn, "heartbeat", session_id=run["id"]) is False
        call_one(conn, "finish_session", session_id=run["id"])
    row = session_row(conn, run["id"])
    assert (row["best_inference_ms"], row["status"], row["final_map50_95"]) == (
        5.0,
        "completed",
        0.9,
    )


# -- defect 10: a run whose heartbeat comes back ---------------------------------------------------


def make_stale(conn: Conn, session_id: Any) -> None:
    conn.execute(
        "update training_sessions set last_heartbeat_at = clock_timestamp() - interval '1 hour'"
        " where id = %s",
        (session_id,),
    )
    assert [r["mark_stale_sessions"] for r in call(conn, "mark_stale_sessions")] == [session_id]
    row = session_row(conn, session_id)
    assert row["status"] == "failed"
    assert row["heartbeat_lost_at"] is not None


def test_heartbeat_revives_a_run_failed_by_the_stale_check(
    conn: Conn, as_role: AsRole, run: Any
) -> None:
    make_stale(conn, run["id"])
    lost_at = session_row(conn, run["id"])["heartbeat_lost_at"]
    with owner(conn, as_role):
        assert scalar(conn, "heartbeat", session_id=run["id"]) is False
    row = session_row(conn, run["id"])
    assert (row["status"], row["completed_at"], row["status_reason"]) == ("running", None, None)
    assert row["heartbeat_lost_at"] == lost_at
    with owner(conn, as_role):
        done = call_one(conn, "finish_session", session_id=run["id"])
    assert (done["status"], done["final_map50_95"]) == ("completed", 0.9)
    assert done["heartbeat_lost_at"] == lost_at
    assert done["completed_at"] > lost_at


def test_replayed_finish_completes_a_run_failed_by_the_stale_check(
    conn: Conn, as_role: AsRole, run: Any
) -> None:
    make_stale(conn, run["id"])
    with owner(conn, as_role):
        done = call_one(conn, "finish_session", session_id=run["id"], status="completed")
    assert (done["status"], done["final_map50_95"], done["status_reason"]) == (
        "completed",
        0.9,
        None,
    )


def test_a_failure_for_another_reason_stays_final(conn: Conn, as_role: AsRole, run: Any) -> None:
    with owner(conn, as_role):
        call_one(conn, "finish_session", session_id=run["id"], status="failed", status_reason="OOM")
        scalar(conn, "heartbeat", session_id=run["id"])
    assert session_row(conn, run["id"])["status"] == "failed"
    with pytest.raises(psycopg.Error) as info, owner(conn, as_role):
        call_one(conn, "finish_session", session_id=run["id"], status="completed")
    assert info.value.sqlstate == "MT004"


# -- defect 8 and the smaller ones ----------------------------------------------------------------


def at_once(db_url: str, n: int, statement: str, params: tuple[Any, ...]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = []

    def worker() -> None:
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as c:
            barrier.wait()
            try:
                results.append(c.execute(statement, params).fetchone())
            except psycopg.Error as exc:
                results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.parametrize(
    "statement",
    [
        "select id from start_session(session_name => 's', model_type => 'm', epochs => 3,"
        " session_id => %s)",
        "select id from create_hyperparameter_run(name => 'h', run_id => %s)",
    ],
)
def test_concurrent_replays_of_one_id_return_the_row(db_url: str, statement: str) -> None:
    for _ in range(5):
        the_id = uuid.uuid4()
        results = at_once(db_url, 16, statement, (the_id,))
        assert [r if isinstance(r, Exception) else r["id"] for r in results] == [the_id] * 16


def test_another_users_ids_are_refused(conn: Conn, as_role: AsRole) -> None:
    with owner(conn, as_role, OTHER):
        theirs = call_one(conn, "start_session", session_name="b", model_type="m", epochs=3)
        bench = call_one(conn, "record_benchmark", session_id=theirs["id"], avg_inference_ms=3.0)
        hp = call_one(conn, "create_hyperparameter_run", name="theirs")
    with owner(conn, as_role):
        mine = call_one(conn, "start_session", session_name="a", model_type="m", epochs=3)
    for fn, args in (
        (
            "record_benchmark",
            {"session_id": mine["id"], "avg_inference_ms": 1.0, "benchmark_id": bench["id"]},
        ),
        ("create_hyperparameter_run", {"name": "mine", "run_id": hp["id"]}),
    ):
        with pytest.raises(psycopg.Error) as info, owner(conn, as_role):
            call(conn, fn, **args)
        assert info.value.sqlstate in ("MT001", "MT006"), (fn, info.value)


@pytest.mark.parametrize(
    "name", ["\x01\x02", "\u200b", "\u00a0\u00a0", "\u2060", "\ufeff", " \u3000\t", "\u200d\u200c"]
)
def test_invisible_names_are_blank(conn: Conn, name: str) -> None:
    with pytest.raises(psycopg.Error) as info:
        call(conn, "start_session", session_name=name, model_type="m", epochs=3)
    assert (info.value.sqlstate, info.value.diag.column_name) == ("MT002", "session_name")


@pytest.mark.parametrize("fn", ["log_epochs", "log_epoch_columns"])
@pytest.mark.parametrize("value", [1e-320, 5e-324, 1.5e300, 1.7976931348623157e308, -0.0])
def test_every_finite_float_is_kept_on_every_path(conn: Conn, fn: str, value: float) -> None:
    sid = call_one(conn, "start_session", session_name="f", model_type="m", epochs=3)["id"]
    if fn == "log_epochs":
        conn.execute(
            "select log_epochs(session_id => %s, metrics => jsonb_build_array("
            "jsonb_build_object('epoch', 0, 'box_loss', %s::float8)))",
            (sid, value),
        )
    else:
        conn.execute(
            "select log_epoch_columns(session_id => %s, epoch => '{0}', box_loss => %s)",
            (sid, [value]),
        )
    stored = conn.execute(
        "select box_loss, box_loss::text as text from training_metrics where session_id = %s",
        (sid,),
    ).fetchone()
    assert stored is not None
    assert stored["box_loss"] == abs(value)
    assert stored["text"] != "-0"
