"""track(model): one real 3-epoch training on generated data, logged to a real Postgres."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from mltrack_sdk.checks import METRIC_KINDS

from .conftest import TrackedTraining


def fetch(url: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as c:
        return c.execute(query, params).fetchall()


def session_row(run: TrackedTraining) -> dict[str, Any]:
    (row,) = fetch(run.db_url, "select * from training_sessions where id = %s", run.session_id)
    return row


def test_one_completed_session_described_by_the_trainer(tracked_training: TrackedTraining) -> None:
    rows = fetch(tracked_training.db_url, "select id from training_sessions")
    assert [str(r["id"]) for r in rows] == [tracked_training.session_id]
    row = session_row(tracked_training)
    assert row["status"] == "completed"
    assert row["session_name"] == "yolov8n shapes"
    assert row["model_type"] == "yolov8n"
    assert row["dataset_name"] == "shapes"
    assert (row["epochs"], row["batch_size"], row["img_size"]) == (3, 16, 64)
    assert row["learning_rate"] > 0
    assert row["config"]["epochs"] == 3
    assert row["config"]["data"] == str(tracked_training.data)
    assert (row["config"]["imgsz"], row["config"]["batch"], row["config"]["workers"]) == (64, 16, 0)
    hardware = row["hardware_info"]
    assert hardware["device"] == "cpu"
    assert hardware["ram_gb"] > 0
    for key in ("cpu", "python", "torch", "ultralytics"):
        assert hardware[key], key
    assert row["model_path"] == str(tracked_training.best_pt)
    assert tracked_training.best_pt.is_file()


def test_exactly_one_row_per_epoch_with_every_metric(tracked_training: TrackedTraining) -> None:
    rows = fetch(
        tracked_training.db_url,
        "select * from training_metrics where session_id = %s order by epoch",
        tracked_training.session_id,
    )
    # Epochs count from 0; the final evaluation of best.pt (trainer epoch 3) makes no row.
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    for row in rows:
        missing = [key for key in METRIC_KINDS if row[key] is None]
        assert not missing, (row["epoch"], missing)
        assert row["gpu_memory_mb"] == 0  # the CPU
        losses = row["box_loss"] + row["cls_loss"] + row["dfl_loss"]
        assert row["total_loss"] == pytest.approx(losses)
        assert row["epoch_time_seconds"] > 0
        assert set(row["extra"]) >= {"lr/pg1", "lr/pg2", "rss_mb", "rss_peak_mb"}
        assert row["extra"]["rss_peak_mb"] >= row["extra"]["rss_mb"] > 0


def test_finals_are_the_best_epochs(tracked_training: TrackedTraining) -> None:
    row = session_row(tracked_training)
    (best,) = fetch(
        tracked_training.db_url,
        "select * from training_metrics where session_id = %s and epoch = %s",
        tracked_training.session_id,
        row["best_epoch"],
    )
    # The finals are best.pt evaluated again (its weights stored in fp16), the epoch rows
    # Ultralytics' values rounded to 5 decimals: equal up to that.
    for key in ("map50", "map50_95", "precision", "recall"):
        assert row[f"final_{key}"] == pytest.approx(best[key], abs=1e-3), key
    assert row["best_map50_95"] == best["map50_95"]


def test_validation_rows_for_every_class_and_overall(tracked_training: TrackedTraining) -> None:
    rows = fetch(
        tracked_training.db_url,
        "select * from validation_results where session_id = %s",
        tracked_training.session_id,
    )
    by_name = {r["class_name"]: r for r in rows}
    assert set(by_name) == {"all", "circle", "square", "triangle"}
    assert by_name["all"]["images"] == 8
    classes = [r for r in rows if r["class_name"] != "all"]
    assert by_name["all"]["instances"] == sum(r["instances"] for r in classes) > 0
    assert {by_name[c]["class_id"] for c in ("circle", "square", "triangle")} == {0, 1, 2}
    for row in rows:
        assert row["split"] == "val"
        for key in ("precision", "recall", "map50", "map50_95"):
            assert row[key] is not None, (row["class_name"], key)


def test_dataset_row_from_the_data_yaml(tracked_training: TrackedTraining) -> None:
    (row,) = fetch(tracked_training.db_url, "select * from training_datasets")
    assert row["name"] == "shapes"
    assert row["class_names"] == ["circle", "square", "triangle"]
    assert (row["train_size"], row["val_size"], row["test_size"]) == (32, 8, 0)
    assert row["path"] == str(tracked_training.data)
    assert row["format"] == "yolo"
