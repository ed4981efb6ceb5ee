"""Many writers at once: no lost or duplicated rows, no deadlock."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

import mltrack_sdk as mlt

Conn = psycopg.Connection[dict[str, Any]]

PROCESSES = 16
EPOCHS = 200

WORKER = textwrap.dedent(
    """
    import sys, mltrack_sdk as mlt
    n, epochs = int(sys.argv[1]), int(sys.argv[2])
    run = mlt.start_session(f"worker {n}", model_type="yolov8n", epochs=epochs, flush_interval=0.01)
    with run:
        for epoch in range(epochs):
            p = epoch / epochs
            run.log_epoch(epoch, box_loss=1.0 / (epoch + 1), map50=p, map50_95=p / 2)
    print(run.id)
    """
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_sixteen_processes_log_at_once(db_url: str, conn: Conn, home: Path) -> None:
    env = {**os.environ, "MLTRACK_HOME": str(home), "MLTRACK_DATABASE_URL": db_url}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n), str(EPOCHS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    ids = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        ids.append(out.strip())
    rows = conn.execute(
        "select s.id::text as id, s.status, s.epochs_completed, count(m.epoch) as n,"
        " count(distinct m.epoch) as d, min(m.epoch) as lo, max(m.epoch) as hi"
        " from training_sessions s left join training_metrics m on m.session_id = s.id"
        " group by s.id order by s.id"
    ).fetchall()
    assert sorted(ids) == [r["id"] for r in rows]
    for r in rows:
        assert (r["status"], r["n"], r["d"], r["lo"], r["hi"]) == (
            "completed",
            EPOCHS,
            EPOCHS,
            0,
            EPOCHS - 1,
        )
    assert not (home / "spool").exists() or not list((home / "spool").glob("*.jsonl"))


def test_threads_share_nothing_but_the_database(db_url: str, conn: Conn) -> None:
    errors: list[BaseException] = []

    def train(n: int) -> None:
        try:
            with mlt.start_session(
                f"thread {n}", model_type="yolov8n", epochs=300, database_url=db_url
            ) as run:
                for epoch in range(301):
                    run.log_epoch(epoch, total_loss=float(epoch))
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=train, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    row = conn.execute(
        "select count(*) as n, count(distinct session_id) as s from training_metrics"
    ).fetchone()
    assert row == {"n": 8 * 301, "s": 8}
