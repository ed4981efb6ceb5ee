"""Client reads over the real Postgres transport, of data written through the SQL API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest

from mltrack_sdk.client import Client
from mltrack_sdk.errors import InvalidValueError, NotFoundError
from mltrack_sdk.models import (
    ActiveSession,
    EpochMetrics,
    LeaderboardEntry,
    ModelBenchmark,
    SessionDetail,
    SessionSummary,
    TrainingSession,
)
from mltrack_sdk.transports.postgres import PostgresTransport

from .data import call, epochs, start

Conn = psycopg.Connection[Any]


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    transport = PostgresTransport(db_url)
    try:
        with Client(transport) as c:
            yield c
    finally:
        transport.close()


def test_sessions_are_newest_first_filtered_and_limited(conn: Conn, client: Client) -> None:
    a = start(conn, "a")
    b = start(conn, "b", status="pending")
    c = start(conn, "c")
    call(conn, "finish_session", session_id=c["id"], status="completed")

    sessions = client.sessions()
    assert all(isinstance(s, TrainingSession) for s in sessions)
    assert [s.session_name for s in sessions] == ["c", "b", "a"]
    assert sessions[2].id == a["id"] and sessions[2].status == "running"
    assert sessions[1].id == b["id"] and sessions[1].status == "pending"
    assert sessions[0].status == "completed" and sessions[0].completed_at is not None

    assert [s.session_name for s in client.sessions(status="running")] == ["a"]
    assert [s.session_name for s in client.sessions(status="failed")] == []
    assert [s.session_name for s in client.sessions(limit=2)] == ["c", "b"]
    with pytest.raises(InvalidValueError) as info:
        client.sessions(limit=0)
    assert info.value.field == "limit"


def test_session_detail_has_metrics_validation_and_benchmarks(conn: Conn, client: Client) -> None:
    s = start(conn, "detail", epochs=3, batch_size=16, config={"lr0": 0.01})
    sid = s["id"]
    # Out of order on purpose: the detail orders metrics by epoch.
    epochs(
        conn,
        sid,
        {"epoch": 2, "map50": 0.6, "map50_95": 0.4, "total_loss": 1.0},
        {"epoch": 0, "map50": 0.2, "map50_95": 0.1, "total_loss": 3.0},
        {"epoch": 1, "map50": 0.7, "map50_95": 0.5, "total_loss": 2.0, "extra": {"x": 1}},
    )
    call(
        conn,
        "record_validation",
        session_id=sid,
        results=[
            {"map50": 0.7, "map50_95": 0.5, "images": 10},
            {"class_name": "cat", "class_id": 0, "map50": 0.8, "map50_95": 0.6},
        ],
    )
    slow = call(conn, "record_benchmark", session_id=sid, avg_inference_ms=20.0, device="cpu")
    fast = call(conn, "record_benchmark", session_id=sid, avg_inference_ms=5.0, device="cuda:0")

    detail = client.session(sid)
    assert isinstance(detail, SessionDetail)
    assert detail.session.id == sid
    assert detail.session.batch_size == 16 and detail.session.config == {"lr0": 0.01}
    assert detail.session.best_epoch == 1 and detail.session.best_map50_95 == 0.5
    assert detail.session.epochs_completed == 3 and detail.session.best_inference_ms == 5.0
    assert [m.epoch for m in detail.metrics] == [0, 1, 2]
    assert [m.total_loss for m in detail.metrics] == [3.0, 2.0, 1.0]
    assert detail.metrics[1].extra == {"x": 1}
    assert {(v.class_name, v.map50_95) for v in detail.validation_results} == {
        ("all", 0.5),
        ("cat", 0.6),
    }
    assert [b.id for b in detail.benchmarks] == [fast["id"], slow["id"]]
    assert detail.benchmarks[0].fps == pytest.approx(200.0)

    # The same by string id, and the metrics on their own.
    assert client.session(str(sid)).session.id == sid
    metrics = client.metrics(sid)
    assert all(isinstance(m, EpochMetrics) for m in metrics)
    assert [m.map50 for m in metrics] == [0.2, 0.7, 0.6]
    assert all(isinstance(b, ModelBenchmark) for b in client.benchmarks(sid))


def test_unknown_session_is_not_found(conn: Conn, client: Client) -> None:
    start(conn, "someone")
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError) as info:
        client.session(missing)
    assert str(missing) in info.value.message
    assert info.value.sqlstate == "MT005"
    assert client.metrics(missing) == []
    with pytest.raises(InvalidValueError) as bad:
        client.session("not-a-uuid")
    assert bad.value.field == "session_id"


def test_views_active_summary_and_leaderboard(conn: Conn, client: Client) -> None:
    running = start(conn, "running", epochs=4)
    epochs(conn, running["id"], {"epoch": 0, "map50_95": 0.1, "total_loss": 2.5})
    scores = {"good": 0.8, "better": 0.9, "ok": 0.5}
    done = {}
    for name, score in scores.items():
        row = start(conn, name)
        call(
            conn,
            "finish_session",
            session_id=row["id"],
            status="completed",
            final_map50_95=score,
            final_map50=score,
        )
        done[name] = row["id"]
    start(conn, "pending", status="pending")

    active = client.active_sessions()
    assert [a.id for a in active] == [running["id"]]
    assert isinstance(active[0], ActiveSession)
    assert active[0].latest_epoch == 0 and active[0].progress_percent == 25.0
    assert active[0].total_loss == 2.5

    board = client.leaderboard()
    assert all(isinstance(e, LeaderboardEntry) for e in board)
    assert [(e.rank, e.session_name) for e in board] == [(1, "better"), (2, "good"), (3, "ok")]
    assert board[0].id == done["better"] and board[0].final_map50_95 == 0.9
    assert [e.session_name for e in client.leaderboard(limit=1)] == ["better"]

    summary = client.performance_summary()
    assert all(isinstance(s, SessionSummary) for s in summary)
    assert [s.session_name for s in summary] == ["pending", "ok", "better", "good", "running"]
    by_name = {s.session_name: s for s in summary}
    assert by_name["running"].min_total_loss == 2.5
    assert by_name["good"].final_map50_95 == 0.8 and by_name["good"].duration_seconds is not None
    assert len(client.performance_summary(limit=2)) == 2


def test_datasets_hyperparameter_runs_and_all_benchmarks(conn: Conn, client: Client) -> None:
    call(conn, "upsert_dataset", name="coco8", class_names=["a", "b"], train_size=4, val_size=4)
    call(conn, "upsert_dataset", name="birds", train_size=1)
    run = call(conn, "create_hyperparameter_run", name="sweep", search_space={"lr0": [0.1, 0.01]})
    s1, s2 = start(conn, "b1"), start(conn, "b2", hyperparameter_run_id=run["id"])
    call(conn, "record_benchmark", session_id=s1["id"], avg_inference_ms=9.0)
    call(conn, "record_benchmark", session_id=s2["id"], avg_inference_ms=3.0)

    datasets = client.datasets()
    assert [d.name for d in datasets] == ["birds", "coco8"]
    assert datasets[1].class_names == ["a", "b"] and datasets[1].num_classes == 2
    assert datasets[1].total_size == 8

    runs = client.hyperparameter_runs()
    assert [r.id for r in runs] == [run["id"]]
    assert runs[0].search_space == {"lr0": [0.1, 0.01]} and runs[0].trials_started == 1

    assert [b.session_id for b in client.benchmarks()] == [s2["id"], s1["id"]]
    assert [b.avg_inference_ms for b in client.benchmarks(s1["id"])] == [9.0]


def test_request_stop_reaches_the_next_heartbeat(conn: Conn, client: Client) -> None:
    s = start(conn, "stop me")
    stopped = client.request_stop(s["id"], reason="diverged")
    assert isinstance(stopped, TrainingSession)
    assert stopped.stop_requested is True and stopped.id == s["id"]
    assert call(conn, "heartbeat", session_id=s["id"])["heartbeat"] is True
    with pytest.raises(NotFoundError):
        client.request_stop(uuid.uuid4())


def test_client_resolves_its_own_transport_from_a_url(conn: Conn, db_url: str) -> None:
    s = start(conn, "resolved")
    with Client(database_url=db_url) as client:
        assert [x.id for x in client.sessions()] == [s["id"]]
        assert isinstance(client.sessions()[0].id, UUID)


def test_models_accept_postgrest_strings_and_ignore_extra_columns() -> None:
    sid = uuid.uuid4()
    row = {
        "id": str(sid),
        "session_name": "x",
        "status": "running",
        "created_at": "2026-11-26T09:00:00.123456+00:00",
        "a_column_added_later": 1,
    }
    session = TrainingSession.model_validate(row)
    assert session.id == sid and session.created_at is not None
    assert session.created_at.microsecond == 123456
    with pytest.raises(Exception, match="frozen"):
        session.status = "failed"
