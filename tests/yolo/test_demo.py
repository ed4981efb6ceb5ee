"""`mltrack demo`: a real (tiny) tracked training, its benchmark and the leaderboard, and its
error exits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mltrack_sdk.cli import app
from mltrack_sdk.cli_demo import open_dashboard
from mltrack_sdk.demo import sparkline

from .test_track import fetch

TINY = ["--epochs", "1", "--images", "16", "--imgsz", "64", "--device", "cpu", "--no-dashboard"]


@pytest.fixture
def runner(tmp_path: Path) -> CliRunner:
    env = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"}
    return CliRunner(env={**env, "MLTRACK_HOME": str(tmp_path / "home")})


def test_demo_trains_benchmarks_and_ranks_one_run(
    runner: CliRunner, direct_db_url: str, tmp_path: Path
) -> None:
    args = ["demo", *TINY, "--dir", str(tmp_path / "demo"), "--database-url", direct_db_url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (session,) = fetch(direct_db_url, "select * from training_sessions")
    assert session["status"] == "completed"
    assert session["session_name"].startswith("yolov8n demo ")
    assert (session["model_type"], session["epochs"], session["img_size"]) == ("yolov8n", 1, 64)
    best = tmp_path / "demo" / "runs" / "demo" / "weights" / "best.pt"
    assert session["model_path"] == str(best) and best.is_file()
    assert len(fetch(direct_db_url, "select epoch from training_metrics")) == 1
    (bench,) = fetch(direct_db_url, "select * from model_benchmarks")
    assert bench["session_id"] == session["id"] and bench["img_size"] == 64
    (dataset,) = fetch(direct_db_url, "select * from training_datasets")
    assert (dataset["name"], dataset["train_size"], dataset["val_size"]) == ("shapes_16_64", 16, 8)

    out = result.output
    assert "epoch 1/1  mAP50 " in out
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
    assert f"psql '{direct_db_url}'" in out
    assert ("dashboard" in out) is ("dashboard" in commands)


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


def test_the_dashboard_hook_hands_over_to_mltrack_dashboard_when_there_is_one() -> None:
    bare = typer.Typer()
    bare.command("up")(lambda: None)
    assert open_dashboard(bare, "postgresql://x") is False

    calls: list[str | None] = []
    with_dashboard = typer.Typer()

    @with_dashboard.command("dashboard")
    def dashboard(database_url: str | None = None, port: int | None = None) -> None:
        calls.append(database_url)

    # Without Streamlit there is nothing to serve: the hook stays silent.
    has_streamlit = importlib.util.find_spec("streamlit") is not None
    assert open_dashboard(with_dashboard, "postgresql://x") is has_streamlit
    assert calls == (["postgresql://x"] if has_streamlit else [])


def test_sparkline_draws_fractions_as_blocks() -> None:
    assert sparkline([0.0, 0.5, 1.0, 1.7, -1.0]) == "▁▅██▁"
    assert sparkline([i / 10 for i in range(11)], width=3) == "▇▇█"  # the last three: 0.8, 0.9, 1.0
