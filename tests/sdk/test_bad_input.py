"""A user mistake raises at once, typed, naming the field; nothing of it is written."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

import mltrack_sdk as mlt
from mltrack_sdk.spool import Spool

Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


class Tensorish:
    """Stands for a framework scalar (torch/numpy): anything with __float__ is accepted."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value


NOT_AN_INT: Any = 1.5
NOT_A_DICT: Any = [1]

LOG_CASES: list[tuple[str, Callable[[mlt.Session], Any], type[Exception], str]] = [
    ("fraction above 1", lambda r: r.log_epoch(0, map50=86.7), mlt.InvalidValueError, "map50"),
    ("negative fraction", lambda r: r.log_epoch(0, recall=-0.1), mlt.InvalidValueError, "recall"),
    ("negative loss", lambda r: r.log_epoch(0, box_loss=-1.0), mlt.InvalidValueError, "box_loss"),
    ("NaN loss", lambda r: r.log_epoch(0, cls_loss=math.nan), mlt.InvalidValueError, "cls_loss"),
    (
        "infinite time",
        lambda r: r.log_epoch(0, epoch_time_seconds=math.inf),
        mlt.InvalidValueError,
        "epoch_time_seconds",
    ),
    (
        "NaN fraction",
        lambda r: r.log_epoch(0, precision=math.nan),
        mlt.InvalidValueError,
        "precision",
    ),
    ("string metric", lambda r: r.log_epoch(0, map50="0.5"), mlt.InvalidValueError, "map50"),
    ("bool metric", lambda r: r.log_epoch(0, map50=True), mlt.InvalidValueError, "map50"),
    ("unknown metric", lambda r: r.log_epoch(0, mAP=0.5), mlt.InvalidValueError, "mAP"),
    ("negative epoch", lambda r: r.log_epoch(-1, box_loss=1.0), mlt.InvalidValueError, "epoch"),
    (
        "epoch beyond epochs",
        lambda r: r.log_epoch(11, box_loss=1.0),
        mlt.InvalidValueError,
        "epoch",
    ),
    (
        "float epoch",
        lambda r: r.log_epoch(NOT_AN_INT, box_loss=1.0),
        mlt.InvalidValueError,
        "epoch",
    ),
    (
        "extra not a dict",
        lambda r: r.log_epoch(0, extra=NOT_A_DICT),
        mlt.InvalidValueError,
        "extra",
    ),
    (
        "extra with NaN",
        lambda r: r.log_epoch(0, extra={"x": math.nan}),
        mlt.InvalidValueError,
        "extra",
    ),
    (
        "extra too big",
        lambda r: r.log_epoch(0, extra={"x": "a" * 20000}),
        mlt.ValueTooLargeError,
        "extra",
    ),
    (
        "batch: one bad row",
        lambda r: r.log_epochs([{"epoch": 0, "box_loss": 1.0}, {"epoch": 1, "map50": 2.0}]),
        mlt.InvalidValueError,
        "map50",
    ),
    (
        "batch: row without epoch",
        lambda r: r.log_epochs([{"box_loss": 1.0}]),
        mlt.InvalidValueError,
        "epoch",
    ),
    (
        "validation fraction",
        lambda r: r.record_validation({"map50": 1.5}),
        mlt.InvalidValueError,
        "map50",
    ),
    (
        "validation split",
        lambda r: r.record_validation({"map50": 0.5}, split="dev"),
        mlt.InvalidValueError,
        "split",
    ),
    (
        "validation count",
        lambda r: r.record_validation({"images": -3}),
        mlt.InvalidValueError,
        "images",
    ),
    (
        "validation blank class",
        lambda r: r.record_validation({"class_name": " "}),
        mlt.MissingValueError,
        "class_name",
    ),
    (
        "benchmark not positive",
        lambda r: r.record_benchmark(0.0),
        mlt.InvalidValueError,
        "avg_inference_ms",
    ),
    (
        "benchmark order",
        lambda r: r.record_benchmark(5.0, max_inference_ms=4.0),
        mlt.InvalidValueError,
        "max_inference_ms",
    ),
    (
        "benchmark unknown field",
        lambda r: r.record_benchmark(5.0, gpu="a100"),
        mlt.InvalidValueError,
        "gpu",
    ),
    ("finish status", lambda r: r.finish("done"), mlt.InvalidValueError, "status"),
    (
        "finish final fraction",
        lambda r: r.finish(final_map50=91.0),
        mlt.InvalidValueError,
        "final_map50",
    ),
    ("finish final loss", lambda r: r.finish(final_loss=-2.0), mlt.InvalidValueError, "final_loss"),
]


