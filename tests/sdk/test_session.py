"""The write path users see: start_session, log_epoch(s), results, heartbeat, finish, resume."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

import mltrack_sdk as mlt
from mltrack_sdk.connect import Target, resolve_transport
from mltrack_sdk.transports import supabase
from mltrack_sdk.transports.postgres import PostgresTransport

Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test has its own MLTRACK_HOME (spool, dead letters) and no ambient configuration."""
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    for name in ("MLTRACK_DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def session_row(conn: Conn, session_id: str) -> dict[str, Any]:
    row = conn.execute("select * from training_sessions where id = %s", (session_id,)).fetchone()
    assert row is not None
    return row


def epochs_of(conn: Conn, session_id: str) -> list[int]:
    rows = conn.execute(
        "select epoch from training_metrics where session_id = %s order by epoch", (session_id,)
    ).fetchall()
    return [r["epoch"] for r in rows]


def epoch_metrics(epoch: int) -> dict[str, float]:
    # mAP peaks at epoch 3, so the best epoch is not simply the last one.
    map50_95 = 0.5 - abs(epoch - 3) * 0.05
    return {
        "box_loss": 1.5 / (epoch + 1),
        "cls_loss": 0.9 / (epoch + 1),
        "total_loss": 3.0 / (epoch + 1),
        "map50": map50_95 + 0.2,
        "map50_95": map50_95,
        "precision": 0.7,
        "recall": 0.6,
    }


def test_with_block_completes_with_finals_from_the_best_epoch(db_url: str, conn: Conn) -> None:
    with mlt.start_session(
        "YOLOv8n Mastomys v1",
        model_type="yolov8n",
        dataset_name="mastomys_v2",
        epochs=6,
        batch_size=16,
        learning_rate=0.01,
        img_size=640,
        config={"mosaic": 1.0},
        database_url=db_url,
    ) as run:
        assert session_row(conn, run.id)["status"] == "running"
        for epoch in range(6):
            run.log_epoch(epoch, **epoch_metrics(epoch))
    row = session_row(conn, run.id)
    assert row["status"] == "completed"
    assert row["config"] == {"mosaic": 1.0}
    assert (row["batch_size"], row["img_size"], row["learning_rate"]) == (16, 640, 0.01)
    assert row["best_epoch"] == 3
    assert row["final_map50_95"] == pytest.approx(0.5)
    assert row["final_map50"] == pytest.approx(0.7)
    assert epochs_of(conn, run.id) == list(range(6))
    assert run.status == "completed"


def test_without_with_and_explicit_finals(db_url: str, conn: Conn) -> None:
    run = mlt.start_session("plain", model_type="yolov8s", epochs=3, database_url=db_url)
    run.log_epochs(
        [{"epoch": 0, "box_loss": 1.0}, {"epoch": 1, "box_loss": 0.8, "extra": {"lr0": 0.01}}]
    )
    run.log_epoch(1, map50=0.5)  # merges into epoch 1
    run.finish("completed", final_map50=0.9, model_path="runs/best.pt")
    run.finish("completed")  # a second finish does nothing
    row = session_row(conn, run.id)
    assert (row["status"], row["final_map50"], row["model_path"]) == (
        "completed",
        0.9,
        "runs/best.pt",
    )
    metrics = conn.execute(
        "select epoch, box_loss, map50, extra from training_metrics"
        " where session_id = %s order by epoch",
        (run.id,),
    ).fetchall()
    assert metrics == [
        {"epoch": 0, "box_loss": 1.0, "map50": None, "extra": {}},
        {"epoch": 1, "box_loss": 0.8, "map50": 0.5, "extra": {"lr0": 0.01}},
    ]
    with pytest.raises(mlt.SessionClosedError):
        run.log_epoch(2, box_loss=0.5)


def test_exception_inside_marks_failed_with_reason(db_url: str, conn: Conn) -> None:
    with (
        pytest.raises(RuntimeError, match="CUDA out of memory"),
        mlt.start_session("oom", model_type="yolov8n", epochs=5, database_url=db_url) as run,
    ):
        run.log_epoch(0, box_loss=1.0)
        raise RuntimeError("CUDA out of memory")
    row = session_row(conn, run.id)
    assert row["status"] == "failed"
    assert row["status_reason"] == "RuntimeError: CUDA out of memory"
    assert epochs_of(conn, run.id) == [0]


def test_resume_by_id_and_by_name(db_url: str, conn: Conn) -> None:
    first = conn.execute(
        "select id from start_session("
        "session_name => 'resumable', model_type => 'yolov8n', epochs => 4)"
    ).fetchone()
    assert first is not None
    session_id = str(first["id"])
    conn.execute('select log_epochs(%s, \'[{"epoch": 0, "box_loss": 1.0}]\')', (session_id,))

    run = mlt.start_session(resume=session_id, database_url=db_url)
    assert (run.id, run.epochs) == (session_id, 4)
    run.log_epoch(1, box_loss=0.9)
    run._writer.flush(10)  # not finished yet: resume again by name below
    run._heartbeat.stopped.set()
    run._writer.stop()

    again = mlt.start_session(resume="resumable", database_url=db_url)
    assert again.id == session_id
    again.log_epoch(2, box_loss=0.8)
    again.finish()
    run._transport.close()
    assert epochs_of(conn, session_id) == [0, 1, 2]
    assert session_row(conn, session_id)["status"] == "completed"

    with pytest.raises(mlt.InvalidTransitionError) as done:
        mlt.start_session(resume=session_id, database_url=db_url)
    assert done.value.field == "status"
    with pytest.raises(mlt.NotFoundError) as missing:
        mlt.start_session(resume="no such run", database_url=db_url)
    assert missing.value.field == "resume"


def test_stop_requested_after_request_stop(db_url: str, conn: Conn) -> None:
    with mlt.start_session(
        "stoppable", model_type="yolov8n", epochs=100, database_url=db_url, heartbeat_interval=0.05
    ) as run:
        assert run.stop_requested is False
        assert run.heartbeat() is False
        conn.execute("select request_stop(%s, 'user pressed stop')", (run.id,))
        deadline = time.monotonic() + 10
        epoch = 0
        while not run.stop_requested and time.monotonic() < deadline:
            run.log_epoch(epoch, box_loss=1.0)
            epoch += 1
            time.sleep(0.01)
        assert run.stop_requested
        assert run.heartbeat() is True
    row = session_row(conn, run.id)
    assert row["status"] == "completed"
    assert row["last_heartbeat_at"] is not None


def test_validation_and_benchmark_are_recorded_once(db_url: str, conn: Conn) -> None:
    with mlt.start_session("results", model_type="yolov8n", epochs=2, database_url=db_url) as run:
        run.log_epoch(0, map50=0.5, map50_95=0.3)
        run.record_validation(
            [
                {"map50": 0.8, "map50_95": 0.55, "images": 100, "instances": 400},
                {"class_name": "mastomys", "class_id": 0, "map50": 0.81, "precision": 0.9},
            ]
        )
        bench_id = run.record_benchmark(8.0, p50_inference_ms=7.9, device="cpu", img_size=640)
    validation = conn.execute(
        "select class_name, map50 from validation_results"
        " where session_id = %s order by class_name",
        (run.id,),
    ).fetchall()
    assert validation == [
        {"class_name": "all", "map50": 0.8},
        {"class_name": "mastomys", "map50": 0.81},
    ]
    # The client-made id makes a replayed benchmark a no-op.
    replayer = PostgresTransport(db_url)
    replayer.rpc(
        "record_benchmark",
        {"session_id": run.id, "avg_inference_ms": 8.0, "benchmark_id": bench_id},
    )
    replayer.close()
    benches = conn.execute(
        "select id, fps from model_benchmarks where session_id = %s", (run.id,)
    ).fetchall()
    assert [str(b["id"]) for b in benches] == [bench_id]
    assert session_row(conn, run.id)["best_inference_ms"] == 8.0


def test_configuration_order(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(mlt.NotConfiguredError, match="mltrack up"):
        resolve_transport()

    made: list[Target] = []
    open_transport = supabase.open_transport

    def recording(target: Target) -> Any:  # only which target it is opened with is checked
        made.append(target)
        return open_transport(target)

    monkeypatch.setattr(supabase, "open_transport", recording)
    monkeypatch.setenv("SUPABASE_URL", "https://x.supabase.co")
    monkeypatch.setenv("SUPABASE_KEY", "service-key")
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", "user-jwt")
    from_supabase = resolve_transport()
    from_supabase.close()
    assert from_supabase.name == "supabase"
    assert made == [Target(None, "https://x.supabase.co", "service-key", "user-jwt")]

    monkeypatch.setenv("MLTRACK_DATABASE_URL", db_url)
    from_env = resolve_transport()
    assert isinstance(from_env, PostgresTransport) and from_env.url == db_url
    elsewhere = resolve_transport(database_url="postgresql://elsewhere/db")
    assert isinstance(elsewhere, PostgresTransport) and elsewhere.url == "postgresql://elsewhere/db"
    given = PostgresTransport(db_url)
    assert resolve_transport(database_url="postgresql://elsewhere/db", transport=given) is given

    # The environment URL is used by start_session too; a given transport is not closed by it.
    with mlt.start_session("from env", model_type="yolov8n", epochs=1, transport=given) as run:
        run.log_epoch(0, box_loss=0.1)
    assert given.rpc("heartbeat", {"session_id": run.id}) is False
    given.close()


def test_transport_errors_are_typed(db_url: str) -> None:
    transport = PostgresTransport(db_url)
    try:
        with pytest.raises(mlt.InvalidValueError) as bad:
            transport.rpc("start_session", {"session_name": "x", "model_type": "y", "epochs": -1})
        assert bad.value.field == "epochs" and bad.value.sqlstate == "MT001"
        rows = transport.rpc("mark_stale_sessions", {"timeout_seconds": 3600})
        assert rows == []
    finally:
        transport.close()
    down = PostgresTransport("postgresql://postgres@127.0.0.1:1/postgres", connect_timeout=1)
    with pytest.raises(mlt.transports.base.TransportUnavailable):  # type: ignore[attr-defined]
        down.rpc("heartbeat", {"session_id": "00000000-0000-0000-0000-000000000000"})
    down.close()
