"""A training while the database is down all along: it finishes, and `mltrack sync` delivers."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mltrack_sdk.cli import app
from mltrack_sdk.errors import MltrackWarning

from .test_track import fetch


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/nowhere?connect_timeout=1"


def test_database_down_for_the_whole_training_then_sync(
    direct_db_url: str,
    train_args: Callable[..., dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path))  # where `mltrack sync` looks
    model = YOLO("yolov8n.yaml")
    tracker = track(model, database_url=closed_port_url(), spool_dir=tmp_path / "spool")
    with pytest.warns(MltrackWarning) as caught:
        model.train(**train_args(epochs=2))
    assert any("starts offline" in str(w.message) for w in caught)
    assert tracker.session is not None and tracker.session.status == "completed"
    assert fetch(direct_db_url, "select * from training_sessions") == []
    assert (tmp_path / "spool" / f"{tracker.session_id}.jsonl").is_file()

    result = CliRunner().invoke(app, ["sync", "--database-url", direct_db_url])
    assert result.exit_code == 0, result.output
    (row,) = fetch(direct_db_url, "select * from training_sessions")
    assert (str(row["id"]), row["status"]) == (tracker.session_id, "completed")
    assert row["model_path"].endswith("best.pt")
    assert row["hardware_info"]["device"] == "cpu"
    epochs = fetch(direct_db_url, "select * from training_metrics order by epoch")
    assert [r["epoch"] for r in epochs] == [0, 1]
    assert all(r["map50_95"] is not None and r["box_loss"] is not None for r in epochs)
    names = {r["class_name"] for r in fetch(direct_db_url, "select * from validation_results")}
    assert names == {"all", "circle", "square", "triangle"}
    (dataset,) = fetch(direct_db_url, "select * from training_datasets")
    assert (dataset["name"], dataset["train_size"], dataset["val_size"]) == ("shapes", 32, 8)
    assert list((tmp_path / "spool").glob("*.jsonl")) == []
