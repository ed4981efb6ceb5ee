"""The three views: active_training_sessions, training_performance_summary, models_leaderboard.

Timing columns are made deterministic by moving a session's clocks back as superuser and reading
the view in the same transaction, where now() does not move.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from .api import Conn, Row, call_one, log_epochs, only, pick, query

StartFn = Callable[..., Row]

ACTIVE_COLUMNS = {
    "id", "session_name", "model_type", "dataset_name", "status", "owner_id", "epochs",
    "batch_size", "img_size", "current_epoch", "epochs_completed", "progress_percent",
    "started_at", "elapsed_seconds", "eta_seconds", "last_heartbeat_at", "heartbeat_age_seconds",
    "stop_requested", "best_epoch", "best_map50", "best_map50_95", "latest_epoch", "box_loss",
    "cls_loss", "dfl_loss", "total_loss", "precision", "recall", "map50", "map50_95",
    "learning_rate", "epoch_time_seconds", "gpu_memory_mb", "latest_metrics_at",
    "hardware_info", "created_at",
}  # fmt: skip
TIMING = ("progress_percent", "elapsed_seconds", "eta_seconds", "heartbeat_age_seconds")


def active_row(
    conn: Conn, session_id: Any, started_ago: float | None = None, beat_ago: float | None = None
) -> Row | None:
    """The session's active_training_sessions row, its clocks first moved back if asked."""
    with conn.transaction():
        for column, ago in (("started_at", started_ago), ("last_heartbeat_at", beat_ago)):
            if ago is not None:
                conn.execute(
                    f"update training_sessions set {column} = now() - make_interval(secs => %s)"
                    " where id = %s",
                    (ago, session_id),
                )
        rows = query(conn, "select * from active_training_sessions where id = %s", (session_id,))
    assert len(rows) <= 1
    return rows[0] if rows else None


def epoch_metrics(epoch: int) -> dict[str, Any]:
    return {
        "epoch": epoch, "box_loss": 1.0 - 0.125 * epoch, "cls_loss": 0.5, "dfl_loss": 0.25,
        "total_loss": 1.75 - 0.125 * epoch, "precision": 0.5 + 0.0625 * epoch, "recall": 0.5,
        "map50": 0.375 + 0.125 * epoch, "map50_95": 0.25 + 0.0625 * epoch,
        "learning_rate": 0.01 / (epoch + 1), "epoch_time_seconds": 100.0 + epoch,
        "gpu_memory_mb": 2048.0 * (epoch + 1),
    }  # fmt: skip


# --- active_training_sessions -------------------------------------------------------------------


def test_active_view_shows_progress_timing_and_latest_metrics(conn: Conn, start: StartFn) -> None:
    s = start(session_name="live", model_type="yolov8s", epochs=10, batch_size=16, img_size=640,
              dataset_name="coco8", hardware_info={"gpu": "T4"})  # fmt: skip
    log_epochs(conn, s["id"], [epoch_metrics(e) for e in range(4)])

    row = active_row(conn, s["id"], started_ago=400, beat_ago=30)
    assert row is not None
    assert set(row) == ACTIVE_COLUMNS
    latest = epoch_metrics(3)
    expected = {
        "id": s["id"], "session_name": "live", "model_type": "yolov8s", "dataset_name": "coco8",
        "status": "running", "owner_id": None, "epochs": 10, "batch_size": 16, "img_size": 640,
        "current_epoch": 3, "epochs_completed": 4, "progress_percent": 40.0,
        "elapsed_seconds": 400.0, "eta_seconds": 600.0, "heartbeat_age_seconds": 30.0,
        "stop_requested": False, "best_epoch": 3, "best_map50": 0.75, "best_map50_95": 0.4375,
        "latest_epoch": 3, **{k: v for k, v in latest.items() if k != "epoch"},
        "hardware_info": {"gpu": "T4"},
    }  # fmt: skip
    assert only(row, expected) == expected
    assert row["latest_metrics_at"] is not None


def test_active_view_before_the_first_epoch(conn: Conn, start: StartFn) -> None:
    row = active_row(conn, start(epochs=5)["id"], started_ago=90, beat_ago=0)
    assert row is not None
    assert pick(row, *TIMING) == (0.0, 90.0, None, 0.0)
    assert pick(row, "current_epoch", "epochs_completed", "latest_epoch", "map50") == (
        None, 0, None, None)  # fmt: skip
    assert row["latest_metrics_at"] is None


