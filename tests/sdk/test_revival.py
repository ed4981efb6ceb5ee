"""A live run that lost its link is not failed for good: the stale check marks it failed
(``heartbeat_lost_at``), its heartbeat (or its finish) brings it back, and the user is told
what happened. The link hangs through a real TCP proxy (tests/faults.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

import mltrack_sdk as mlt
from tests.faults import Proxy


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


def session_row(url: str, session_id: str) -> dict[str, Any]:
    return query(url, "select * from training_sessions where id = %s", session_id)[0]


def mark_stale(url: str) -> list[str]:
    return [
        str(r["id"])
        for r in query(url, "select id from mark_stale_sessions(timeout_seconds => 1) id")
    ]


def log(run: mlt.Session, epochs: range) -> None:
    for epoch in epochs:
        best = epoch == 6
        run.log_epoch(
            epoch, box_loss=1.0, map50=0.9 if best else 0.4, map50_95=0.7 if best else 0.3
        )


def mltrack_warnings(record: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, mlt.MltrackWarning)]


def test_a_run_whose_link_hung_past_the_stale_check_comes_back_and_completes(
    db_url: str,
) -> None:
    with Proxy(db_url) as proxy:
        run = mlt.start_session(
            "revived",
            model_type="yolov8n",
            epochs=20,
            database_url=proxy.url,
            heartbeat_interval=0.2,
        )
        log(run, range(5))
        assert run._writer.flush(10)
        proxy.hang()  # heartbeats stop getting through; nothing errors
        time.sleep(1.5)
        assert mark_stale(db_url) == [run.id]
        row = session_row(db_url, run.id)
        assert row["status"] == "failed" and row["heartbeat_lost_at"] is not None
        with pytest.warns(mlt.MltrackWarning) as record:
            proxy.resume()  # the heartbeat held in the link arrives: the run goes on
            deadline = time.monotonic() + 10
            while session_row(db_url, run.id)["status"] != "running":
                assert time.monotonic() < deadline, "the heartbeat did not revive the run"
                time.sleep(0.05)
            while not run._notes:  # the heartbeat thread looks after the gap, then tells
                assert time.monotonic() < deadline, "the heartbeat thread did not tell"
                time.sleep(0.05)
            log(run, range(5, 10))
            run.finish(timeout=20)
    notes = mltrack_warnings(record)
    assert len(notes) == 1, notes
    assert f"session {run.id} was marked failed at" in notes[0]
    assert "heartbeat lost" in notes[0] and "running again" in notes[0]
    done = session_row(db_url, run.id)
    assert done["status"] == "completed" and done["status_reason"] is None
    assert done["best_epoch"] == 6
    assert (done["final_map50"], done["final_map50_95"]) == (0.9, 0.7)
    assert done["heartbeat_lost_at"] == row["heartbeat_lost_at"]  # the record stays


def test_finish_tells_that_the_run_had_been_marked_failed(db_url: str) -> None:
    # The heartbeat thread never looks (its interval is long); finish_session's row tells.
    run = mlt.start_session(
        "silent", model_type="yolov8n", epochs=20, database_url=db_url, heartbeat_interval=60
    )
    log(run, range(5))
    assert run._writer.flush(10)
    time.sleep(1.2)
    assert mark_stale(db_url) == [run.id]
    log(run, range(5, 10))
    with pytest.warns(mlt.MltrackWarning, match="was marked failed at .* it ended completed"):
        run.finish(timeout=20)
    done = session_row(db_url, run.id)
    assert done["status"] == "completed" and done["final_map50_95"] == 0.7
