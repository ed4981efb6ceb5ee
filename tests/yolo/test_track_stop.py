"""How a tracked training ends other than completed: a stop request, an exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from mltrack_sdk.errors import InvalidValueError, MissingValueError, MltrackWarning

from .test_track import fetch


def test_stop_request_from_another_connection_cancels_after_the_epoch(
    direct_db_url: str, train_args: Callable[..., dict[str, Any]]
) -> None:
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    model = YOLO("yolov8n.yaml")
    tracker = track(model, database_url=direct_db_url, heartbeat_interval=0.1)

    def ask_to_stop(trainer: Any) -> None:
        if trainer.epoch == 0:  # as a user would, from psql or another machine
            with psycopg.connect(direct_db_url, autocommit=True) as other:
                other.execute("select request_stop(%s, 'enough')", (tracker.session_id,))

    model.add_callback("on_train_epoch_start", ask_to_stop)
    model.train(**train_args(epochs=4))

    (row,) = fetch(direct_db_url, "select * from training_sessions")
    assert row["status"] == "cancelled"
    epochs = [r["epoch"] for r in fetch(direct_db_url, "select epoch from training_metrics")]
    # Seen within the epoch it was asked in (heartbeat every 0.1 s, an epoch takes longer).
    assert epochs == [0]
    assert row["status_reason"] == "stop requested: training ended after epoch 0"
    assert row["model_path"].endswith("best.pt")
    names = {r["class_name"] for r in fetch(direct_db_url, "select * from validation_results")}
    assert "all" in names


def test_exception_in_training_fails_the_session_with_it(
    direct_db_url: str, train_args: Callable[..., dict[str, Any]]
) -> None:
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    model = YOLO("yolov8n.yaml")
    tracker = track(model, session_name="doomed", database_url=direct_db_url)

    def explode(trainer: Any) -> None:
        raise RuntimeError(f"disk on fire in epoch {trainer.epoch}")

    model.add_callback("on_train_epoch_end", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        model.train(**train_args(epochs=2))

    (row,) = fetch(direct_db_url, "select * from training_sessions")
    assert str(row["id"]) == tracker.session_id
    assert row["status"] == "failed"
    assert row["status_reason"] == "RuntimeError: disk on fire in epoch 0"
    assert fetch(direct_db_url, "select * from training_metrics") == []


def test_bad_arguments_raise_naming_the_field_and_register_nothing() -> None:
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    model = YOLO("yolov8n.yaml")
    before = {event: len(fns) for event, fns in model.callbacks.items()}
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"session_name": "  "}, MissingValueError, "session_name is required"),
        ({"epochs_planned": 3}, InvalidValueError, "epochs_planned is not an argument"),
        ({"resume": "x"}, InvalidValueError, "resume is not an argument"),
        ({"benchmark": "yes"}, InvalidValueError, "benchmark must be True, False or a dict"),
        ({"session": "abc"}, InvalidValueError, "session must be a Session"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            track(model, **kwargs)
    with pytest.raises(InvalidValueError, match="model must be an Ultralytics model"):
        track(object())
    assert {event: len(fns) for event, fns in model.callbacks.items()} == before


def test_a_logging_problem_is_a_warning_and_training_goes_on(
    direct_db_url: str, train_args: Callable[..., dict[str, Any]]
) -> None:
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    model = YOLO("yolov8n.yaml")
    tracker = track(model, database_url=direct_db_url, model_type=" ")
    with pytest.warns(MltrackWarning, match="could not log this training: model_type is required"):
        results = model.train(**train_args(epochs=1))
    assert results is not None and "metrics/mAP50(B)" in results.results_dict
    assert tracker.session is None
    assert fetch(direct_db_url, "select * from training_sessions") == []
