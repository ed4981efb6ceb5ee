"""train(resume=True) after a crash continues the same session, without duplicate epochs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .test_track import fetch

# A training process that dies (SIGKILL, as when the OOM killer or a preemption ends it) right
# after epoch 0 was logged and saved: its session stays running, last.pt holds epoch 0.
CRASHING_TRAINING = """
import json, os, signal, sys
from ultralytics import YOLO
from mltrack_sdk.integrations.ultralytics import track

url, args = sys.argv[1], json.loads(sys.argv[2])
model = YOLO("yolov8n.yaml")
tracker = track(model, session_name="crashes once", database_url=url)

def crash(trainer):
    tracker.session.flush()
    print(tracker.session_id, trainer.save_dir, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

model.add_callback("on_fit_epoch_end", crash)
model.train(**args)
"""


def test_resume_continues_the_same_session(
    direct_db_url: str, train_args: Callable[..., dict[str, Any]]
) -> None:
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    args = train_args(epochs=3)
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_TRAINING, direct_db_url, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -9, child.stderr[-3000:]
    session_id, save_dir = child.stdout.split()[-2:]
    (row,) = fetch(direct_db_url, "select * from training_sessions")
    assert (str(row["id"]), row["status"], row["epochs_completed"]) == (session_id, "running", 1)
    first = fetch(direct_db_url, "select * from training_metrics")

    model = YOLO(str(Path(save_dir) / "weights" / "last.pt"))
    tracker = track(model, database_url=direct_db_url)
    model.train(resume=True)

    assert tracker.session_id == session_id
    (row,) = fetch(direct_db_url, "select * from training_sessions")
    assert row["status"] == "completed"
    assert row["session_name"] == "crashes once"
    rows = fetch(direct_db_url, "select * from training_metrics order by epoch")
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert row["epochs_completed"] == 3
    assert rows[0] == first[0]  # the resumed training started at epoch 1: epoch 0 untouched


def test_resuming_an_ended_session_starts_a_new_one(
    direct_db_url: str, train_args: Callable[..., dict[str, Any]]
) -> None:
    from ultralytics import YOLO

    from mltrack_sdk.errors import MltrackWarning
    from mltrack_sdk.integrations.ultralytics import track

    model = YOLO("yolov8n.yaml")
    first = track(model, session_name="fails in epoch 1", database_url=direct_db_url)

    def fail_in_epoch_1(trainer: Any) -> None:
        if trainer.epoch == 1:
            raise MemoryError("out of memory")

    model.add_callback("on_train_epoch_end", fail_in_epoch_1)
    args = train_args(epochs=2)
    with pytest.raises(MemoryError):
        model.train(**args)

    again = YOLO(str(Path(args["project"]) / args["name"] / "weights" / "last.pt"))
    second = track(again, database_url=direct_db_url)
    with pytest.warns(MltrackWarning, match="starts a new session: status is already failed"):
        again.train(resume=True)

    rows = {str(r["id"]): r for r in fetch(direct_db_url, "select * from training_sessions")}
    assert first.session_id is not None and second.session_id is not None
    assert rows.keys() == {first.session_id, second.session_id}
    assert rows[first.session_id]["status"] == "failed"
    assert rows[second.session_id]["status"] == "completed"
    assert rows[second.session_id]["config"]["resumed_from"] == first.session_id
    epochs = fetch(direct_db_url, "select session_id, epoch from training_metrics order by epoch")
    assert [(str(r["session_id"]), r["epoch"]) for r in epochs] == [
        (first.session_id, 0),
        (second.session_id, 1),
    ]