def test_active_view_caps_progress_eta_and_heartbeat_age(conn: Conn, start: StartFn) -> None:
    s = start(epochs=2)
    # Ultralytics reports the final evaluation as epoch == epochs: three rows for two epochs.
    log_epochs(conn, s["id"], [{"epoch": e} for e in range(3)])
    # A heartbeat stamped by a clock slightly ahead of the database's is no negative age.
    row = active_row(conn, s["id"], started_ago=300, beat_ago=-5)
    assert row is not None
    assert pick(row, "epochs_completed", *TIMING) == (3, 100.0, 300.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "ago", [0.000001, 59.999999, 86399.999999, 86400.5, 95040000.123457, 315576000.999999]
)
def test_active_view_seconds_are_exact_to_the_microsecond(
    conn: Conn, start: StartFn, ago: float
) -> None:
    # A minute, a day, three and ten years of seconds, ending in microseconds.
    row = active_row(conn, start(epochs=4)["id"], started_ago=ago, beat_ago=ago)
    assert row is not None
    assert row["elapsed_seconds"] == pytest.approx(ago, rel=0, abs=1e-6)
    assert row["heartbeat_age_seconds"] == pytest.approx(ago, rel=0, abs=1e-6)


def test_active_view_computes_seconds_without_numeric(conn: Conn) -> None:
    # extract(epoch ...) is numeric: a numeric computation and a conversion per row and column
    # (about a fifth of the view's execution for 200 running sessions). date_part is a double.
    text = query(conn, "select pg_get_viewdef('public.active_training_sessions'::regclass) t")
    assert "extract" not in text[0]["t"].lower()
    assert text[0]["t"].lower().count("date_part('epoch'") == 2


def test_active_view_lists_running_sessions_only(conn: Conn, start: StartFn) -> None:
    start(session_name="running")
    stopping = start(session_name="stopping")
    call_one(conn, "request_stop", session_id=stopping["id"])
    start(session_name="pending", status="pending")
    for status in ("completed", "failed", "cancelled"):
        call_one(conn, "finish_session", session_id=start(session_name=status)["id"], status=status)
    rows = query(
        conn,
        "select session_name, stop_requested from active_training_sessions order by session_name",
    )
    assert rows == [
        {"session_name": "running", "stop_requested": False},
        {"session_name": "stopping", "stop_requested": True},
    ]


# --- training_performance_summary ---------------------------------------------------------------


def test_summary_has_every_session_with_its_aggregates(conn: Conn, start: StartFn) -> None:
    done = start(session_name="done", epochs=3, batch_size=8, learning_rate=0.01, img_size=320)
    log_epochs(conn, done["id"], [
        {"epoch": 0, "total_loss": 3.0, "epoch_time_seconds": 100.0, "gpu_memory_mb": 1000.0,
         "map50": 0.5, "map50_95": 0.3, "precision": 0.6, "recall": 0.5},
        {"epoch": 1, "total_loss": 2.0, "epoch_time_seconds": 110.0, "gpu_memory_mb": 1500.0,
         "map50": 0.7, "map50_95": 0.45, "precision": 0.7, "recall": 0.6},
        {"epoch": 2, "total_loss": 2.5, "epoch_time_seconds": 120.0, "gpu_memory_mb": 1200.0,
         "map50": 0.6, "map50_95": 0.4, "precision": 0.8, "recall": 0.7},
    ])  # fmt: skip
    call_one(conn, "record_benchmark", session_id=done["id"], avg_inference_ms=8.0)
    call_one(conn, "finish_session", session_id=done["id"], model_path="/m/best.pt",
             completed_at=done["started_at"] + timedelta(hours=2))  # fmt: skip
    failed = start(session_name="failed")
    call_one(conn, "finish_session", session_id=failed["id"], status="failed",
             status_reason="diverged")  # fmt: skip
    running = start(session_name="running")
    pending = start(session_name="pending", status="pending")

    rows = {r["session_name"]: r for r in query(conn, "select * from training_performance_summary")}
    assert set(rows) == {"done", "failed", "running", "pending"}
    expected = {
        "id": done["id"], "status": "completed", "epochs": 3, "epochs_completed": 3,
        "current_epoch": 2, "batch_size": 8, "learning_rate": 0.01, "img_size": 320,
        "best_epoch": 1, "best_map50": 0.7, "best_map50_95": 0.45, "final_map50": 0.7,
        "final_map50_95": 0.45, "final_precision": 0.7, "final_recall": 0.6, "final_loss": 2.0,
        "min_total_loss": 2.0, "avg_epoch_time_seconds": 110.0, "max_gpu_memory_mb": 1500.0,
        "best_inference_ms": 8.0, "best_fps": 125.0, "duration_seconds": 7200.0,
        "model_path": "/m/best.pt",
    }  # fmt: skip
    assert only(rows["done"], expected) == expected
    assert rows["done"]["efficiency_score"] == pytest.approx(0.225, rel=1e-12)

    f = rows["failed"]
    assert pick(f, "status", "status_reason", "final_map50_95", "efficiency_score") == (
        "failed", "diverged", None, None)  # fmt: skip
    assert pick(f, "min_total_loss", "avg_epoch_time_seconds", "max_gpu_memory_mb") == (
        None, None, None)  # fmt: skip
    assert f["duration_seconds"] > 0
    for name, session in (("running", running), ("pending", pending)):
        assert pick(rows[name], "id", "status", "duration_seconds", "efficiency_score") == (
            session["id"], name, None, None)  # fmt: skip


