"""benchmark() and `mltrack benchmark`: real predictions of the tracked training's best.pt,
recorded in a real Postgres."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

import mltrack_sdk as mlt
from mltrack_sdk.benchmark import BenchmarkResult, benchmark, percentile
from mltrack_sdk.cli import app
from mltrack_sdk.errors import (
    DatabaseError,
    InvalidValueError,
    MissingValueError,
    MltrackError,
    NotFoundError,
    SessionClosedError,
)

from .conftest import TrackedTraining

#: Quick: 64 px images, a few runs on the CPU.
QUICK: dict[str, Any] = {"imgsz": 64, "runs": 5, "warmup": 1, "device": "cpu", "progress": False}
CLI_ENV = {"COLUMNS": "120", "TERMINAL_WIDTH": "120", "NO_COLOR": "1"}


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The spool of a session started here stays in the test's own directory."""
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))


def fetch(url: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as c:
        return c.execute(query, params).fetchall()


def benchmark_count(url: str) -> int:
    return fetch(url, "select count(*) as n from model_benchmarks")[0]["n"]


def val_images(run: TrackedTraining) -> Path:
    return run.data.parent / "images" / "val"


def assert_sane(result: BenchmarkResult, batch: int = 1) -> None:
    assert 0 < result.min_inference_ms <= result.p50_inference_ms <= result.p95_inference_ms
    assert result.p95_inference_ms <= result.max_inference_ms
    assert result.min_inference_ms <= result.avg_inference_ms <= result.max_inference_ms
    assert result.fps == pytest.approx(1000.0 * batch / result.avg_inference_ms)
    # End to end includes pre- and post-processing: never faster than inference alone.
    assert 0 < result.pipeline_fps <= result.fps
    assert result.pipeline_ms >= result.avg_inference_ms
    assert result.preprocess_ms > 0 and result.postprocess_ms > 0
    assert (result.device, result.dtype, result.model_format) == ("cpu", "fp32", "pytorch")
    assert result.device_name and result.hardware_info["cpu"] == result.device_name
    assert result.hardware_info["torch"] and result.hardware_info["ultralytics"]


def test_recorded_for_the_session_that_trained_the_weights(
    tracked_training: TrackedTraining,
) -> None:
    run = tracked_training
    result = benchmark(run.best_pt, data=run.data, database_url=run.db_url, **QUICK)

    assert_sane(result)
    assert (result.num_runs, result.warmup_runs) == (5, 1)
    assert (result.batch_size, result.img_size) == (1, 64)
    assert result.images == 5  # five runs of one image: the first five val images
    assert result.model_path == str(run.best_pt)
    assert result.session_id == run.session_id
    (row,) = fetch(run.db_url, "select * from model_benchmarks where id = %s", result.benchmark_id)
    assert str(row["session_id"]) == run.session_id
    assert row["avg_inference_ms"] == result.avg_inference_ms
    for column, value in result.record_fields().items():
        assert row[column] == value, column
    # Every column of the table is filled: nothing the benchmark knows is left to a default.
    filled = {"id", "session_id", "created_at", "avg_inference_ms", *result.record_fields()}
    assert set(row) == filled
    (session,) = fetch(
        run.db_url, "select best_inference_ms from training_sessions where id = %s", run.session_id
    )
    assert session["best_inference_ms"] <= result.avg_inference_ms


def test_explicit_session_id_with_a_batch_from_a_folder(
    tracked_training: TrackedTraining, tmp_path: Path
) -> None:
    run = tracked_training
    copy = tmp_path / "exported.pt"  # a path no session knows
    shutil.copyfile(run.best_pt, copy)
    before = benchmark_count(run.db_url)
    with pytest.raises(NotFoundError) as err:
        benchmark(copy, images=val_images(run), database_url=run.db_url, **QUICK)
    assert err.value.field == "model"
    assert str(copy) in err.value.message
    assert benchmark_count(run.db_url) == before

    quick = {**QUICK, "runs": 3}
    result = benchmark(
        copy, images=val_images(run), batch=4, session_id=run.session_id, database_url=run.db_url,
        **quick,
    )  # fmt: skip

    assert_sane(result, batch=4)
    assert (result.batch_size, result.num_runs, result.images) == (4, 3, 8)
    (row,) = fetch(run.db_url, "select * from model_benchmarks where id = %s", result.benchmark_id)
    assert str(row["session_id"]) == run.session_id
    assert (row["batch_size"], row["num_runs"]) == (4, 3)
    # The figures are per batch: the database's fps formula gives the same images per second.
    assert row["fps"] == pytest.approx(4000.0 / row["avg_inference_ms"])
    assert benchmark_count(run.db_url) == before + 1


def test_default_images_are_the_val_split_the_model_was_trained_on(
    tracked_training: TrackedTraining,
) -> None:
    # Two runs of batch 4: all 8 val images of the training's data, found through best.pt.
    result = benchmark(tracked_training.best_pt, batch=4, record=False, **{**QUICK, "runs": 2})
    assert result.images == 8
    assert_sane(result, batch=4)


def test_record_false_writes_nothing_and_needs_no_database(
    tracked_training: TrackedTraining,
) -> None:
    run = tracked_training
    before = benchmark_count(run.db_url)
    unreachable = "postgresql://nobody@127.0.0.1:9/nothing?connect_timeout=1"
    result = benchmark(
        run.best_pt, images=val_images(run), record=False, database_url=unreachable, **QUICK
    )
    assert_sane(result)
    assert (result.session_id, result.benchmark_id) == (None, None)
    assert benchmark_count(run.db_url) == before


def test_into_an_open_session_and_not_into_a_finished_one(
    tracked_training: TrackedTraining, db_url: str
) -> None:
    images = val_images(tracked_training)
    with mlt.start_session(
        "benchmarked", model_type="yolov8n", epochs=1, database_url=db_url
    ) as run:
        result = benchmark(tracked_training.best_pt, images=images, session=run, **QUICK)
        assert result.session_id == run.id
    (row,) = fetch(db_url, "select * from model_benchmarks where id = %s", result.benchmark_id)
    assert str(row["session_id"]) == run.id
    assert row["p95_inference_ms"] == result.p95_inference_ms

    with pytest.raises(SessionClosedError):
        benchmark(tracked_training.best_pt, images=images, session=run, **QUICK)
    assert benchmark_count(db_url) == 1


@pytest.mark.parametrize("own_images", [False, True], ids=["val split", "images option"])
def test_track_with_benchmark_records_one_before_the_session_completes(
    db_url: str, train_args: Callable[..., dict[str, Any]], own_images: bool
) -> None:
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    model = YOLO("yolov8n.yaml")
    args = train_args(epochs=1)
    options: dict[str, Any] = {"runs": 3, "warmup": 1}
    if own_images:  # images of the user's choice replace the data's val split
        options["images"] = Path(args["data"]).parent / "images" / "val"
    tracker = track(model, session_name="benchmarked", database_url=db_url, benchmark=options)
    model.train(**args)

    (row,) = fetch(db_url, "select * from model_benchmarks")
    assert str(row["session_id"]) == tracker.session_id
    # The training's own image size and device, on the val split of its data.
    assert (row["num_runs"], row["warmup_runs"], row["img_size"]) == (3, 1, 64)
    assert (row["device"], row["batch_size"]) == ("cpu", 1)
    (session,) = fetch(db_url, "select * from training_sessions")
    assert session["status"] == "completed"
    assert session["best_inference_ms"] == row["avg_inference_ms"]


def _not_a_model(tmp_path: Path) -> Path:
    path = tmp_path / "notes.pt"
    path.write_text("not weights")
    return path


def _empty_folder(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    return tmp_path / "empty"


def _broken_image(tmp_path: Path) -> Path:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png")
    return tmp_path / "broken"


#: (arguments, expected error, field it names); a callable value is made from tmp_path.
BAD_ARGUMENTS: list[tuple[dict[str, Any], type[MltrackError], str | None]] = [
    ({"runs": 0}, InvalidValueError, "runs"),
    ({"runs": 2.5}, InvalidValueError, "runs"),
    ({"runs": None}, MissingValueError, "runs"),
    ({"warmup": -1}, InvalidValueError, "warmup"),
    ({"batch": 0}, InvalidValueError, "batch"),
    ({"imgsz": 65}, InvalidValueError, "imgsz"),
    ({"imgsz": -64}, InvalidValueError, "imgsz"),
    ({"half": "yes"}, InvalidValueError, "half"),
    ({"half": True}, InvalidValueError, "half"),  # the CPU has no fp16 inference
    ({"device": "7"}, InvalidValueError, "device"),  # no such GPU here
    ({"device": "0,1"}, InvalidValueError, "device"),
    ({"device": " "}, InvalidValueError, "device"),
    ({"session_id": "not-a-uuid"}, InvalidValueError, "session_id"),
    ({"session_id": "00000000-0000-4000-8000-000000000000"}, NotFoundError, "session_id"),
    ({"images": "missing/"}, InvalidValueError, "images"),
    ({"images": _empty_folder}, InvalidValueError, "images"),
    ({"images": _broken_image}, InvalidValueError, "images"),
    ({"images": None, "data": "missing.yaml"}, InvalidValueError, "data"),
    ({"model": "missing.pt"}, InvalidValueError, "model"),
    ({"model": _not_a_model}, InvalidValueError, "model"),
    ({"model": 42}, InvalidValueError, "model"),
]


def _case_id(bad: dict[str, Any]) -> str:
    return ",".join(f"{k}={getattr(v, '__name__', v)!s}" for k, v in bad.items())


@pytest.mark.parametrize(
    ("bad", "error", "field"), BAD_ARGUMENTS, ids=[_case_id(b[0]) for b in BAD_ARGUMENTS]
)
def test_bad_arguments_raise_naming_the_field_and_record_nothing(
    tracked_training: TrackedTraining,
    tmp_path: Path,
    bad: dict[str, Any],
    error: type[MltrackError],
    field: str,
) -> None:
    run = tracked_training
    args: dict[str, Any] = {
        "model": run.best_pt,
        "images": val_images(run),
        "database_url": run.db_url,
        **QUICK,
    }
    args.update({k: v(tmp_path) if callable(v) else v for k, v in bad.items()})
    before = benchmark_count(run.db_url)
    with pytest.raises(error) as err:
        benchmark(args.pop("model"), **args)
    assert isinstance(err.value, DatabaseError) and err.value.field == field
    assert err.value.message.startswith(field)
    assert benchmark_count(run.db_url) == before


def test_images_and_data_together_are_refused(tracked_training: TrackedTraining) -> None:
    with pytest.raises(InvalidValueError, match="images cannot be given together with data"):
        benchmark(
            tracked_training.best_pt,
            images=val_images(tracked_training),
            data=tracked_training.data,
            record=False,
        )


def test_a_progress_bar_on_stderr_while_it_runs(
    tracked_training: TrackedTraining,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal, as far as rich can tell
    images = val_images(tracked_training)
    benchmark(tracked_training.best_pt, images=images, record=False, **{**QUICK, "progress": True})
    shown = capsys.readouterr()
    assert shown.out == ""
    assert "benchmark: warm-up" in shown.err and "benchmark: timed runs" in shown.err
    assert "6/6" in shown.err

    benchmark(tracked_training.best_pt, images=images, record=False, **QUICK)
    assert capsys.readouterr() == ("", "")


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([7.0], 95) == 7.0
    assert percentile([0.1, 0.1, 0.1], 50) == 0.1


# -- the CLI -----------------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env=CLI_ENV).invoke(app, ["benchmark", *args])
    return result.exit_code, result.stdout, result.stderr


QUICK_CLI = ("--imgsz", "64", "--runs", "3", "--warmup", "1", "--device", "cpu")


def test_cli_prints_a_table_and_records(tracked_training: TrackedTraining) -> None:
    run = tracked_training
    before = benchmark_count(run.db_url)
    code, out, err = invoke(
        str(run.best_pt), "--data", str(run.data), "--database-url", run.db_url, *QUICK_CLI
    )
    assert code == 0, err
    assert "Inference benchmark of best.pt" in out
    for label in ("inference avg (ms)", "inference p95", "FPS (inference)", "FPS (end to end)"):
        assert label in out
    assert "cpu (" in out and "64 / 1" in out and "3 (+ 1)" in out
    (row,) = fetch(
        run.db_url, "select * from model_benchmarks order by created_at desc, id limit 1"
    )
    assert f"Recorded benchmark {row['id']} for session {run.session_id}." in out
    assert (row["num_runs"], row["warmup_runs"], row["img_size"]) == (3, 1, 64)
    assert benchmark_count(run.db_url) == before + 1


def test_cli_json_is_the_result_and_no_record_writes_nothing(
    tracked_training: TrackedTraining,
) -> None:
    run = tracked_training
    before = benchmark_count(run.db_url)
    images = str(val_images(run))
    code, out, err = invoke(
        str(run.best_pt), "--images", images, "--no-record", "--json", *QUICK_CLI
    )
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {f.name for f in BenchmarkResult.__dataclass_fields__.values()}
    assert payload["benchmark_id"] is None and payload["session_id"] is None
    assert payload["num_runs"] == 3 and payload["device"] == "cpu"
    assert payload["min_inference_ms"] <= payload["p50_inference_ms"] <= payload["max_inference_ms"]
    assert benchmark_count(run.db_url) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--runs", "0"), "Error: runs must be a positive integer (got 0)"),
        (("--imgsz", "100"), "Error: imgsz must be a multiple of 32"),
        (("--session", "abc"), "Error: session_id must be a UUID (got 'abc')"),
    ],
)
def test_cli_user_errors_are_one_red_line(
    tracked_training: TrackedTraining, args: tuple[str, ...], message: str
) -> None:
    run = tracked_training
    before = benchmark_count(run.db_url)
    code, out, err = invoke(
        str(run.best_pt), "--images", str(val_images(run)), "--database-url", run.db_url, *args
    )
    assert code == 1
    assert out == ""
    assert err.startswith(message) and err.count("\n") == 1, err
    assert benchmark_count(run.db_url) == before


def test_cli_unknown_weights_path_is_one_red_line(
    tracked_training: TrackedTraining, tmp_path: Path
) -> None:
    copy = tmp_path / "best.pt"
    shutil.copyfile(tracked_training.best_pt, copy)
    code, out, err = invoke(
        str(copy), "--images", str(val_images(tracked_training)),
        "--database-url", tracked_training.db_url, *QUICK_CLI,
    )  # fmt: skip
    assert code == 1 and out == ""
    assert err == f"Error: model is not the model_path of any training session (got {copy})\n"
