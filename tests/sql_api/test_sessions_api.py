"""Session lifecycle through the SQL API, called with named arguments as the SDK calls it.

start_session, finish_session, heartbeat, request_stop and mark_stale_sessions: status and
timestamps, final metrics from the best epoch, idempotent replays, stop requests, stale runs.
(Epochs: test_epochs_api.py; results: test_results_api.py; notifications: test_notifications.py.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from .api import (
    Conn,
    Row,
    call,
    call_one,
    db_now,
    log_epochs,
    only,
    pick,
    query,
    scalar,
    session_row,
)

StartFn = Callable[..., Row]

# --- start_session ------------------------------------------------------------------------------

CREATED = {
    "session_name": "YOLOv8s Mastomys v3", "model_type": "yolov8s",
    "dataset_name": "mastomys_aug_v3", "dataset_size": 5000, "epochs": 150, "batch_size": 32,
    "learning_rate": 0.01, "img_size": 640, "config": {"augment": True, "mosaic": 1.0},
    "hardware_info": {"device": "cuda", "gpu": "NVIDIA RTX 3090"},
}  # fmt: skip
NEW_SESSION_STATE = {
    "status": "running", "status_reason": None, "owner_id": None, "dataset_id": None,
    "hyperparameter_run_id": None, "current_epoch": None, "epochs_completed": 0,
    "best_epoch": None, "best_map50": None, "best_map50_95": None, "final_map50": None,
    "final_map50_95": None, "final_precision": None, "final_recall": None, "final_loss": None,
    "model_path": None, "best_inference_ms": None, "best_fps": None, "stop_requested": False,
    "completed_at": None, "duration_seconds": None,
}  # fmt: skip


def test_start_session_creates_a_running_session(conn: Conn) -> None:
    before = db_now(conn)
    row = call_one(conn, "start_session", **CREATED)
    after = db_now(conn)

    assert isinstance(row["id"], uuid.UUID)
    assert only(row, CREATED) == CREATED
    assert only(row, NEW_SESSION_STATE) == NEW_SESSION_STATE
    assert before <= row["started_at"] <= row["last_heartbeat_at"] <= after
    # What the function returned is what the table holds.
    assert session_row(conn, row["id"]) == row


def test_start_session_defaults_leave_optional_fields_empty(conn: Conn) -> None:
    row = call_one(conn, "start_session", session_name="n", model_type="yolov8n", epochs=1)
    assert pick(row, "config", "hardware_info", "batch_size", "learning_rate", "img_size") == (
        {}, {}, None, None, None)  # fmt: skip
    assert row["status"] == "running"


def test_pending_session_starts_running_with_its_first_epoch(conn: Conn, start: StartFn) -> None:
    row = start(status="pending")
    assert pick(row, "status", "started_at", "last_heartbeat_at") == ("pending", None, None)

    before = db_now(conn)
    assert log_epochs(conn, row["id"], [{"epoch": 0}]) == 1
    after = session_row(conn, row["id"])
    now = db_now(conn)
    assert after["status"] == "running"
    assert before <= after["started_at"] <= now
    assert before <= after["last_heartbeat_at"] <= now
    assert pick(after, "current_epoch", "epochs_completed") == (0, 1)


def test_start_session_replay_with_same_id_returns_the_existing_session(
    conn: Conn, start: StartFn
) -> None:
    sid = uuid.uuid4()
    first = start(session_id=sid, session_name="first try")
    again = start(session_id=sid, session_name="second try", epochs=50, status="pending")
    assert first["id"] == sid
    assert again == first
    assert query(conn, "select count(*) as n from training_sessions") == [{"n": 1}]


def test_start_session_links_a_known_dataset_by_name(conn: Conn, start: StartFn) -> None:
    ds = call_one(conn, "upsert_dataset", name="coco8", class_names=["person", "car"])
    assert start(dataset_name="coco8")["dataset_id"] == ds["id"]
    assert start(dataset_name="not-registered")["dataset_id"] is None


# --- finish_session -----------------------------------------------------------------------------

FINALS = ("final_map50", "final_map50_95", "final_precision", "final_recall", "final_loss")


def test_completing_fills_final_metrics_from_the_best_epoch(conn: Conn, start: StartFn) -> None:
    s = start(epochs=3)
    log_epochs(conn, s["id"], [
        {"epoch": 0, "map50": 0.60, "map50_95": 0.40, "precision": 0.55, "recall": 0.50,
         "total_loss": 2.0},
        {"epoch": 1, "map50": 0.80, "map50_95": 0.60, "precision": 0.70, "recall": 0.65,
         "total_loss": 1.4},
        {"epoch": 2, "map50": 0.85, "map50_95": 0.58, "precision": 0.75, "recall": 0.70,
         "total_loss": 1.2},
    ])  # fmt: skip
    done = call_one(conn, "finish_session", session_id=s["id"], model_path="/models/best.pt")

    assert pick(done, "status", "status_reason", "best_epoch", "model_path") == (
        "completed", None, 1, "/models/best.pt")  # fmt: skip
    assert pick(done, *FINALS) == (0.80, 0.60, 0.70, 0.65, 1.4)
    assert done["completed_at"] > done["started_at"]
    elapsed = (done["completed_at"] - done["started_at"]).total_seconds()
    assert done["duration_seconds"] == pytest.approx(elapsed, abs=1e-6)
    assert session_row(conn, s["id"]) == done


def test_completing_keeps_final_metrics_given_by_the_caller(conn: Conn, start: StartFn) -> None:
    s = start()
    log_epochs(conn, s["id"], [{"epoch": 0, "map50": 0.8, "map50_95": 0.6, "precision": 0.7,
                                "recall": 0.65, "total_loss": 1.4}])  # fmt: skip
    done = call_one(conn, "finish_session", session_id=s["id"], final_map50_95=0.55, final_loss=0.9)
    assert pick(done, *FINALS) == (0.8, 0.55, 0.7, 0.65, 0.9)


def test_finish_with_completed_at_gives_an_exact_duration(conn: Conn, start: StartFn) -> None:
    s = start()
    completed_at = s["started_at"] + timedelta(hours=2, minutes=30)
    done = call_one(conn, "finish_session", session_id=s["id"], completed_at=completed_at)
    assert pick(done, "completed_at", "duration_seconds") == (completed_at, 9000.0)


def test_failing_records_the_reason_and_no_finals(conn: Conn, start: StartFn) -> None:
    s = start()
    log_epochs(conn, s["id"], [{"epoch": 0, "map50": 0.8, "map50_95": 0.6}])
    done = call_one(
        conn, "finish_session", session_id=s["id"], status="failed", status_reason="CUDA OOM"
    )
    assert pick(done, "status", "status_reason") == ("failed", "CUDA OOM")
    assert pick(done, *FINALS) == (None,) * 5
    assert done["completed_at"] > done["started_at"]


def test_a_pending_session_can_be_cancelled(conn: Conn, start: StartFn) -> None:
    s = start(status="pending")
    done = call_one(conn, "finish_session", session_id=s["id"], status="cancelled")
    assert pick(done, "status", "started_at", "duration_seconds") == ("cancelled", None, None)
    assert done["completed_at"] is not None


def test_finishing_again_with_the_same_status_changes_nothing(conn: Conn, start: StartFn) -> None:
    s = start()
    log_epochs(conn, s["id"], [{"epoch": 0, "map50": 0.8, "map50_95": 0.6}])
    first = call_one(conn, "finish_session", session_id=s["id"])
    again = call_one(conn, "finish_session", session_id=s["id"])
    keys = ("status", "completed_at", "duration_seconds", *FINALS)
    assert pick(again, *keys) == pick(first, *keys)


# --- heartbeat / request_stop / mark_stale_sessions ---------------------------------------------


def test_heartbeat_returns_stop_requested_after_request_stop(conn: Conn, start: StartFn) -> None:
    s = start()
    assert scalar(conn, "heartbeat", session_id=s["id"]) is False
    beat = session_row(conn, s["id"])["last_heartbeat_at"]
    assert beat > s["last_heartbeat_at"]

    stopped = call_one(conn, "request_stop", session_id=s["id"], reason="user pressed stop")
    assert pick(stopped, "stop_requested", "status", "status_reason") == (
        True, "running", "user pressed stop")  # fmt: skip
    assert scalar(conn, "heartbeat", session_id=s["id"]) is True
    assert session_row(conn, s["id"])["last_heartbeat_at"] > beat

    other = start()
    assert call_one(conn, "request_stop", session_id=other["id"])["status_reason"] == (
        "stop requested")  # fmt: skip
    assert scalar(conn, "heartbeat", session_id=other["id"]) is True


def test_heartbeat_of_a_finished_session_leaves_it_alone(conn: Conn, start: StartFn) -> None:
    s = start()
    call_one(conn, "finish_session", session_id=s["id"], status="failed")
    before = session_row(conn, s["id"])
    assert scalar(conn, "heartbeat", session_id=s["id"]) is False
    assert session_row(conn, s["id"]) == before


def test_mark_stale_sessions_fails_only_running_sessions_without_heartbeat(
    conn: Conn, start: StartFn
) -> None:
    stale = start(session_name="stale")
    fresh = start(session_name="fresh")
    revived = start(session_name="revived")
    pending = start(session_name="pending", status="pending")
    done = start(session_name="done")
    call_one(conn, "finish_session", session_id=done["id"])
    # Simulate ten minutes of silence (as superuser: no API sets these clocks).
    conn.execute(
        "update training_sessions set last_heartbeat_at = clock_timestamp() - interval '10 min',"
        " created_at = created_at - interval '10 min' where id = any(%s)",
        ([stale["id"], revived["id"], pending["id"], done["id"]],),
    )
    scalar(conn, "heartbeat", session_id=revived["id"])
    before = {s["id"]: session_row(conn, s["id"]) for s in (fresh, revived, pending, done)}

    marked = call(conn, "mark_stale_sessions", timeout_seconds=120)
    assert [r["mark_stale_sessions"] for r in marked] == [stale["id"]]

    row = session_row(conn, stale["id"])
    assert row["status"] == "failed"
    assert "heartbeat lost" in row["status_reason"]
    assert row["status_reason"].startswith("heartbeat lost: no heartbeat for 120 seconds")
    assert row["completed_at"] is not None
    for sid, was in before.items():
        assert session_row(conn, sid) == was

    # Nothing left to mark; the default timeout (120 s) spares the fresh sessions.
    assert call(conn, "mark_stale_sessions") == []
    assert session_row(conn, fresh["id"])["status"] == "running"
