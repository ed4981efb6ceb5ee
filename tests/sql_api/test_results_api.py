"""record_validation, record_benchmark, upsert_dataset, create_hyperparameter_run and
finish_hyperparameter_run."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from .api import Conn, Row, call_one, pick, query, scalar, session_row

StartFn = Callable[..., Row]


def validation_rows(conn: Conn, session_id: Any) -> list[Row]:
    return query(
        conn,
        "select split, class_name, class_id, images, instances, precision, recall, map50,"
        " map50_95, extra from validation_results where session_id = %s"
        " order by split, class_name",
        (session_id,),
    )


def test_record_validation_upserts_one_row_per_split_and_class(conn: Conn, start: StartFn) -> None:
    s = start()
    overall = {"class_name": "all", "images": 16, "instances": 40, "precision": 0.8,
               "recall": 0.7, "map50": 0.75, "map50_95": 0.5}  # fmt: skip
    person = {"class_name": "person", "class_id": 0, "images": 10, "instances": 25,
              "precision": 0.9, "recall": 0.8, "map50": 0.85, "map50_95": 0.6,
              "extra": {"f1": 0.85}}  # fmt: skip
    car = {"class_name": "car", "class_id": 1, "images": 8, "instances": 15, "precision": 0.7,
           "recall": 0.6, "map50": 0.65, "map50_95": 0.4}  # fmt: skip
    results = [overall, person, car]
    assert scalar(conn, "record_validation", session_id=s["id"], results=results) == 3
    assert validation_rows(conn, s["id"]) == [
        {"split": "val", "class_id": None, "extra": {}, **overall},
        {"split": "val", "extra": {}, **car},
        {"split": "val", **person},
    ]

    # Validated again: a class replaces its row; a row without class_name is the overall row;
    # the same class twice in one batch keeps the last.
    again = [
        {"map50": 0.77},
        {"class_name": "person", "class_id": 0, "map50": 0.10},
        {"class_name": "person", "class_id": 0, "map50": 0.88},
    ]
    assert scalar(conn, "record_validation", session_id=s["id"], results=again) == 2
    rows = {r["class_name"]: r for r in validation_rows(conn, s["id"])}
    assert set(rows) == {"all", "car", "person"}
    assert pick(rows["all"], "map50", "images") == (0.77, None)
    assert pick(rows["person"], "map50", "precision", "extra") == (0.88, None, {})
    assert rows["car"]["map50"] == 0.65

    one = [{"class_name": "all", "map50": 0.7}]
    assert scalar(conn, "record_validation", session_id=s["id"], split="test", results=one) == 1
    assert [pick(r, "split", "class_name") for r in validation_rows(conn, s["id"])] == [
        ("test", "all"), ("val", "all"), ("val", "car"), ("val", "person")]  # fmt: skip


def test_record_benchmark_computes_fps_and_keeps_the_fastest(conn: Conn, start: StartFn) -> None:
    s = start()
    b1 = call_one(
        conn, "record_benchmark", session_id=s["id"], avg_inference_ms=10.0, min_inference_ms=8.0,
        max_inference_ms=14.0, p50_inference_ms=9.5, p95_inference_ms=13.0, batch_size=2,
        device="cuda:0", device_name="H100", model_format="onnx", dtype="fp16", img_size=640,
        num_runs=100, warmup_runs=10, preprocess_ms=0.5, postprocess_ms=1.0,
        hardware_info={"cuda": "12.4"},
    )  # fmt: skip
    assert pick(b1, "session_id", "fps", "device", "device_name", "model_format", "dtype",
                "batch_size", "p95_inference_ms", "hardware_info") == (
        s["id"], 200.0, "cuda:0", "H100", "onnx", "fp16", 2, 13.0, {"cuda": "12.4"})  # fmt: skip
    assert pick(session_row(conn, s["id"]), "best_inference_ms", "best_fps") == (10.0, 200.0)

    b2 = call_one(conn, "record_benchmark", session_id=s["id"], avg_inference_ms=4.0, fps=240.0)
    assert pick(b2, "device", "model_format", "dtype", "batch_size", "fps") == (
        "cpu", "pytorch", "fp32", 1, 240.0)  # fmt: skip
    assert pick(session_row(conn, s["id"]), "best_inference_ms", "best_fps") == (4.0, 240.0)

    call_one(conn, "record_benchmark", session_id=s["id"], avg_inference_ms=20.0)
    assert pick(session_row(conn, s["id"]), "best_inference_ms", "best_fps") == (4.0, 240.0)


def test_record_benchmark_replayed_with_the_same_id_is_recorded_once(
    conn: Conn, start: StartFn
) -> None:
    s = start()
    bid = uuid.uuid4()
    first = call_one(
        conn, "record_benchmark", session_id=s["id"], avg_inference_ms=10.0, benchmark_id=bid
    )
    again = call_one(
        conn, "record_benchmark", session_id=s["id"], avg_inference_ms=99.0, benchmark_id=bid
    )
    assert first["id"] == bid
    assert again == first
    assert query(conn, "select count(*) as n from model_benchmarks") == [{"n": 1}]
    assert session_row(conn, s["id"])["best_inference_ms"] == 10.0


def test_upsert_dataset_creates_then_updates_by_name(conn: Conn) -> None:
    first = call_one(
        conn, "upsert_dataset", name="mastomys_v2", class_names=["mastomys", "rattus"],
        train_size=4000, val_size=800, test_size=200, description="field traps",
        path="/data/mastomys", metadata={"source": "camera"},
    )  # fmt: skip
    assert pick(first, "num_classes", "total_size", "format", "class_names") == (
        2, 5000, "yolo", ["mastomys", "rattus"])  # fmt: skip

    second = call_one(
        conn, "upsert_dataset", name="mastomys_v2", class_names=["mastomys", "rattus", "mus"],
        train_size=4500, val_size=900, test_size=100, metadata={"version": 2},
    )  # fmt: skip
    assert second["id"] == first["id"]
    keys = ("num_classes", "train_size", "total_size", "description", "path", "metadata")
    merged = {"source": "camera", "version": 2}
    assert pick(second, *keys) == (3, 4500, 5500, "field traps", "/data/mastomys", merged)
    assert query(conn, "select count(*) as n from training_datasets") == [{"n": 1}]


def hyperparameter_run(conn: Conn, run_id: Any) -> Row:
    return query(conn, "select * from hyperparameter_runs where id = %s", (run_id,))[0]


def test_a_hyperparameter_run_tracks_its_best_trial(conn: Conn, start: StartFn) -> None:
    run = call_one(
        conn, "create_hyperparameter_run", name="lr sweep", search_space={"lr0": [0.001, 0.01]},
        n_trials=2, model_type="yolov8n",
    )  # fmt: skip
    assert pick(run, "objective", "direction", "status", "trials_started", "trials_completed",
                "best_session_id") == ("map50_95", "maximize", "running", 0, 0, None)  # fmt: skip
    assert call_one(conn, "create_hyperparameter_run", name="other", run_id=run["id"]) == run

    t1 = start(hyperparameter_run_id=run["id"], config={"lr0": 0.001})
    t2 = start(hyperparameter_run_id=run["id"], config={"lr0": 0.01})
    assert pick(hyperparameter_run(conn, run["id"]), "trials_started", "trials_completed") == (2, 0)

    call_one(conn, "finish_session", session_id=t1["id"], final_map50_95=0.5)
    call_one(conn, "finish_session", session_id=t2["id"], final_map50_95=0.6)
    assert pick(hyperparameter_run(conn, run["id"]), "trials_started", "trials_completed",
                "best_session_id", "best_value", "best_params") == (
        2, 2, t2["id"], 0.6, {"lr0": 0.01})  # fmt: skip


def test_the_loss_objective_is_minimised(conn: Conn, start: StartFn) -> None:
    run = call_one(conn, "create_hyperparameter_run", name="loss sweep", objective="loss")
    assert run["direction"] == "minimize"
    high = start(hyperparameter_run_id=run["id"], config={"lr0": 0.1})
    low = start(hyperparameter_run_id=run["id"], config={"lr0": 0.01})
    call_one(conn, "finish_session", session_id=high["id"], final_loss=1.2)
    call_one(conn, "finish_session", session_id=low["id"], final_loss=0.8)
    assert pick(hyperparameter_run(conn, run["id"]), "best_session_id", "best_value",
                "best_params") == (low["id"], 0.8, {"lr0": 0.01})  # fmt: skip


def test_finish_hyperparameter_run_ends_it_once(conn: Conn, start: StartFn) -> None:
    run = call_one(conn, "create_hyperparameter_run", name="ended sweep")
    trial = start(hyperparameter_run_id=run["id"])
    call_one(conn, "finish_session", session_id=trial["id"], final_map50_95=0.4)

    done = call_one(conn, "finish_hyperparameter_run", run_id=run["id"])
    assert pick(done, "status", "trials_completed", "best_session_id") == (
        "completed",
        1,
        trial["id"],
    )
    assert done["completed_at"] is not None
    # A replay (the same call spooled twice) returns the row unchanged.
    assert call_one(conn, "finish_hyperparameter_run", run_id=run["id"]) == done
    with pytest.raises(psycopg.Error) as info:
        call_one(conn, "finish_hyperparameter_run", run_id=run["id"], status="cancelled")
    assert (info.value.sqlstate, info.value.diag.column_name) == ("MT004", "status")
    assert hyperparameter_run(conn, run["id"]) == done


@pytest.mark.parametrize(
    ("args", "code", "field"),
    [
        ({"run_id": None}, "MT002", "run_id"),
        ({"status": "failed"}, "MT001", "status"),
        ({"status": "running"}, "MT001", "status"),
        ({"run_id": uuid.UUID(int=7)}, "MT005", "run_id"),
    ],
)
def test_finish_hyperparameter_run_refuses_bad_input(
    conn: Conn, args: dict[str, Any], code: str, field: str
) -> None:
    run = call_one(conn, "create_hyperparameter_run", name="sweep")
    with pytest.raises(psycopg.Error) as info:
        call_one(conn, "finish_hyperparameter_run", **{"run_id": run["id"], **args})
    assert (info.value.sqlstate, info.value.diag.column_name) == (code, field)
    assert hyperparameter_run(conn, run["id"])["status"] == "running"
