"""What a tracked training builds on: the synthetic dataset, the offline setup of Ultralytics,
and Session.upsert_dataset."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from mltrack_sdk import start_session
from mltrack_sdk.errors import InvalidValueError, MissingValueError, MltrackWarning
from mltrack_sdk.synthetic import make_dataset

from .test_track import fetch


def tree(root: Path) -> dict[str, bytes]:
    """Images and labels by path (the data yaml names its own directory)."""
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix != ".yaml"]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_make_dataset_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    small: dict[str, Any] = {"train": 4, "val": 2, "imgsz": 32}
    first = make_dataset(tmp_path / "a" / "shapes", seed=7, **small)
    second = make_dataset(tmp_path / "b" / "shapes", seed=7, **small)
    other = make_dataset(tmp_path / "c" / "shapes", seed=8, **small)
    assert tree(first.parent).keys() == tree(other.parent).keys()
    files = tree(first.parent)
    assert files == tree(second.parent)
    assert files != tree(other.parent)
    assert len([f for f in files if f.endswith(".png")]) == 6
    labels = [
        line.split()
        for f, text in files.items()
        if f.endswith(".txt")
        for line in text.decode().splitlines()
    ]
    assert labels and all(len(parts) == 5 and parts[0] in "012" for parts in labels)
    assert all(0 < float(v) <= 1 for parts in labels for v in parts[1:])
    text = first.read_text()
    assert 'names:\n  0: "circle"\n  1: "square"\n  2: "triangle"\n' in text
    assert f'path: "{first.parent}"' in text
    # Made again with the same arguments: the same dataset, nothing rewritten.
    assert make_dataset(tmp_path / "a" / "shapes", seed=7, **small) == first


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": ("circle", "hexagon")}, "classes must hold only circle, square, triangle"),
        ({"classes": "circle"}, "classes must be a tuple or list of shape names"),
        ({"classes": ()}, "classes must name at least one shape"),
        ({"classes": ["square", "square"]}, "classes must not repeat a shape"),
        ({"train": 0}, "train must be a positive integer (got 0)"),
        ({"val": True}, "val must be an integer (got True)"),
        ({"train": 100_001}, "train must be at most 100000 images"),
        ({"imgsz": 16}, "imgsz must be between 32 and 4096 pixels (got 16)"),
        ({"imgsz": 64.0}, "imgsz must be an integer"),
        ({"seed": -1}, "seed must be an integer >= 0 (got -1)"),
    ],
)
def test_make_dataset_rejects_bad_arguments(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_dataset(tmp_path / "shapes", **kwargs)
    assert not (tmp_path / "shapes").exists()


def test_make_dataset_refuses_a_directory_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InvalidValueError, match="root must be a new or empty directory") as error:
        make_dataset(tmp_path, train=1, val=1, imgsz=32)
    assert error.value.field == "root"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    with pytest.raises(InvalidValueError, match="root must be a path"):
        make_dataset(42)  # type: ignore[arg-type]


PROBE = """
import json, sys
import mltrack_sdk.integrations.ultralytics as integration
heavy = sorted(m for m in ("ultralytics", "torch") if m in sys.modules)
settings_dir = integration.prepare_offline(sys.argv[1])
from ultralytics import utils
print(json.dumps({"heavy": heavy, "dir": str(settings_dir), "used": str(utils.USER_CONFIG_DIR),
                  "online": utils.ONLINE, "settings": dict(utils.SETTINGS)}))
"""


def test_prepare_offline_before_import_is_what_ultralytics_uses(tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "Ultralytics").mkdir(parents=True)
    (config / "Ultralytics" / "settings.json").write_text(json.dumps({"runs_dir": "/my/runs"}))
    child = subprocess.run(
        [sys.executable, "-c", PROBE, str(config)], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr[-3000:]
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    assert seen["heavy"] == []  # importing the integration imports neither
    assert seen["dir"] == seen["used"] == str(config / "Ultralytics")
    assert seen["online"] is False
    settings = seen["settings"]
    assert settings["sync"] is False and settings["mlflow"] is False
    assert settings["runs_dir"] == "/my/runs"  # the user's other settings are kept
    fonts = sorted(p.name for p in (config / "Ultralytics").glob("*.ttf"))
    assert fonts == ["Arial.Unicode.ttf", "Arial.ttf"]


def test_prepare_offline_after_import_changes_what_it_can_and_warns(
    tmp_path: Path, yolo_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ultralytics import utils
    from ultralytics.utils import checks

    from mltrack_sdk.integrations.ultralytics import prepare_offline

    for name in ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "YOLO_CONFIG_DIR"):
        monkeypatch.setenv(name, str(yolo_env.parent) if name == "YOLO_CONFIG_DIR" else "1")
    monkeypatch.setitem(utils.SETTINGS, "sync", True)
    monkeypatch.setattr(checks, "ONLINE", True)
    monkeypatch.setattr(checks, "AUTOINSTALL", True)
    with pytest.warns(MltrackWarning, match="called after ultralytics was imported"):
        used = prepare_offline(tmp_path)
    assert used == yolo_env
    assert utils.SETTINGS["sync"] is False
    assert (checks.ONLINE, checks.AUTOINSTALL) == (False, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert prepare_offline(yolo_env.parent) == yolo_env  # the directory in force: no warning


def test_upsert_dataset_checks_then_sends_with_the_run(db_url: str, direct_db_url: str) -> None:
    with start_session("data", model_type="yolov8n", epochs=1, database_url=db_url) as run:
        bad: list[tuple[dict[str, Any], type[Exception], str]] = [
            ({"name": " "}, MissingValueError, "name is required"),
            ({"class_names": "cat"}, InvalidValueError, "class_names must be a list of names"),
            ({"class_names": ["cat", 3]}, InvalidValueError, "class_names must hold only strings"),
            ({"train_size": -1}, InvalidValueError, "train_size must be an integer >= 0"),
            ({"metadata": [1]}, InvalidValueError, "metadata must be a JSON object"),
            ({"format": ""}, MissingValueError, "format is required"),
        ]
        for kwargs, error, message in bad:
            with pytest.raises(error, match=message):
                run.upsert_dataset(**{"name": "pets", **kwargs})
        run.upsert_dataset(
            "pets",
            class_names=["cat", "dog"],
            train_size=10,
            val_size=2,
            path="/data/pets.yaml",
            metadata={"source": "camera"},
        )
    (row,) = fetch(direct_db_url, "select * from training_datasets")
    assert (row["name"], row["class_names"], row["num_classes"]) == ("pets", ["cat", "dog"], 2)
    assert (row["train_size"], row["val_size"], row["test_size"]) == (10, 2, 0)
    assert (row["path"], row["format"], row["metadata"]) == (
        "/data/pets.yaml",
        "yolo",
        {"source": "camera"},
    )


def test_a_tracker_with_an_open_session_pickles_without_it(db_url: str) -> None:
    # Multi-GPU training pickles the callbacks into its worker processes.
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    with start_session("ddp", model_type="yolov8n", epochs=1, database_url=db_url) as run:
        tracker = track(YOLO("yolov8n.yaml"), session=run)
        clone = pickle.loads(pickle.dumps(tracker))
        assert tracker.session_id == run.id
        assert (clone.session, clone.session_id) == (None, None)
