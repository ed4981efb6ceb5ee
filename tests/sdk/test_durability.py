"""Never slow, never lost: outages, a killed process, a hanging backend, rejected batches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

import mltrack_sdk as mlt
from mltrack_sdk.migrate import migrate
from mltrack_sdk.spool import Spool

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    for name in ("MLTRACK_DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def query(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as c:
        cur = c.execute(sql, params)
        return cur.fetchall() if cur.description else []


def metrics_count(url: str, session_id: str) -> tuple[int, int]:
    row = query(
        url,
        "select count(*) as n, count(distinct epoch) as d from training_metrics"
        " where session_id = %s",
        session_id,
    )[0]
    return row["n"], row["d"]


def test_outage_before_start_and_restart_mid_run(
    pg_server_factory: Callable[[], Any], home: Path
) -> None:
    server = pg_server_factory()
    url = server.admin_url
    migrate(url)
    server.stop()

    timings: list[float] = []
    with pytest.warns(mlt.MltrackWarning, match="backend unavailable"):
        run = mlt.start_session(
            "outage", model_type="yolov8n", epochs=1000, database_url=url, heartbeat_interval=0.2
        )
        for epoch in range(1000):
            if epoch == 500:
                time.sleep(0.3)  # the writer has spooled the first half by now
                server.start()
            t0 = time.perf_counter()
            run.log_epoch(epoch, box_loss=1.0 / (epoch + 1), map50=0.5, map50_95=0.3, precision=0.6)
            timings.append(time.perf_counter() - t0)
        run.finish(timeout=30)

    assert metrics_count(url, run.id) == (1000, 1000)
    row = query(
        url, "select status, epochs_completed from training_sessions where id = %s", run.id
    )[0]
    assert row["status"] == "completed"
    assert not Spool().has_pending(run.id)
    assert not Spool().dead_letter_path.exists()
    # The training thread never waited on the network (a connection attempt takes milliseconds
    # at best, seconds at worst); the bound leaves room for a GIL switch to the writer.
    timings.sort()
    assert timings[len(timings) // 2] < 0.0005
    assert timings[-1] < 0.05


CRASHING_SCRIPT = textwrap.dedent(
    """
    import sys, time, mltrack_sdk as mlt
    run = mlt.start_session("crashes", model_type="yolov8n", epochs=100, heartbeat_interval=0.2)
    for epoch in range(40):
        run.log_epoch(epoch, box_loss=1.0, map50=0.4)
    run.record_benchmark(9.5, device="cpu")
    assert run._writer.flush(30)  # spooled (the database is down)
    print(run.id, flush=True)
    time.sleep(600)
    """
)


def test_killed_process_is_synced_and_marked_stale(
    pg_server_factory: Callable[[], Any], home: Path, tmp_path: Path
) -> None:
    server = pg_server_factory()
    url = server.admin_url
    migrate(url)
    server.stop()
    env = {**os.environ, "MLTRACK_HOME": str(home), "MLTRACK_DATABASE_URL": url}
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_SCRIPT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        session_id = child.stdout.readline().strip()
        assert session_id, child.stderr.read() if child.stderr else ""
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    lines = Spool().path(session_id).read_text().splitlines()
    assert json.loads(lines[0])["function"] == "start_session"

    server.start()
    done = subprocess.run(
        [sys.executable, "-m", "mltrack_sdk.cli", "sync", "--database-url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"Replayed {len(lines)} call(s)." in done.stdout
    assert metrics_count(url, session_id) == (40, 40)
    assert (
        query(url, "select count(*) as n from model_benchmarks where session_id = %s", session_id)[
            0
        ]["n"]
        == 1
    )
    assert not Spool().has_pending(session_id)

    again = subprocess.run(
        [sys.executable, "-m", "mltrack_sdk.cli", "sync", "--database-url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Replayed 0 call(s)." in again.stdout

    time.sleep(1.1)
    stale = query(url, "select * from mark_stale_sessions(1)")
    assert [str(r["mark_stale_sessions"]) for r in stale] == [session_id]
    row = query(
        url, "select status, status_reason from training_sessions where id = %s", session_id
    )[0]
    assert row["status"] == "failed" and row["status_reason"].startswith("heartbeat lost")


def test_next_start_session_replays_earlier_spool(db_url: str, home: Path) -> None:
    spooled = "11111111-2222-3333-4444-555555555555"
    Spool().append(
        spooled,
        [
            {
                "function": "start_session",
                "args": {
                    "session_name": "earlier",
                    "model_type": "yolov8n",
                    "epochs": 3,
                    "session_id": spooled,
                },
            },
            {
                "function": "log_epochs",
                "args": {"session_id": spooled, "metrics": [{"epoch": 0, "box_loss": 1.0}]},
            },
            {
                "function": "log_epochs",
                "args": {"session_id": spooled, "metrics": [{"epoch": 1, "box_loss": 0.9}]},
            },
        ],
    )
    with mlt.start_session("later", model_type="yolov8n", epochs=1, database_url=db_url) as run:
        run.log_epoch(0, box_loss=0.5)
    assert metrics_count(db_url, spooled) == (2, 2)
    assert not Spool().has_pending(spooled)


def test_finish_returns_within_its_bound_when_the_database_hangs(db_url: str, home: Path) -> None:
    run = mlt.start_session("hangs", model_type="yolov8n", epochs=10, database_url=db_url)
    run.log_epoch(0, box_loss=1.0)
    assert run._writer.flush(10)
    with psycopg.connect(db_url) as locker:
        # Holds the session row, so finish_session() blocks in the database.
        locker.execute("select * from training_sessions where id = %s for update", (run.id,))
        run.log_epoch(1, box_loss=0.9)
        t0 = time.monotonic()
        with pytest.warns(
            mlt.MltrackWarning, match="did not take everything within 1 s|backend unavailable"
        ):
            run.finish(timeout=1)
        assert time.monotonic() - t0 < 3
        locker.rollback()
    time.sleep(0.5)
    done = subprocess.run(
        [sys.executable, "-m", "mltrack_sdk.cli", "sync", "--database-url", db_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        query(db_url, "select status from training_sessions where id = %s", run.id)[0]["status"]
        == "completed"
    )
    assert metrics_count(db_url, run.id) == (2, 2)


def test_rejected_batch_goes_to_dead_letter_with_warning(db_url: str, home: Path) -> None:
    run = mlt.start_session("deleted", model_type="yolov8n", epochs=10, database_url=db_url)
    run.log_epoch(0, box_loss=1.0)
    assert run._writer.flush(10)
    query(db_url, "delete from training_sessions where id = %s", run.id)
    run.log_epoch(1, box_loss=0.9)
    with pytest.warns(mlt.MltrackWarning, match=r"rejected (log_epochs|finish_session)\(\)"):
        run.finish()
    dead = [json.loads(line) for line in Spool().dead_letter_path.read_text().splitlines()]
    assert [(d["function"], d["sqlstate"]) for d in dead] == [
        ("log_epochs", "MT005"),
        ("finish_session", "MT005"),
    ]
    assert "session_id does not match any training session" in dead[0]["error"]
    assert dead[0]["args"]["metrics"] == [{"box_loss": 0.9, "epoch": 1}]


def test_sync_error_exits(home: Path, tmp_path: Path) -> None:
    spooled = "11111111-2222-3333-4444-555555555555"
    Spool().append(spooled, [{"function": "heartbeat", "args": {"session_id": spooled}}])
    env = {k: v for k, v in os.environ.items() if k not in ("MLTRACK_DATABASE_URL", "SUPABASE_URL")}
    env["MLTRACK_HOME"] = str(home)
    down = subprocess.run(
        [
            sys.executable,
            "-m",
            "mltrack_sdk.cli",
            "sync",
            "--database-url",
            "postgresql://postgres@127.0.0.1:1/postgres",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert down.returncode == 1
    assert down.stderr.startswith("Error: cannot reach the database")
    assert "Traceback" not in down.stderr
    assert Spool().has_pending(spooled)  # kept for the next try
    unconfigured = subprocess.run(
        [sys.executable, "-m", "mltrack_sdk.cli", "sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unconfigured.returncode == 1
    assert "mltrack up" in unconfigured.stderr