# --- models_leaderboard -------------------------------------------------------------------------


def test_leaderboard_rows_carry_results_speed_and_duration(conn: Conn, start: StartFn) -> None:
    best = start(session_name="best", model_type="yolov8m", epochs=2, batch_size=16, img_size=640)
    log_epochs(conn, best["id"], [
        {"epoch": 0, "map50": 0.8, "map50_95": 0.6, "precision": 0.85, "recall": 0.75,
         "total_loss": 1.1},
        {"epoch": 1, "map50": 0.9, "map50_95": 0.7, "precision": 0.9, "recall": 0.8,
         "total_loss": 0.9},
    ])  # fmt: skip
    call_one(conn, "record_benchmark", session_id=best["id"], avg_inference_ms=30.0,
             device="cpu", device_name="Xeon")  # fmt: skip
    call_one(conn, "record_benchmark", session_id=best["id"], avg_inference_ms=4.0,
             device="cuda:0", device_name="H100", batch_size=4)  # fmt: skip
    completed_at = best["started_at"] + timedelta(minutes=90)
    call_one(conn, "finish_session", session_id=best["id"], model_path="/m/best.pt",
             completed_at=completed_at)  # fmt: skip

    second = start(session_name="second", model_type="yolov8n")
    call_one(conn, "finish_session", session_id=second["id"], final_map50_95=0.5,
             completed_at=second["started_at"] + timedelta(minutes=30))  # fmt: skip
    # Completed without any mAP, failed, and running sessions are not ranked.
    call_one(conn, "finish_session", session_id=start(session_name="no map")["id"])
    call_one(conn, "finish_session", session_id=start(session_name="failed")["id"],
             status="failed", final_map50_95=0.99)  # fmt: skip
    start(session_name="running")

    rows = query(conn, "select * from models_leaderboard order by rank")
    assert [r["session_name"] for r in rows] == ["best", "second"]
    assert rows[0] == {
        "rank": 1, "id": best["id"], "session_name": "best", "model_type": "yolov8m",
        "dataset_name": None, "owner_id": None, "final_map50_95": 0.7, "final_map50": 0.9,
        "final_precision": 0.9, "final_recall": 0.8, "final_loss": 0.9, "best_epoch": 1,
        "epochs": 2, "batch_size": 16, "img_size": 640, "inference_ms": 4.0, "fps": 1000.0,
        "training_duration_seconds": 5400.0, "model_path": "/m/best.pt",
        "completed_at": completed_at, "benchmark_device": "cuda:0",
        "benchmark_device_name": "H100",
    }  # fmt: skip
    assert pick(rows[1], "rank", "inference_ms", "benchmark_device",
                "training_duration_seconds") == (2, None, None, 1800.0)  # fmt: skip
