"""The product description's four "Database Queries", verbatim, over data written only via the API.

The queries are copied character for character from the "Database Queries" section of the
product description (seed/training-system.md), so the schema keeps them working as written.
The leaderboard's tie-breaks and its top-50 limit are tested here too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from .api import Conn, Row, call_one, query, scalar

# --- verbatim from the product description (trailing spaces after SELECT included) --------------
GET_BEST_PERFORMING_MODEL = "SELECT * FROM models_leaderboard\nWHERE rank = 1;"
GET_ACTIVE_TRAINING_PROGRESS = "SELECT * FROM active_training_sessions\nORDER BY started_at DESC;"
CALCULATE_TRAINING_EFFICIENCY = (
    "SELECT \n"
    "  session_name,\n"
    "  final_map50_95,\n"
    "  duration_seconds / 3600.0 as hours,\n"
    "  final_map50_95 / (duration_seconds / 3600.0) as efficiency_score\n"
    "FROM training_sessions\n"
    "WHERE status = 'completed'\n"
    "ORDER BY efficiency_score DESC;"
)
COMPARE_MODELS = (
    "SELECT \n"
    "  model_type,\n"
    "  AVG(final_map50_95) as avg_map,\n"
    "  AVG(duration_seconds) as avg_duration,\n"
    "  COUNT(*) as training_runs\n"
    "FROM training_sessions\n"
    "WHERE status = 'completed'\n"
    "GROUP BY model_type\n"
    "ORDER BY avg_map DESC;"
)


def start(conn: Conn, name: str, model_type: str, epochs: int = 3, **more: Any) -> Row:
    return call_one(
        conn, "start_session", session_name=name, model_type=model_type, epochs=epochs, **more
    )


def log(conn: Conn, session: Row, maps: list[tuple[float, float]]) -> None:
    """Log one epoch per (map50_95, map50) pair."""
    scalar(
        conn,
        "log_epochs",
        session_id=session["id"],
        metrics=[
            {
                "epoch": e,
                "map50_95": m95,
                "map50": m50,
                "precision": 0.8,
                "recall": 0.7,
                "total_loss": 1.0 / (e + 1),
            }
            for e, (m95, m50) in enumerate(maps)
        ],
    )


def finish_after(conn: Conn, session: Row, hours: float, **finals: Any) -> Row:
    """Complete ``session`` exactly ``hours`` after it started."""
    return call_one(
        conn,
        "finish_session",
        session_id=session["id"],
        completed_at=session["started_at"] + timedelta(hours=hours),
        **finals,
    )


@pytest.fixture
def trained(conn: Conn) -> dict[str, Row]:
    """Four completed runs, a failed one, two running ones, a pending one and a benchmark."""
    n1 = start(conn, "YOLOv8n Mastomys v1", "yolov8n")
    log(conn, n1, [(0.50, 0.70), (0.62, 0.81), (0.60, 0.83)])
    finish_after(conn, n1, 2)

    s2 = start(conn, "YOLOv8s Mastomys v2", "yolov8s")
    log(conn, s2, [(0.7845, 0.843), (0.70, 0.80)])
    finish_after(conn, s2, 4)

    m3 = start(conn, "YOLOv8m Mastomys v3", "yolov8m")
    log(conn, m3, [(0.80, 0.85), (0.8234, 0.876)])
    call_one(conn, "record_benchmark", session_id=m3["id"], avg_inference_ms=25.0, device="cpu")
    call_one(
        conn,
        "record_benchmark",
        session_id=m3["id"],
        avg_inference_ms=12.5,
        device="cuda:0",
        device_name="NVIDIA RTX 3090",
    )
    finish_after(conn, m3, 10)

    n4 = start(conn, "YOLOv8n Mastomys v4", "yolov8n")
    finish_after(conn, n4, 1, final_map50_95=0.5, final_map50=0.7)

    # The best mAP of all, but the run crashed: no final metrics, in no query.
    crashed = start(conn, "YOLOv8m crashed", "yolov8m")
    log(conn, crashed, [(0.95, 0.99)])
    call_one(
        conn,
        "finish_session",
        session_id=crashed["id"],
        status="failed",
        status_reason="CUDA error",
    )

    early = start(conn, "YOLOv8n live (started first)", "yolov8n", epochs=20)
    log(conn, early, [(0.1, 0.2)])
    live = start(conn, "YOLOv8s live", "yolov8s", epochs=10)
    log(conn, live, [(0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.35, 0.45)])
    start(conn, "YOLOv8s queued", "yolov8s", status="pending")
    return {"n1": n1, "s2": s2, "m3": m3, "n4": n4, "early": early, "live": live}


def test_get_best_performing_model(conn: Conn, trained: dict[str, Row]) -> None:
    rows = query(conn, GET_BEST_PERFORMING_MODEL)
    assert len(rows) == 1
    best = rows[0]
    assert {
        k: best[k]
        for k in (
            "rank",
            "id",
            "session_name",
            "model_type",
            "final_map50_95",
            "final_map50",
            "final_precision",
            "final_recall",
            "best_epoch",
            "inference_ms",
            "fps",
            "training_duration_seconds",
            "benchmark_device",
            "benchmark_device_name",
        )
    } == {
        "rank": 1,
        "id": trained["m3"]["id"],
        "session_name": "YOLOv8m Mastomys v3",
        "model_type": "yolov8m",
        "final_map50_95": 0.8234,
        "final_map50": 0.876,
        "final_precision": 0.8,
        "final_recall": 0.7,
        "best_epoch": 1,
        "inference_ms": 12.5,
        "fps": 80.0,
        "training_duration_seconds": 36000.0,
        "benchmark_device": "cuda:0",
        "benchmark_device_name": "NVIDIA RTX 3090",
    }


def test_get_active_training_progress(conn: Conn, trained: dict[str, Row]) -> None:
    rows = query(conn, GET_ACTIVE_TRAINING_PROGRESS)
    assert [
        (
            r["id"],
            r["session_name"],
            r["status"],
            r["current_epoch"],
            r["epochs"],
            r["progress_percent"],
            r["latest_epoch"],
            r["map50_95"],
        )
        for r in rows
    ] == [
        (trained["live"]["id"], "YOLOv8s live", "running", 3, 10, 40.0, 3, 0.35),
        (trained["early"]["id"], "YOLOv8n live (started first)", "running", 0, 20, 5.0, 0, 0.1),
    ]


def test_calculate_training_efficiency(conn: Conn, trained: dict[str, Row]) -> None:
    rows = query(conn, CALCULATE_TRAINING_EFFICIENCY)
    assert [r["session_name"] for r in rows] == [
        "YOLOv8n Mastomys v4",
        "YOLOv8n Mastomys v1",
        "YOLOv8s Mastomys v2",
        "YOLOv8m Mastomys v3",
    ]
    expected = [
        (0.5, 1.0, 0.5),
        (0.62, 2.0, 0.31),
        (0.7845, 4.0, 0.196125),
        (0.8234, 10.0, 0.08234),
    ]
    for row, (final, hours, score) in zip(rows, expected, strict=True):
        assert row["final_map50_95"] == final
        assert float(row["hours"]) == pytest.approx(hours, rel=1e-12)
        assert float(row["efficiency_score"]) == pytest.approx(score, rel=1e-12)


def test_compare_models(conn: Conn, trained: dict[str, Row]) -> None:
    rows = query(conn, COMPARE_MODELS)
    assert [r["model_type"] for r in rows] == ["yolov8m", "yolov8s", "yolov8n"]
    expected = [(0.8234, 36000.0, 1), (0.7845, 14400.0, 1), (0.56, 5400.0, 2)]
    for row, (avg_map, avg_duration, runs) in zip(rows, expected, strict=True):
        assert row["avg_map"] == pytest.approx(avg_map, rel=1e-12)
        assert row["avg_duration"] == pytest.approx(avg_duration, rel=1e-12)
        assert row["training_runs"] == runs


# --- leaderboard order --------------------------------------------------------------------------


def test_leaderboard_tie_breaks(conn: Conn) -> None:
    """Equal mAP50-95: higher mAP50 first, then the faster model (its best benchmark), then the
    one that completed first; a model without benchmark or without mAP50 goes after."""
    names = ["top", "a", "b", "c", "d", "e", "f"]
    sessions = {n: start(conn, n, "yolov8n") for n in names}
    base: datetime = max(s["started_at"] for s in sessions.values()) + timedelta(hours=1)
    # name: (final_map50_95, final_map50, benchmark avg ms of each benchmark, minutes to complete)
    plan: dict[str, tuple[float, float | None, list[float], int]] = {
        "top": (0.75, 0.50, [], 60),  # best mAP50-95 beats every tie-break
        "a": (0.70, 0.90, [], 50),  # higher mAP50 beats speed and completion time
        "b": (0.70, 0.80, [20.0, 5.0], 40),  # its best benchmark (5 ms) counts
        "c": (0.70, 0.80, [10.0], 10),  # faster beats completing earlier
        "d": (0.70, 0.80, [], 20),  # no benchmark: after every benchmarked model
        "e": (0.70, 0.80, [], 30),  # same as d but completed later
        "f": (0.70, None, [1.0], 5),  # no mAP50: after every model with one
    }
    for name, (m95, m50, bench, minutes) in plan.items():
        for ms in bench:
            call_one(conn, "record_benchmark", session_id=sessions[name]["id"], avg_inference_ms=ms)
        call_one(
            conn,
            "finish_session",
            session_id=sessions[name]["id"],
            final_map50_95=m95,
            final_map50=m50,
            completed_at=base + timedelta(minutes=minutes),
        )

    rows = query(
        conn, "select rank, session_name, inference_ms from models_leaderboard order by rank"
    )
    assert [(r["rank"], r["session_name"]) for r in rows] == list(enumerate(names, start=1))
    assert [r["inference_ms"] for r in rows] == [None, None, 5.0, 10.0, None, None, 1.0]


def test_leaderboard_holds_the_top_50_completed_models(conn: Conn) -> None:
    for i in range(53):
        s = start(conn, f"run {i:02d}", "yolov8n")
        call_one(conn, "finish_session", session_id=s["id"], final_map50_95=(i + 1) / 100)
    # Not completed, or completed without final metrics: never on the board.
    scalar(
        conn,
        "log_epochs",
        session_id=start(conn, "running", "yolov8n")["id"],
        metrics=[{"epoch": 0, "map50_95": 0.99}],
    )
    failed = start(conn, "failed", "yolov8n")
    scalar(conn, "log_epochs", session_id=failed["id"], metrics=[{"epoch": 0, "map50_95": 0.98}])
    call_one(conn, "finish_session", session_id=failed["id"], status="failed")
    call_one(conn, "finish_session", session_id=start(conn, "no finals", "yolov8n")["id"])

    rows = query(
        conn, "select rank, session_name, final_map50_95 from models_leaderboard order by rank"
    )
    assert [r["rank"] for r in rows] == list(range(1, 51))
    assert [r["session_name"] for r in rows] == [f"run {i:02d}" for i in range(52, 2, -1)]
    assert rows[0]["final_map50_95"] == 0.53 and rows[-1]["final_map50_95"] == 0.04
    assert query(conn, "select count(*) as n from models_leaderboard where rank = 1")[0]["n"] == 1
