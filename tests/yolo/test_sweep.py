"""Hyperparameter sweeps: real Ultralytics trainings (1 epoch, 64 px) tracked in a real database.

Ultralytics is imported inside the tests (the yolo_env fixture sets it up offline first).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from mltrack_sdk.errors import InvalidValueError, MissingValueError
from mltrack_sdk.sweep import sweep
from mltrack_sdk.sweep_space import Range, plan_trials

ENV = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"}
Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture
def fixed(train_args: Callable[..., dict[str, Any]], tmp_path: Path) -> dict[str, Any]:
    """The train arguments every trial shares: one quick epoch, SGD (so lr0 and momentum
    count), each trial in its own directory under a fresh project."""
    args = train_args(epochs=1, optimizer="SGD", nbs=16, project=str(tmp_path / "runs"))
    for key in ("data", "name", "exist_ok"):
        args.pop(key)
    return args


def trial_rows(conn: Conn, run_id: str) -> list[dict[str, Any]]:
    return conn.execute(
        "select id::text, session_name, status, status_reason, final_loss, config"
        " from training_sessions where hyperparameter_run_id = %s order by created_at",
        (run_id,),
    ).fetchall()


def count_runs(url: str) -> int:
    """Hyperparameter runs and sessions in the database (the yolo tests share one database)."""
    with psycopg.connect(url) as db:
        row = db.execute(
            "select (select count(*) from hyperparameter_runs)"
            " + (select count(*) from training_sessions)"
        ).fetchone()
    assert row is not None
    return int(row[0])


def run_row_by_name(conn: Conn, name: str) -> str:
    row = conn.execute("select id::text from hyperparameter_runs where name = %s", (name,))
    return str(row.fetchone()["id"])  # type: ignore[index]


def run_row(conn: Conn, run_id: str) -> dict[str, Any]:
    row = conn.execute("select * from hyperparameter_runs where id = %s", (run_id,)).fetchone()
    assert row is not None
    return row


def test_grid_sweep_links_every_trial_and_keeps_the_best(
    db_url: str, conn: Conn, yolo_data: Path, fixed: dict[str, Any]
) -> None:
    space = {"lr0": [0.01, 0.002], "momentum": [0.9, 0.6]}
    seen: list[tuple[str, int]] = []
    result = sweep(
        "yolov8n.yaml",
        yolo_data,
        space,
        objective="loss",
        name="grid of four",
        train_args=fixed,
        database_url=db_url,
        progress=lambda event: seen.append((event.kind, event.number)),
    )

    assert [t.params for t in result.trials] == plan_trials(space)
    assert [t.status for t in result.trials] == ["completed"] * 4
    assert seen == [(kind, n) for n in range(1, 5) for kind in ("start", "end")]
    rows = trial_rows(conn, result.run_id)
    assert [r["id"] for r in rows] == [t.session_id for t in result.trials]
    assert [r["session_name"] for r in rows] == [f"grid of four #{n}" for n in range(1, 5)]
    for row, trial in zip(rows, result.trials, strict=True):
        assert row["status"] == "completed"
        assert {k: row["config"][k] for k in space} == trial.params
        assert trial.value == row["final_loss"] > 0
    # Different learning rates train differently: the best trial is a real choice.
    losses = [r["final_loss"] for r in rows]
    assert len(set(losses)) == 4
    run = run_row(conn, result.run_id)
    best = min(rows, key=lambda r: r["final_loss"])
    assert (run["name"], run["objective"], run["direction"]) == ("grid of four", "loss", "minimize")
    assert (run["n_trials"], run["trials_started"], run["trials_completed"]) == (4, 4, 4)
    assert run["status"] == "completed" and run["completed_at"] is not None
    assert str(run["best_session_id"]) == best["id"]
    assert run["best_value"] == best["final_loss"]
    assert {k: run["best_params"][k] for k in space} == result.best.params  # type: ignore[union-attr]
    assert result.best is not None and result.best.session_id == best["id"]
    assert run["search_space"]["space"] == space
    assert run["search_space"]["method"] == "grid"
    assert run["search_space"]["train_args"]["epochs"] == 1
    assert run["model_type"] == "yolov8n"
    assert run["dataset_name"] == yolo_data.stem


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(
    db_url: str, conn: Conn, yolo_data: Path, fixed: dict[str, Any]
) -> None:
    fixed.pop("optimizer")
    result = sweep(
        "yolov8n.yaml",
        yolo_data,
        {"optimizer": ["NoSuchOptimizer", "SGD"]},
        train_args=fixed,
        database_url=db_url,
    )

    failed, done = result.trials
    assert (failed.status, done.status) == ("failed", "completed")
    assert failed.reason is not None and "NoSuchOptimizer" in failed.reason
    rows = trial_rows(conn, result.run_id)
    assert [r["status"] for r in rows] == ["failed", "completed"]
    assert "NoSuchOptimizer" in rows[0]["status_reason"]
    assert rows[0]["config"]["optimizer"] == "NoSuchOptimizer"
    run = run_row(conn, result.run_id)
    assert (run["trials_started"], run["trials_completed"]) == (2, 2)
    assert run["status"] == "completed"  # a failed trial does not end the search
    assert str(run["best_session_id"]) == done.session_id == result.best.session_id  # type: ignore[union-attr]


def test_random_search_is_reproducible_and_stays_in_its_space() -> None:
    space = {
        "lr0": Range(1e-4, 1e-1, log=True),
        "momentum": (0.6, 0.95),
        "batch": Range(4, 32),
        "optimizer": ["SGD", "AdamW"],
    }
    first = plan_trials(space, method="random", n_trials=40, seed=7)
    assert first == plan_trials(space, method="random", n_trials=40, seed=7)
    assert first != plan_trials(space, method="random", n_trials=40, seed=8)
    # The dict's order does not change the draws.
    reordered = dict(reversed(list(space.items())))
    assert first == plan_trials(reordered, method="random", n_trials=40, seed=7)
    for trial in first:
        assert list(trial) == list(space)
        assert 1e-4 <= trial["lr0"] <= 1e-1
        assert 0.6 <= trial["momentum"] <= 0.95
        assert isinstance(trial["batch"], int) and 4 <= trial["batch"] <= 32
        assert trial["optimizer"] in ("SGD", "AdamW")
    # Log-uniform: about as many draws in each decade as in the others.
    decades = [math.floor(math.log10(t["lr0"])) for t in first]
    assert all(decades.count(d) >= 5 for d in (-4, -3, -2))
    assert len({t["optimizer"] for t in first}) == 2


RANDOM: dict[str, Any] = {"method": "random", "n_trials": 2}
AUTO: dict[str, Any] = {"optimizer": "auto"}


@pytest.mark.parametrize(
    ("arguments", "field", "words"),
    [
        ({"space": {"lr00": [0.01]}}, "space.lr00", "not an Ultralytics train argument"),
        ({"space": {"lr0": []}}, "space.lr0", "at least one value"),
        ({"space": {"lr0": 0.01}}, "space.lr0", "list of values"),
        ({"space": {"lr0": [0.01, 0.01]}}, "space.lr0", "repeat"),
        ({"space": {"lr0": [2.0]}}, "space.lr0", "Ultralytics"),
        ({"space": {"data": ["a.yaml"]}}, "space.data", "sweep sets data and model"),
        ({"space": {}}, "space", "non-empty"),
        (
            {"space": {"lr0": Range(0.1, 0.01)}, "method": "random", "n_trials": 2},
            "space.lr0",
            "low < high",
        ),
        (
            {"space": {"lr0": Range(0.0, 0.1, log=True)}, "method": "random", "n_trials": 2},
            "space.lr0.low",
            "> 0",
        ),
        (
            {"space": {"optimizer": (0.1, 0.2)}, "method": "random", "n_trials": 2},
            "space.optimizer",
            "not a numeric",
        ),
        ({"space": {"lr0": (0.001, 0.1)}}, "space.lr0", "grid search needs a list"),
        ({"space": {"lrf": [0.01]}, "method": "random"}, "n_trials", "required"),
        ({"space": {"lrf": [0.01]}, "method": "random", "n_trials": 0}, "n_trials", "positive"),
        ({"space": {"lrf": [0.01]}, "n_trials": 3}, "n_trials", "random' only"),
        ({"space": {"lrf": [0.01]}, "method": "bayes"}, "method", "grid, random"),
        ({"space": {"lrf": [0.01]}, "objective": "fitness"}, "objective", "map50_95"),
        ({"space": {"lrf": [0.01]}, "direction": "up"}, "direction", "maximize"),
        ({"space": {"lrf": [0.01]}, "train_args": {"lrf": 0.1}}, "train_args.lrf", "also in space"),
        (
            {"space": {"lrf": [0.01]}, "train_args": {"epochs": 0}},
            "train_args.epochs",
            "Ultralytics",
        ),
        ({"space": {"lrf": [0.01]}, "train_args": {"epoch": 3}}, "train_args.epoch", "epochs"),
        ({"space": {"lrf": [0.01]}, "session_name": "x"}, "session_name", "passes on"),
        ({"space": {"lrf": [0.01]}, "data": "/no/such/data.yaml"}, "data", "does not exist"),
        ({"space": {"lrf": [0.01]}, "name": " "}, "name", "blank"),
        ({"space": {"lr0": [0.01, 0.02]}}, "space.lr0", "optimizer='auto'"),
        ({"space": {"momentum": [0.9]}, "train_args": AUTO}, "space.momentum", "optimizer='auto'"),
    ],
)
def test_bad_arguments_name_the_field_and_start_nothing(
    yolo_db_url: str, yolo_data: Path, arguments: dict[str, Any], field: str, words: str
) -> None:
    call = {"model": "yolov8n.yaml", "data": yolo_data, "database_url": yolo_db_url, **arguments}
    before = count_runs(yolo_db_url)
    with pytest.raises((InvalidValueError, MissingValueError)) as caught:
        sweep(**call)
    assert caught.value.field == field
    assert words in f"{caught.value.message} {caught.value.hint}"
    assert count_runs(yolo_db_url) == before


def test_cli_runs_a_random_sweep_and_prints_json(
    db_url: str, conn: Conn, yolo_data: Path, tmp_path: Path
) -> None:
    import ultralytics  # noqa: F401  (imported here first: its log keeps pytest's stdout)

    from mltrack_sdk.cli import app

    args = ["sweep", str(yolo_data), "--param", "lr0=1e-3..1e-1:log", "--param", "batch=8,16"]
    args += ["--method", "random", "--trials", "1", "--seed", "5", "--epochs", "1"]
    args += ["--imgsz", "64", "--arg", "workers=0", "--arg", "optimizer=SGD"]
    args += ["--arg", f"project={tmp_path}", "--arg", "plots=false", "--arg", "device=cpu"]
    args += ["--database-url", db_url, "--name", "from the shell", "--json"]
    result = CliRunner(env=ENV).invoke(app, args)

    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    expected = plan_trials(
        {"lr0": Range(1e-3, 1e-1, log=True), "batch": [8, 16]},
        method="random",
        n_trials=1,
        seed=5,
    )
    assert [t["params"] for t in out["trials"]] == expected
    assert out["trials"][0]["status"] == "completed"
    assert out["best"]["session_id"] == out["trials"][0]["session_id"]
    assert "trial 1/1" in result.stderr and "trial 1 completed" in result.stderr
    run = run_row(conn, out["run_id"])
    assert (run["name"], run["n_trials"], run["search_space"]["seed"]) == ("from the shell", 1, 5)
    assert run["search_space"]["space"]["lr0"] == {"low": 1e-3, "high": 0.1, "log": True}


def test_cli_table_marks_failures_and_exits_1_when_no_trial_completed(
    db_url: str, conn: Conn, yolo_data: Path, tmp_path: Path
) -> None:
    import ultralytics  # noqa: F401  (imported here first: its log keeps pytest's stdout)

    from mltrack_sdk.cli import app

    args = ["sweep", str(yolo_data), "--param", "optimizer=NoSuchOptimizer", "--epochs", "1"]
    args += ["--imgsz", "64", "--arg", "workers=0", "--arg", f"project={tmp_path}"]
    args += ["--arg", "device=cpu", "--database-url", db_url, "--name", "doomed"]
    result = CliRunner(env=ENV).invoke(app, args)

    assert result.exit_code == 1
    assert result.stderr.strip().endswith("Error: no trial completed: see the reasons above")
    assert "trial 1 failed map50_95=- in" in result.stderr
    row = next(line for line in result.stdout.splitlines() if "NoSuchOptimizer" in line)
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    assert cells[:4] == ["1", "NoSuchOptimizer", "failed", "-"]
    (session,) = trial_rows(conn, run_row_by_name(conn, "doomed"))
    assert cells[-1] == session["id"] and session["status"] == "failed"
    assert "Hyperparameter run" in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--param", "lr0"], "--param must be NAME=VALUE"),
        (["--param", "lr0=0.1", "--param", "lr0=0.2"], "--param lr0 is given twice"),
        (["--param", "lr0=a..b", "--method", "random", "--trials", "2"], "two numbers"),
        (["--param", "lr0=0.01..0.1"], "grid search needs a list"),
        (["--param", "nope=1,2"], "space.nope is not an Ultralytics train argument"),
        (["--param", "lr0=0.1", "--arg", "imgsz"], "--arg must be NAME=VALUE"),
    ],
)
def test_cli_errors_are_one_red_line(
    yolo_db_url: str, yolo_data: Path, args: list[str], words: str
) -> None:
    from mltrack_sdk.cli import app

    before = count_runs(yolo_db_url)
    result = CliRunner(env=ENV).invoke(
        app, ["sweep", str(yolo_data), *args, "--database-url", yolo_db_url]
    )
    assert count_runs(yolo_db_url) == before
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_track_tune_follows_every_iteration_of_ultralytics_tuner(
    db_url: str, conn: Conn, yolo_data: Path, tmp_path: Path
) -> None:
    from ultralytics import YOLO

    from mltrack_sdk.sweep_tune import track_tune

    result = track_tune(
        YOLO("yolov8n.yaml"),
        data=yolo_data,
        iterations=2,
        space={"lr0": (1e-3, 1e-2), "momentum": (0.6, 0.9)},
        name="tuned",
        database_url=db_url,
        poll_interval=0.1,
        train_args={
            "epochs": 2,
            "imgsz": 64,
            "batch": 16,
            "workers": 0,
            "device": "cpu",
            "plots": False,
            "project": str(tmp_path / "runs"),
        },
    )

    assert [t.number for t in result.trials] == [1, 2]
    assert [t.status for t in result.trials] == ["completed", "completed"]
    rows = trial_rows(conn, result.run_id)
    assert [r["id"] for r in rows] == [t.session_id for t in result.trials]
    assert [r["session_name"] for r in rows] == ["tuned #1", "tuned #2"]
    lines = (tmp_path / "runs/tune/tune_results.ndjson").read_text().splitlines()
    tuned = [json.loads(line) for line in lines]
    for row, trial, record in zip(rows, result.trials, tuned, strict=True):
        assert (
            trial.params
            == record["hyperparameters"]
            == {k: row["config"][k] for k in ("lr0", "momentum")}
        )
        epochs = conn.execute(
            "select epoch, box_loss, total_loss from training_metrics where session_id = %s"
            " order by epoch",
            (row["id"],),
        ).fetchall()
        assert [e["epoch"] for e in epochs] == [0, 1]
        assert all(e["box_loss"] > 0 and e["total_loss"] > e["box_loss"] for e in epochs)
    run = run_row(conn, result.run_id)
    assert (run["n_trials"], run["trials_started"], run["trials_completed"]) == (2, 2, 2)
    assert run["status"] == "completed"
    assert run["search_space"]["method"] == "ultralytics_tune"
    assert str(run["best_session_id"]) == result.best.session_id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("arguments", "field", "words"),
    [
        ({"space": {"lr0": (0.1,)}}, "space.lr0", "(low, high)"),
        ({"space": {"lr0": (0.1, 0.01)}}, "space.lr0", "low <= high"),
        ({"space": {"lr00": (0.1, 0.2)}}, "space.lr00", "not an Ultralytics train argument"),
        ({"train_args": {"use_ray": True}}, "train_args.use_ray", "Ray Tune"),
        ({"train_args": {"imgsz": "big"}}, "train_args.imgsz", "positive integer"),
        ({"iterations": 0}, "iterations", "positive"),
        ({"objective": "fitness"}, "objective", "map50_95"),
        ({"model": "yolov8n.yaml"}, "model", "Ultralytics model object"),
    ],
)
def test_track_tune_checks_its_arguments_first(
    yolo_db_url: str, yolo_data: Path, arguments: dict[str, Any], field: str, words: str
) -> None:
    from ultralytics import YOLO

    from mltrack_sdk.sweep_tune import track_tune

    call = {"model": YOLO("yolov8n.yaml"), "data": yolo_data, "database_url": yolo_db_url}
    before = count_runs(yolo_db_url)
    with pytest.raises(InvalidValueError) as caught:
        track_tune(**{**call, **arguments})
    assert caught.value.field == field
    assert words in caught.value.message
    assert count_runs(yolo_db_url) == before
