"""Every script in examples/ runs as written (with tiny options), in its own process, against a
real database given the way users give it ($MLTRACK_DATABASE_URL), and writes what it says."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from .test_track import fetch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Run = Callable[..., str]


def tiny_classifier() -> ModuleType:
    """The examples' shared training code, loaded from its file as the scripts load it."""
    spec = importlib.util.spec_from_file_location(
        "tiny_classifier", EXAMPLES / "tiny_classifier.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(
    env: dict[str, str], cwd: Path, script: str, *args: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def example_env(direct_db_url: str, tmp_path: Path, yolo_env: Path) -> dict[str, str]:
    """The environment of a user: the database in $MLTRACK_DATABASE_URL, Ultralytics offline
    (the variables yolo_env set), mltrack's own files in a temp home."""
    env = dict(os.environ)
    assert env["YOLO_CONFIG_DIR"] == str(yolo_env.parent) and env["YOLO_OFFLINE"] == "1"
    env.update(MLTRACK_DATABASE_URL=direct_db_url, MLTRACK_HOME=str(tmp_path / "home"))
    return env


@pytest.fixture
def run(example_env: dict[str, str], tmp_path: Path) -> Run:
    """``run(script, *args)``: its stdout; fails the test when it exits non-zero or warns."""

    def run(script: str, *args: object) -> str:
        done = run_script(example_env, tmp_path, script, *args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "MltrackWarning" not in done.stderr, done.stderr
        return done.stdout

    return run


def test_examples_1_to_3_log_a_real_training(run: Run, direct_db_url: str, tmp_path: Path) -> None:
    model_file = tmp_path / "model.npz"
    out = run("01_start_session.py", "--epochs", 6)
    (session,) = fetch(direct_db_url, "select * from training_sessions")
    assert f"Created session {session['id']}" in out
    assert (session["status"], session["epochs"]) == ("running", 6)
    assert session["model_type"] == "logistic-regression"

    out = run("02_log_metrics.py", "--model", model_file)
    assert f"Logged 6 epochs to session {session['id']}" in out
    rows = fetch(
        direct_db_url, "select * from training_metrics where session_id = %s order by epoch",
        session["id"],
    )  # fmt: skip
    # The logged numbers are the training's: the same training, repeated here, gives them.
    tiny = tiny_classifier()
    x_train, y_train, x_val, y_val = tiny.make_data()
    model = tiny.LogisticRegression(x_train.shape[1])
    assert [r["epoch"] for r in rows] == list(range(6))
    for row in rows:
        loss = model.train_epoch(
            x_train, y_train, tiny.LEARNING_RATE, tiny.BATCH_SIZE, row["epoch"]
        )
        val = model.evaluate(x_val, y_val)
        assert row["total_loss"] == pytest.approx(loss)
        assert row["val_cls_loss"] == pytest.approx(val["loss"])
        assert (row["precision"], row["recall"]) == pytest.approx((val["precision"], val["recall"]))
        assert row["extra"]["accuracy"] == pytest.approx(val["accuracy"])
        assert row["epoch_time_seconds"] > 0
    assert rows[-1]["val_cls_loss"] < rows[0]["val_cls_loss"]  # it learns
    (session,) = fetch(direct_db_url, "select * from training_sessions")
    assert session["status"] == "running"

    out = run("03_finish_session.py", "--model", model_file)
    (session,) = fetch(direct_db_url, "select * from training_sessions")
    final = tiny.LogisticRegression.load(model_file).evaluate(x_val, y_val)
    assert final == model.evaluate(x_val, y_val)
    assert session["status"] == "completed"
    assert session["final_loss"] == pytest.approx(final["loss"])
    assert session["final_precision"] == pytest.approx(final["precision"])
    assert session["final_recall"] == pytest.approx(final["recall"])
    assert session["model_path"] == str(model_file)
    assert f"Session {session['id']} (Tiny classifier (numpy)): completed" in out
    assert f"final loss {final['loss']:.4f}" in out


def test_example_2_without_a_session_says_so(example_env: dict[str, str], tmp_path: Path) -> None:
    done = run_script(example_env, tmp_path, "02_log_metrics.py")
    assert done.returncode == 1
    assert "resume does not match any training session (got 'Tiny classifier (numpy)')" in (
        done.stderr
    )
    assert not (tmp_path / "tiny_classifier.npz").exists()


def test_make_dataset_example(example_env: dict[str, str], tmp_path: Path) -> None:
    args = ("--train", 12, "--val", 4, "--imgsz", 64)
    done = run_script(example_env, tmp_path, "05_make_dataset.py", "pair", *args, "--classes", 2)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Data yaml: {tmp_path / 'pair' / 'pair.yaml'}"
    assert lines[1].startswith("train: 12 images of 64 px; boxes: ")
    assert "circle" in lines[1] and "square" in lines[1] and "triangle" not in lines[1]
    assert len(list((tmp_path / "pair" / "images" / "val").glob("*.png"))) == 4
    again = run_script(example_env, tmp_path, "05_make_dataset.py", "pair", *args, "--classes", 2)
    assert again.stdout == done.stdout  # the same arguments: the same dataset, reused

    named = run_script(
        example_env, tmp_path, "05_make_dataset.py", "x", *args, "--classes", "cross"
    )
    assert named.returncode == 0 and "boxes: " in named.stdout
    assert "nc: 1" in (tmp_path / "x" / "x.yaml").read_text()
    bad = run_script(example_env, tmp_path, "05_make_dataset.py", "y", "--classes", "star")
    assert bad.returncode == 1
    assert "classes must hold only circle, square, triangle, diamond, cross (got 'star')" in (
        bad.stderr
    )


def test_example_4_tracks_into_the_session_it_started(run: Run, direct_db_url: str) -> None:
    args = ("--epochs", 1, "--images", 16, "--imgsz", 64, "--device", "cpu", "--workers", 0)
    out = run("04_ultralytics.py", *args)
    (session,) = fetch(direct_db_url, "select * from training_sessions")
    assert session["session_name"] == "YOLOv8n shapes (example 4)"
    assert session["status"] == "completed"
    assert session["config"] == {"notes": "trained from scratch on generated shapes"}
    assert Path(session["model_path"]).is_file()
    (row,) = fetch(direct_db_url, "select * from training_metrics")
    assert row["epoch"] == 0 and row["box_loss"] > 0
    validation = fetch(direct_db_url, "select class_name from validation_results")
    assert "all" in {r["class_name"] for r in validation}
    (dataset,) = fetch(direct_db_url, "select * from training_datasets")
    assert (dataset["name"], dataset["train_size"]) == ("shapes_16_64", 16)
    assert f"Session {session['id']} (YOLOv8n shapes (example 4)): completed" in out
    assert f"{len(validation)} validation rows; model {session['model_path']}" in out


def test_tracked_training_then_its_benchmark(run: Run, direct_db_url: str, yolo_data: Path) -> None:
    out = run(
        "06_train_yolo.py", yolo_data, "--epochs", 1, "--imgsz", 64, "--device", "cpu",
        "--workers", 0, "--name", "example 6",
    )  # fmt: skip
    (session,) = fetch(direct_db_url, "select * from training_sessions")
    assert (session["session_name"], session["status"]) == ("example 6", "completed")
    assert session["model_type"] == "yolov8n" and session["dataset_name"] == "shapes"
    assert len(fetch(direct_db_url, "select epoch from training_metrics")) == 1
    best = session["model_path"]
    assert f"Model: {best}" in out.splitlines()

    out = run("07_benchmark.py", best, "--data", yolo_data, "--imgsz", 64, "--runs", 3,
              "--device", "cpu")  # fmt: skip
    (bench,) = fetch(direct_db_url, "select * from model_benchmarks")
    assert bench["session_id"] == session["id"]
    assert (bench["num_runs"], bench["img_size"], bench["device"]) == (3, 64, "cpu")
    assert f"Recorded for session {session['id']} on cpu" in out
    assert f"inference {bench['avg_inference_ms']:.2f} ms" in out
    assert "#1 example 6: mAP50-95 " in out


def test_sweep_example(run: Run, direct_db_url: str, yolo_data: Path) -> None:
    out = run("08_sweep.py", yolo_data, "--lr0", "0.02,0.005", "--epochs", 1, "--imgsz", 64,
              "--device", "cpu", "--workers", 0)  # fmt: skip
    (hp_run,) = fetch(direct_db_url, "select * from hyperparameter_runs")
    sessions = fetch(direct_db_url, "select * from training_sessions order by session_name")
    assert [s["hyperparameter_run_id"] for s in sessions] == [hp_run["id"]] * 2
    assert [s["status"] for s in sessions] == ["completed"] * 2
    assert [s["config"]["lr0"] for s in sessions] == [0.02, 0.005]
    assert [s["config"]["optimizer"] for s in sessions] == ["SGD"] * 2
    assert hp_run["best_session_id"] in {s["id"] for s in sessions}
    assert f"Hyperparameter run {hp_run['id']}" in out
    for s in sessions:
        assert f"session {s['id']}" in out
    assert f"Best (kept by the database): session {hp_run['best_session_id']}" in out