@pytest.mark.parametrize(
    ("case", "call", "error", "field"), LOG_CASES, ids=[c[0] for c in LOG_CASES]
)
def test_bad_log_input_raises_and_writes_nothing(
    db_url: str,
    conn: Conn,
    case: str,
    call: Callable[[mlt.Session], Any],
    error: type[Exception],
    field: str,
) -> None:
    with mlt.start_session(
        "bad input", model_type="yolov8n", epochs=10, database_url=db_url
    ) as run:
        with pytest.raises(error) as raised:
            call(run)
        assert raised.value.field == field  # type: ignore[attr-defined]
        assert field in str(raised.value)
    counts = conn.execute(
        "select (select count(*) from training_metrics) as m,"
        " (select count(*) from validation_results) as v,"
        " (select count(*) from model_benchmarks) as b, (select status from training_sessions) as s"
    ).fetchone()
    assert counts == {"m": 0, "v": 0, "b": 0, "s": "completed"}
    assert not Spool().dead_letter_path.exists()


def test_framework_scalars_are_accepted(db_url: str, conn: Conn) -> None:
    with mlt.start_session("scalars", model_type="yolov8n", epochs=10, database_url=db_url) as run:
        run.log_epoch(0, box_loss=Tensorish(0.25), map50=1, recall=None)
    row = conn.execute("select box_loss, map50, recall from training_metrics").fetchone()
    assert row == {"box_loss": 0.25, "map50": 1.0, "recall": None}


START_CASES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"session_name": "  "}, mlt.MissingValueError, "session_name"),
    ({"session_name": "x" * 201}, mlt.ValueTooLargeError, "session_name"),
    ({"model_type": None}, mlt.MissingValueError, "model_type"),
    ({"epochs": 0}, mlt.InvalidValueError, "epochs"),
    ({"epochs": None}, mlt.MissingValueError, "epochs"),
    ({"epochs": 10.5}, mlt.InvalidValueError, "epochs"),
    ({"batch_size": -16}, mlt.InvalidValueError, "batch_size"),
    ({"learning_rate": 0.0}, mlt.InvalidValueError, "learning_rate"),
    ({"learning_rate": math.inf}, mlt.InvalidValueError, "learning_rate"),
    ({"img_size": 0}, mlt.InvalidValueError, "img_size"),
    ({"dataset_size": -1}, mlt.InvalidValueError, "dataset_size"),
    ({"config": ["mosaic"]}, mlt.InvalidValueError, "config"),
    ({"config": {"lr": math.nan}}, mlt.InvalidValueError, "config"),
    # Checked by the database only: the error comes back from it, typed the same way.
    (
        {"hyperparameter_run_id": "00000000-0000-0000-0000-000000000001"},
        mlt.NotFoundError,
        "hyperparameter_run_id",
    ),
]


@pytest.mark.parametrize(
    ("override", "error", "field"),
    START_CASES,
    ids=[c[2] + "-" + c[1].__name__ for c in START_CASES],
)
def test_bad_start_raises_and_writes_nothing(
    db_url: str, conn: Conn, override: dict[str, Any], error: type[Exception], field: str
) -> None:
    args: dict[str, Any] = {
        "session_name": "run",
        "model_type": "yolov8n",
        "epochs": 10,
        **override,
    }
    with pytest.raises(error) as raised:
        mlt.start_session(database_url=db_url, **args)
    assert raised.value.field == field  # type: ignore[attr-defined]
    assert conn.execute("select count(*) as n from training_sessions").fetchone() == {"n": 0}
