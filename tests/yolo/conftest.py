"""Fixtures for tests of real Ultralytics trainings (offline, on the CPU, on generated data).

- ``yolo_env`` (session, autouse): :func:`prepare_offline` into a temp dir before any test here
  imports ultralytics. Test modules import ultralytics inside their functions, never at the top:
  the variables must be set before its first import.
- ``yolo_data`` (session): path of a small synthetic data yaml (circle/square/triangle, 32 train
  and 8 val images of 64 px).
- ``yolo_db_url`` (session): a migrated database cloned from the template, shared by the tests
  that share one training.
- ``tracked_training`` (session): ONE 3-epoch tracked training against ``yolo_db_url``; a
  :class:`TrackedTraining` with ``db_url``, ``session_id``, ``best_pt``, ``data``, ``epochs``.
- ``train_args``: the keyword arguments of a quick training (``model.train(**train_args(...))``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import PgServer, create_database, drop_database

from mltrack_sdk.integrations.ultralytics import prepare_offline
from mltrack_sdk.synthetic import make_dataset

_YOLO_ENV = ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "YOLO_CONFIG_DIR")


@pytest.fixture(scope="session", autouse=True)
def yolo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Ultralytics set up to download nothing; yields its settings directory."""
    if "ultralytics" in sys.modules:
        pytest.fail(
            "ultralytics was imported before the yolo tests set it up offline: import it inside"
            " test functions (after the yolo_env fixture), never at the top of a module"
        )
    saved = {name: os.environ.get(name) for name in _YOLO_ENV}
    settings_dir = prepare_offline(tmp_path_factory.mktemp("yolo_config"))
    yield settings_dir
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def yolo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic YOLO dataset; the path of its data yaml."""
    return make_dataset(tmp_path_factory.mktemp("data") / "shapes", train=32, val=8, imgsz=64)


@pytest.fixture(scope="session")
def train_args(
    yolo_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., dict[str, Any]]:
    """``train_args(epochs=3, **more)``: a quick CPU training's arguments, in a new project dir."""

    def make(epochs: int = 3, **more: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "data": str(yolo_data),
            "epochs": epochs,
            "imgsz": 64,
            "batch": 16,
            "workers": 0,
            "device": "cpu",
            "amp": False,
            "plots": False,
            "verbose": False,
            "project": str(tmp_path_factory.mktemp("runs")),
            "name": "train",
            "exist_ok": True,
            "seed": 0,
        }
        return {**args, **more}

    return make


@pytest.fixture(scope="session")
def yolo_db_url(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """A migrated database for the whole session (cloned from the template like
    ``direct_db_url``), for tests that share one training."""
    name = f"yolo_{os.getpid()}"
    url = create_database(pg_server, name, template=template_db)
    yield url
    drop_database(pg_server, name)


@dataclass(frozen=True)
class TrackedTraining:
    """A finished tracked training: where it was logged and what it wrote."""

    db_url: str
    session_id: str
    best_pt: Path
    save_dir: Path
    data: Path
    epochs: int


@pytest.fixture(scope="session")
def tracked_training(
    yolo_db_url: str, yolo_data: Path, train_args: Callable[..., dict[str, Any]]
) -> TrackedTraining:
    """ONE 3-epoch tracked training, shared by every test that asserts something about it."""
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    model = YOLO("yolov8n.yaml")
    tracker = track(model, session_name="yolov8n shapes", database_url=yolo_db_url)
    model.train(**train_args(epochs=3))
    assert tracker.session_id is not None
    return TrackedTraining(
        db_url=yolo_db_url,
        session_id=tracker.session_id,
        best_pt=Path(model.trainer.best),
        save_dir=Path(model.trainer.save_dir),
        data=yolo_data,
        epochs=3,
    )
