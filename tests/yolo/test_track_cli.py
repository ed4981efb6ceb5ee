"""`mltrack train`: one short tracked training from the shell, and its error exits."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mltrack_sdk.cli import app

from .test_track import fetch


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"})


def test_train_tracks_one_run(
    runner: CliRunner, direct_db_url: str, yolo_data: Path, tmp_path: Path
) -> None:
    args = ["train", str(yolo_data), "--epochs", "1", "--imgsz", "64", "--batch", "16"]
    args += ["--device", "cpu", "--name", "from the shell", "--database-url", direct_db_url]
    args += ["workers=0", "plots=False", f"project={tmp_path}", "name=cli", "seed=0"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (row,) = fetch(direct_db_url, "select * from training_sessions")
    assert (row["session_name"], row["status"], row["epochs"]) == ("from the shell", "completed", 1)
    assert row["config"]["workers"] == 0 and row["config"]["project"] == str(tmp_path)
    assert f"Session {row['id']}: completed" in result.output
    assert f"Model: {tmp_path / 'cli' / 'weights' / 'best.pt'}" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "many"], "Invalid value for '--epochs'"),
        (["--bogus"], "No such option: --bogus"),
        (["patience"], "'patience' is not key=value"),
        (["epochs=3"], "give epochs as --epochs"),
        (["patience=1", "patience=2"], "patience is given twice"),
    ],
)
def test_bad_arguments_exit_2(
    runner: CliRunner, yolo_data: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["train", str(yolo_data), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "Error: epochs must be a positive integer (got 0)"),
        (["--imgsz", "16"], "Error: imgsz must be at least 32 pixels (got 16)"),
        (["--batch", "0"], "Error: batch must be a positive integer, or -1 for automatic (got 0)"),
        (["--name", " "], "Error: name is required and must not be blank"),
        (["petience=3"], "Error: petience is not an Ultralytics train argument"),
        (["--model", "nothere.pt"], "Error: model must be an existing weights file offline"),
        (["--model", "nothere.yaml"], "Error: model cannot be loaded"),
    ],
)
def test_user_errors_exit_1_with_one_line(
    runner: CliRunner, yolo_data: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["train", str(yolo_data), "--device", "cpu", *args])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1].startswith(message)
    assert "Traceback" not in result.output


def test_missing_data_file_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == f"Error: data must be an existing data yaml file (got '{tmp_path / 'none.yaml'}')"
    )
