"""``mltrack watch``: bars moved on by the live change feed of a real database, and Ctrl-C."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console

from mltrack_sdk.cli_watch import WATCHED_TABLES, Watcher, watch
from mltrack_sdk.client import Client
from mltrack_sdk.live import ChangeFeed, change_feed

from .support import ENV, assert_red_line, assert_usage_error, invoke, record

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def eventually(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        time.sleep(0.05)


def listening(url: str) -> bool:
    """True once a change feed (application ``mltrack-live``) has run its LISTEN here."""
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute(
            "select count(*) from pg_stat_activity where application_name = 'mltrack-live'"
            " and state = 'idle' and query <> '' and datname = current_database()"
        ).fetchone()
    return row is not None and row[0] > 0


def first_heartbeat_seen(conn: psycopg.Connection[Any], session_id: str) -> bool:
    row = conn.execute(
        "select last_heartbeat_at from training_sessions where id = %s", (session_id,)
    ).fetchone()
    return row is not None and row["last_heartbeat_at"] is not None


def test_bars_move_on_each_change_and_nothing_is_read_in_between(
    db_url: str, direct_db_url: str, conn: psycopg.Connection[Any]
) -> None:
    # The run beats once when it starts, then not during the test: once that first heartbeat
    # is in, the only changes the feed sees are the ones this test makes.
    run = record(db_url, "live run", maps=(), finish=None, epochs=4, heartbeat_interval=3600)
    eventually(lambda: first_heartbeat_seen(conn, run.id), "the run's first heartbeat")
    out = Console(file=io.StringIO(), width=120)
    errors: list[BaseException] = []

    def watching(watcher: Watcher, feed: ChangeFeed) -> None:
        try:
            watch(watcher, feed, 60)
        except BaseException as exc:  # reported by the test below, not lost in the thread
            errors.append(exc)

    with (
        Client(database_url=db_url) as client,
        change_feed(direct_db_url, tables=WATCHED_TABLES) as feed,
    ):
        assert feed.wait_ready(10)
        watcher = Watcher(client, out, [run.id])
        thread = threading.Thread(target=watching, args=(watcher, feed), daemon=True)
        thread.start()
        eventually(lambda: watcher.tasks != {}, "the first read")
        (task,) = watcher.progress.tasks
        assert (task.description, task.completed, task.total) == ("live run", 0, 4)

        reads = watcher.reads
        time.sleep(2.5)  # nothing changes: the view is not read again
        assert watcher.reads == reads

        run.log_epoch(0, box_loss=1.0, cls_loss=0.5, dfl_loss=0.5, map50_95=0.125)
        run.flush()
        eventually(lambda: task.completed == 1, "epoch 0 on the bar")
        assert watcher.reads > reads
        assert task.fields["epoch"] == "epoch 1/4"
        assert (task.fields["loss"], task.fields["map"]) == ("2.0000", "0.1250")

        run.log_epoch(1, total_loss=1.5, map50_95=0.25)
        run.flush()
        eventually(lambda: task.completed == 2, "epoch 1 on the bar")
        assert (task.fields["loss"], task.fields["map"]) == ("1.5000", "0.2500")

        run.finish("completed")
        thread.join(15)
        assert not thread.is_alive(), "watch did not end when its session ended"
    assert errors == []
    assert watcher.ended == {run.id: "completed"}
    assert task.fields["state"] == "completed"
    assert f"live run ({run.id}) completed" in out.file.getvalue()  # type: ignore[attr-defined]


def test_watch_ids_follows_a_run_to_its_end(db_url: str, direct_db_url: str) -> None:
    run = record(db_url, "followed", maps=(), finish=None, epochs=3)

    def train() -> None:
        eventually(lambda: listening(direct_db_url), "the CLI's LISTEN")
        for epoch in range(3):
            run.log_epoch(epoch, total_loss=3.0 - epoch, map50_95=0.1 * (epoch + 1))
            run.flush()
            time.sleep(0.2)
        run.finish("completed")

    trainer = threading.Thread(target=train, daemon=True)
    trainer.start()
    started = time.monotonic()
    result = invoke("watch", run.id, "--timeout", "60", "--database-url", direct_db_url)
    trainer.join(10)
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started < 30
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == f"followed ({run.id}) is running."
    assert f"followed ({run.id}) completed" in lines
    bar = lines[-1]
    assert bar.startswith("followed ") and bar.endswith("completed")
    assert "epoch 3/3" in bar and "loss 1.0000" in bar and "mAP50-95 0.3000" in bar


def test_watch_once_and_ended_sessions(db_url: str) -> None:
    none = invoke("watch", "--once", "--database-url", db_url)
    assert (none.exit_code, none.stdout) == (0, "No running sessions.\n")

    running = record(db_url, "halfway", maps=(0.1,), finish=None, epochs=5)
    try:
        once = invoke("watch", "--once", "--database-url", db_url)
        assert once.exit_code == 0, once.stderr
        (bar,) = [line.rstrip() for line in once.stdout.splitlines() if line.strip()]
        assert bar.startswith("halfway ")
        assert "epoch 1/5" in bar and "loss 4.5000" in bar and "mAP50-95 0.1000" in bar
    finally:
        running.finish("cancelled")

    # A session that has ended already: printed once, no waiting.
    ended = invoke("watch", running.id, "--database-url", db_url)
    assert ended.exit_code == 0, ended.stderr
    lines = [line.rstrip() for line in ended.stdout.splitlines() if line.strip()]
    assert lines[0] == f"halfway ({running.id}) cancelled"
    assert lines[-1].startswith("halfway ") and lines[-1].endswith("cancelled")


def test_watch_times_out_waiting_for_sessions(db_url: str) -> None:
    started = time.monotonic()
    result = invoke("watch", "--timeout", "1", "--database-url", db_url)
    assert result.exit_code == 0, result.stderr
    assert 1 <= time.monotonic() - started < 20
    assert "No running sessions: waiting for one to start (Ctrl-C to stop)." in result.stdout


def test_ctrl_c_stops_watching_cleanly(db_url: str, direct_db_url: str, tmp_path: Path) -> None:
    out_path = tmp_path / "watch.out"
    env = {**os.environ, **ENV, "MLTRACK_DATABASE_URL": direct_db_url}
    with out_path.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mltrack_sdk.cli", "watch"],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    try:
        eventually(lambda: listening(direct_db_url), "the CLI's LISTEN", timeout=60)
        # A session that starts while watching gets its bar.
        run = record(db_url, "late starter", maps=(0.2,), finish=None, epochs=2)
        try:
            expected = f"late starter ({run.id}) is running."
            eventually(lambda: expected in out_path.read_text(), "the new session's line")
        finally:
            run.finish()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out_path.read_text().rstrip().endswith("Stopped watching.")
    eventually(lambda: not listening(direct_db_url), "the feed's connection to close")


def test_watch_errors(db_url: str) -> None:
    assert_red_line(invoke("watch", UNKNOWN, "--database-url", db_url), f"no session {UNKNOWN}")
    assert_usage_error(invoke("watch", "abc"), "'IDS'")
    assert_usage_error(invoke("watch", "--timeout", "-1"), "--timeout")
