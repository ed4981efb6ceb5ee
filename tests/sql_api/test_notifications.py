"""What direct listeners (LISTEN mltrack_changes) receive for each SQL API call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from .api import Conn, Listener, Row, call_one, log_epochs, scalar

StartFn = Callable[..., Row]


def ordered(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Payloads of one transaction in a stable order (their order across tables is not API)."""
    return sorted(payloads, key=lambda p: json.dumps(p, sort_keys=True))


def test_api_calls_notify_mltrack_changes(conn: Conn, start: StartFn, listener: Listener) -> None:
    s = start()
    sid = str(s["id"])
    session_update = {"table": "training_sessions", "op": "UPDATE", "id": sid, "session_id": sid}
    assert listener.take(1) == [
        {"table": "training_sessions", "op": "INSERT", "id": sid, "session_id": sid}]  # fmt: skip

    log_epochs(conn, s["id"], [{"epoch": e} for e in range(3)])
    assert ordered(listener.take(2)) == ordered([
        {"table": "training_metrics", "op": "INSERT", "session_id": sid, "count": 3,
         "min_epoch": 0, "max_epoch": 2},
        session_update,
    ])  # fmt: skip

    # A replay rewrites the same epochs: the notification says UPDATE.
    log_epochs(conn, s["id"], [{"epoch": e} for e in range(3)])
    assert ordered(listener.take(2)) == ordered([
        {"table": "training_metrics", "op": "UPDATE", "session_id": sid, "count": 3,
         "min_epoch": 0, "max_epoch": 2},
        session_update,
    ])  # fmt: skip

    # New and known epochs in one batch: one notification for each kind of write.
    log_epochs(conn, s["id"], [{"epoch": e} for e in range(2, 5)])
    assert ordered(listener.take(3)) == ordered([
        {"table": "training_metrics", "op": "INSERT", "session_id": sid, "count": 2,
         "min_epoch": 3, "max_epoch": 4},
        {"table": "training_metrics", "op": "UPDATE", "session_id": sid, "count": 1,
         "min_epoch": 2, "max_epoch": 2},
        session_update,
    ])  # fmt: skip

    results = [{"class_name": "all", "map50": 0.5}, {"class_name": "car", "map50": 0.4}]
    scalar(conn, "record_validation", session_id=s["id"], results=results)
    assert listener.take(1) == [
        {"table": "validation_results", "op": "INSERT", "session_id": sid, "count": 2}]  # fmt: skip

    bid = uuid.uuid4()
    call_one(conn, "record_benchmark", session_id=s["id"], avg_inference_ms=5.0, benchmark_id=bid)
    assert ordered(listener.take(2)) == ordered([
        {"table": "model_benchmarks", "op": "INSERT", "id": str(bid), "session_id": sid},
        session_update,
    ])  # fmt: skip

    scalar(conn, "heartbeat", session_id=s["id"])
    assert listener.take(1) == [session_update]
    call_one(conn, "request_stop", session_id=s["id"])
    assert listener.take(1) == [session_update]
    call_one(conn, "finish_session", session_id=s["id"])
    assert listener.take(1) == [session_update]


def test_datasets_and_hyperparameter_runs_notify_without_a_session(
    conn: Conn, listener: Listener
) -> None:
    ds = call_one(conn, "upsert_dataset", name="coco8")
    dataset = {"table": "training_datasets", "id": str(ds["id"]), "session_id": None}
    assert listener.take(1) == [{**dataset, "op": "INSERT"}]
    call_one(conn, "upsert_dataset", name="coco8", train_size=8)
    assert listener.take(1) == [{**dataset, "op": "UPDATE"}]
    run = call_one(conn, "create_hyperparameter_run", name="sweep")
    assert listener.take(1) == [
        {"table": "hyperparameter_runs", "op": "INSERT", "id": str(run["id"]), "session_id": None}
    ]
