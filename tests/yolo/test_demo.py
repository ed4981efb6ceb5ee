"""`mltrack demo`: a real (tiny) tracked training, its benchmark and the leaderboard, the
dashboard it serves while the training runs, and its error exits."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mltrack_sdk.cli import app
from mltrack_sdk.demo import sparkline
from mltrack_sdk.testing.postgres import free_port
from tests.dashboard.browser import CHROMIUM, _mltrack, chromium, wait_live
from tests.dashboard.support import wait_for

from .test_track import fetch

TINY = ["--epochs", "1", "--images", "16", "--imgsz", "64", "--device", "cpu", "--no-dashboard"]


@pytest.fixture
def runner(tmp_path: Path) -> CliRunner:
    env = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"}
    return CliRunner(env={**env, "MLTRACK_HOME": str(tmp_path / "home")})


def _answers(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return int(answer.status)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)")
def test_demo_trains_live_benchmarks_and_ranks_one_run(direct_db_url: str, tmp_path: Path) -> None:
    """`mltrack demo` as `make demo` runs it: a real tiny training, tracked, benchmarked and
    ranked. It used to open the dashboard after the training; it now serves it before the first
    epoch and prints its URL, and the running session is on the page mid-training (the demo is
    held - SIGSTOP - while the browser looks). Not at a terminal, the server stops at the end."""
    from playwright.sync_api import expect

    port = free_port()
    base = f"http://localhost:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRACK_", "SUPABASE_"))}
    env.update(MLTRACK_HOME=str(tmp_path / "home"), COLUMNS="200", NO_COLOR="1")
    args = ["--epochs", "2", "--images", "16", "--imgsz", "64", "--device", "cpu"]
    args += ["--dir", str(tmp_path / "demo"), "--database-url", direct_db_url]
    demo = subprocess.Popen(
        [*_mltrack(), "demo", *args, "--dashboard-port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout or ()), daemon=True)
    reader.start()
    try:
        wait_for(
            lambda: any("Watch the training live" in line for line in lines) or demo.poll(),
            timeout=120,
            what="the dashboard's URL",
        )
        assert any(base in line for line in lines), "".join(lines)
        # It answers now, and no run has ended yet (none has started: the URL comes first).
        assert _answers(f"{base}/_stcore/health") == _answers(base) == 200
        assert (
            fetch(direct_db_url, "select id from training_sessions where status <> 'running'") == []
        )

        # The page opens before the run starts; the run's session is held still (SIGSTOP to
        # the demo) as soon as it exists, so what the page shows next it shows mid-training.
        held: list[str] = []
        holder = threading.Thread(target=_hold_once_running, args=(demo, direct_db_url, held))
        holder.start()
        try:
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}")  # this Chromium resolves no names
                wait_live(page)
                holder.join(180)
                assert held, "the demo's session did not start"
                (row,) = fetch(direct_db_url, "select status from training_sessions")
                assert row["status"] == "running"
                card = page.locator(f".st-key-active-{held[0]}")
                expect(card).to_contain_text("yolov8n demo", timeout=20_000)
                expect(card).to_contain_text("/2", timeout=20_000)
        finally:
            holder.join(180)
            if held:
                os.killpg(demo.pid, signal.SIGCONT)

        assert demo.wait(300) == 0, "".join(lines)
        reader.join(10)
        output = "".join(lines)
        assert output.index("Watch the training live") < output.index("epoch 1/2")
        assert f"The dashboard at {base} stops with the demo" in output
        with pytest.raises(OSError):  # not at a terminal: the server stopped with the demo
            _answers(f"{base}/_stcore/health")
        check_results(output, direct_db_url, tmp_path)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
        reader.join(10)
        if demo.stdout is not None:
            demo.stdout.close()


def _hold_once_running(demo: subprocess.Popen[str], url: str, held: list[str]) -> None:
    """SIGSTOP the demo as soon as its session exists; its id goes into ``held``."""
    deadline = time.monotonic() + 180
    while demo.poll() is None and time.monotonic() < deadline:
        rows = fetch(url, "select id from training_sessions")
        if rows:
            os.killpg(demo.pid, signal.SIGSTOP)
            held.append(str(rows[0]["id"]))
            return
        time.sleep(0.05)


def check_results(out: str, direct_db_url: str, tmp_path: Path) -> None:
    """What a 2-epoch demo wrote to the database and printed."""
    (session,) = fetch(direct_db_url, "select * from training_sessions")
    assert session["status"] == "completed"
    assert session["session_name"].startswith("yolov8n demo ")
    assert (session["model_type"], session["epochs"], session["img_size"]) == ("yolov8n", 2, 64)
    best = tmp_path / "demo" / "runs" / "demo" / "weights" / "best.pt"
    assert session["model_path"] == str(best) and best.is_file()
    assert len(fetch(direct_db_url, "select epoch from training_metrics")) == 2
    (bench,) = fetch(direct_db_url, "select * from model_benchmarks")
    assert bench["session_id"] == session["id"] and bench["img_size"] == 64
    (dataset,) = fetch(direct_db_url, "select * from training_datasets")
    assert (dataset["name"], dataset["train_size"], dataset["val_size"]) == ("shapes_16_64", 16, 8)

    assert "epoch 2/2  mAP50 " in out
    assert f"{bench['avg_inference_ms']:.1f} ms per image" in out
    # The leaderboard (this run, first: the only one) and the session's summary.
    board = out.split("Leaderboard", 1)[1]
    (row,) = [line for line in board.splitlines() if session["session_name"] in line][:1]
    assert row.strip().startswith("🥇")
    assert f"Session {session['session_name']}" in board and str(session["id"]) in board
    assert str(best) in board
    # Hints name only commands that exist, and the database it used.
    hints = out.split("Look further:", 1)[1].splitlines()[1:]
    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    commands |= {g.name for g in app.registered_groups if g.name}
    for line in hints:
        if line.strip().startswith("mltrack "):
            assert line.split()[1] in commands, line
    assert any(line.strip().startswith("mltrack train ") for line in hints)
    assert any(line.strip() == "mltrack dashboard" for line in hints)
    assert f"psql '{direct_db_url}'" in out


def test_a_directory_holding_something_else_is_refused(
    runner: CliRunner, direct_db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "demo" / "shapes_16_64").mkdir(parents=True)
    (tmp_path / "demo" / "shapes_16_64" / "other.txt").write_text("not a dataset")
    args = ["demo", *TINY, "--dir", str(tmp_path / "demo"), "--database-url", direct_db_url]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith("Error: root must be a new or empty directory")
    )
    assert fetch(direct_db_url, "select id from training_sessions") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "Error: epochs must be a positive integer (got 0)"),
        (["--images", "-3"], "Error: images must be a positive integer (got -3)"),
        (["--images", "100001"], "Error: images must be at most 100000 (got 100001)"),
        (["--imgsz", "100"], "Error: imgsz must be a multiple of 32 between 32 and 4096 (got 100)"),
        (["--imgsz", "8192"], "Error: imgsz must be a multiple of 32 between 32 and 4096"),
        (["--dir", "{file}"], "Error: dir must be a directory (got '{file}')"),
    ],
)
def test_bad_arguments_exit_1_and_change_nothing(
    runner: CliRunner, direct_db_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    file = tmp_path / "a_file"
    file.write_text("")
    args = [arg.format(file=file) for arg in args]
    result = runner.invoke(app, ["demo", "--database-url", direct_db_url, *TINY, *args])
    assert result.exit_code == 1, result.output
    assert result.output.strip().startswith(message.format(file=file))
    assert fetch(direct_db_url, "select id from training_sessions") == []
    assert not (tmp_path / "home" / "demo").exists()


def test_an_unreachable_database_stops_it_before_training(
    runner: CliRunner, tmp_path: Path
) -> None:
    url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"
    result = runner.invoke(app, ["demo", *TINY, "--dir", str(tmp_path), "--database-url", url])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no dataset, no run


def test_a_bad_dashboard_port_is_a_usage_error(runner: CliRunner, direct_db_url: str) -> None:
    result = runner.invoke(app, ["demo", "--dashboard-port", "0", "--database-url", direct_db_url])
    assert result.exit_code == 2
    assert "--dashboard-port" in result.output


def test_sparkline_draws_fractions_as_blocks() -> None:
    assert sparkline([0.0, 0.5, 1.0, 1.7, -1.0]) == "▁▅██▁"
    assert sparkline([i / 10 for i in range(11)], width=3) == "▇▇█"  # the last three: 0.8, 0.9, 1.0
