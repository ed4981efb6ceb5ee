"""Concurrency properties through the SDK: processes and threads resuming one session.

Several writers (as in a DDP job, or a resumed run racing its own leftovers) log interleaved epochs
with random mAP values through ``start_session(resume=<id>)``; each flushes its batches whenever
its writer thread decides. After every round the summary tells the truth (best_epoch is the
argmax, epochs_completed the count) and finishing takes the finals from the best epoch.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

import mltrack_sdk as mlt

from .test_concurrent_summary import assert_summary_true

Conn = psycopg.Connection[dict[str, Any]]

EPOCHS = 120
WORKER = textwrap.dedent(
    """
    import random, sys, mltrack_sdk as mlt
    session_id, (seed, writers, index, epochs) = sys.argv[1], map(int, sys.argv[2:])
    rng = random.Random(seed)
    run = mlt.start_session(resume=session_id, flush_interval=rng.choice([0.0, 0.005, 0.05]))
    for epoch in range(index, epochs, writers):
        run.log_epoch(epoch, map50=round(rng.random(), 2), map50_95=round(rng.random(), 3))
    assert run.flush(30)  # sent; the process ends without finishing (the test finishes once)
    """
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def finish_and_check(conn: Conn, session_id: str) -> None:
    assert_summary_true(conn, session_id)
    row = conn.execute(
        "select s.final_map50_95, m.map50_95 from finish_session(session_id => %s) s"
        " join training_metrics m on m.session_id = s.id and m.epoch = s.best_epoch",
        (session_id,),
    ).fetchone()
    assert row is not None and row["final_map50_95"] == row["map50_95"]


def new_session(conn: Conn) -> str:
    row = conn.execute(
        "select id::text from start_session(session_name => 'shared', model_type => 'm',"
        " epochs => %s)",
        (EPOCHS,),
    ).fetchone()
    assert row is not None
    return str(row["id"])


@pytest.mark.parametrize("round_seed", range(4))
def test_processes_resuming_one_session(
    db_url: str, conn: Conn, home: Path, round_seed: int
) -> None:
    session_id = new_session(conn)
    writers = 4
    env = {**os.environ, "MLTRACK_HOME": str(home), "MLTRACK_DATABASE_URL": db_url}
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                session_id,
                str(round_seed * 100 + i),
                str(writers),
                str(i),
                str(EPOCHS),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(writers)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    assert conn.execute(
        "select count(*) as n from training_metrics where session_id = %s", (session_id,)
    ).fetchone() == {"n": EPOCHS}
    finish_and_check(conn, session_id)


@pytest.mark.parametrize("round_seed", range(4))
def test_threads_resuming_one_session(db_url: str, conn: Conn, round_seed: int) -> None:
    session_id = new_session(conn)
    writers = 8
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def write(index: int) -> None:
        try:
            rng = random.Random(round_seed * 100 + index)
            run = mlt.start_session(resume=session_id, database_url=db_url, flush_interval=0.0)
            barrier.wait()
            for epoch in range(index, EPOCHS, writers):
                run.log_epoch(epoch, map50=round(rng.random(), 2), map50_95=round(rng.random(), 3))
            assert run.flush(30)
            # Every rank's epochs are in before any rank finishes; the first finish completes
            # the run, the others are no-ops.
            barrier.wait()
            run.finish()
        except BaseException as exc:  # reported on the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert_summary_true(conn, session_id)
    row = conn.execute(
        "select s.status, s.final_map50_95, m.map50_95 from training_sessions s"
        " join training_metrics m on m.session_id = s.id and m.epoch = s.best_epoch"
        " where s.id = %s",
        (session_id,),
    ).fetchone()
    assert row is not None and row["status"] == "completed"
    assert row["final_map50_95"] == row["map50_95"]
