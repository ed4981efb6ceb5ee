"""The case table of test_rejected_inputs.py: every bad input of every SQL API function.

``bad(case_id, fn, sqlstate, column, rule, **args)`` registers a case: ``fn`` called with its
``BASE`` arguments overridden by ``args`` fails with ``sqlstate``, names ``column`` and starts its
message with ``"<column> <rule>"``. ``RUNNING``, ``DONE`` and ``PENDING`` stand for ids that the
test's fixture resolves to real sessions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from psycopg.types.json import Jsonb

NAN, INF = float("nan"), float("inf")

# Placeholders that the `world` fixture resolves to real ids.
RUNNING, DONE, PENDING = "<running session>", "<completed session>", "<pending session>"
UNKNOWN = uuid.UUID("00000000-0000-4000-8000-000000000001")

# The valid arguments of each function; a case overrides one of them.
BASE: dict[str, dict[str, Any]] = {
    "start_session": {"session_name": "run", "model_type": "yolov8n", "epochs": 10},
    "log_epoch": {"session_id": RUNNING, "epoch": 1},
    "log_epochs": {"session_id": RUNNING, "metrics": [{"epoch": 1}]},
    "finish_session": {"session_id": RUNNING},
    "heartbeat": {"session_id": RUNNING},
    "request_stop": {"session_id": RUNNING},
    "mark_stale_sessions": {},
    "record_validation": {"session_id": RUNNING, "results": [{"class_name": "all"}]},
    "record_benchmark": {"session_id": RUNNING, "avg_inference_ms": 10.0},
    "upsert_dataset": {"name": "coco128"},
    "create_hyperparameter_run": {"name": "sweep"},
}


@dataclass(frozen=True)
class Bad:
    fn: str
    args: dict[str, Any]
    sqlstate: str
    column: str
    rule: str


CASES: list[Any] = []


def bad(case_id: str, fn: str, sqlstate: str, column: str, rule: str, **args: Any) -> None:
    """Register a case: ``fn`` with ``args`` fails with ``sqlstate`` on ``column`` and ``rule``."""
    CASES.append(pytest.param(Bad(fn, args, sqlstate, column, rule), id=f"{fn}-{case_id}"))


def many_bytes(n: int) -> dict[str, str]:
    """A JSON object of more than ``n`` bytes."""
    return {"blob": "x" * (n + 1)}


# The case table reads best one case per line or two; the formatter would explode it.
# fmt: off
# --- start_session ------------------------------------------------------------------------------
S = "start_session"
REQUIRED = "is required and must not be blank"
bad("session_name-null", S, "MT002", "session_name", REQUIRED, session_name=None)
bad("session_name-empty", S, "MT002", "session_name", REQUIRED, session_name="")
bad("session_name-blank", S, "MT002", "session_name", REQUIRED, session_name="   ")
bad("session_name-too-long", S, "MT003", "session_name", "must be at most 200 characters",
    session_name="x" * 201)
bad("model_type-null", S, "MT002", "model_type", REQUIRED, model_type=None)
# Blank means whitespace of any kind, not only spaces (see the report).
bad("model_type-whitespace", S, "MT002", "model_type", REQUIRED, model_type=" \t\n")
bad("model_type-too-long", S, "MT003", "model_type", "must be at most 100 characters",
    model_type="y" * 101)
bad("dataset_name-too-long", S, "MT003", "dataset_name", "must be at most 200 characters",
    dataset_name="d" * 201)
bad("epochs-null", S, "MT002", "epochs", "is required", epochs=None)
bad("epochs-zero", S, "MT001", "epochs", "must be a positive integer", epochs=0)
bad("epochs-negative", S, "MT001", "epochs", "must be a positive integer", epochs=-5)
bad("dataset_size-negative", S, "MT001", "dataset_size", "must be an integer >= 0",
    dataset_size=-1)
bad("batch_size-zero", S, "MT001", "batch_size", "must be a positive integer", batch_size=0)
bad("batch_size-negative", S, "MT001", "batch_size", "must be a positive integer",
    batch_size=-16)
for _name, _value in [("zero", 0.0), ("negative", -0.01), ("nan", NAN), ("inf", INF),
                      ("-inf", -INF)]:
    bad(f"learning_rate-{_name}", S, "MT001", "learning_rate", "must be a finite number > 0",
        learning_rate=_value)
bad("img_size-zero", S, "MT001", "img_size", "must be a positive integer", img_size=0)
bad("img_size-negative", S, "MT001", "img_size", "must be a positive integer", img_size=-640)
bad("config-array", S, "MT001", "config", "must be a JSON object", config=Jsonb([1, 2]))
bad("config-string", S, "MT001", "config", "must be a JSON object", config=Jsonb("lr=0.01"))
bad("config-number", S, "MT001", "config", "must be a JSON object", config=Jsonb(3))
bad("config-over-64KiB", S, "MT003", "config", "must be at most 65536 bytes of JSON",
    config=many_bytes(65536))
bad("hardware_info-array", S, "MT001", "hardware_info", "must be a JSON object",
    hardware_info=Jsonb(["cuda"]))
bad("hardware_info-over-16KiB", S, "MT003", "hardware_info", "must be at most 16384 bytes",
    hardware_info=many_bytes(16384))
bad("status-completed", S, "MT004", "status", "of a new session must be pending or running",
    status="completed")
bad("status-failed", S, "MT004", "status", "of a new session must be pending or running",
    status="failed")
# An unknown status is an invalid value (MT001), not a transition (see the report).
bad("status-unknown", S, "MT001", "status", "must be one of", status="bogus")
bad("hyperparameter_run_id-unknown", S, "MT005", "hyperparameter_run_id",
    "does not match any hyperparameter run", hyperparameter_run_id=UNKNOWN)

# --- log_epoch (typed arguments; float('nan') travels as a float8 NaN) ---------------------------
E = "log_epoch"
NOT_FOUND = "does not match any training session"
bad("session_id-unknown", E, "MT005", "session_id", NOT_FOUND, session_id=UNKNOWN)
bad("session_id-null", E, "MT002", "session_id", "is required", session_id=None)
bad("epoch-null", E, "MT002", "epoch", "is required", epoch=None)
bad("epoch-negative", E, "MT001", "epoch", "must be an integer >= 0", epoch=-1)
bad("epoch-above-epochs", E, "MT001", "epoch", "must be between 0 and the session's epochs (10)",
    epoch=11)
LOSSES = ("box_loss", "cls_loss", "dfl_loss", "total_loss", "val_box_loss", "val_cls_loss",
          "val_dfl_loss", "learning_rate", "epoch_time_seconds", "gpu_memory_mb")
FRACTIONS = ("precision", "recall", "map50", "map50_95")
for _field in LOSSES:
    bad(f"{_field}-negative", E, "MT001", _field, "must be a finite number >= 0",
        **{_field: -0.1})
for _field in (*LOSSES, *FRACTIONS):
    for _name, _value in [("nan", NAN), ("inf", INF), ("-inf", -INF)]:
        bad(f"{_field}-{_name}", E, "MT001", _field, "must be a finite number", **{_field: _value})
for _field in FRACTIONS:
    bad(f"{_field}-above-1", E, "MT001", _field, "must be between 0 and 1", **{_field: 1.5})
    bad(f"{_field}-percent", E, "MT001", _field, "must be between 0 and 1", **{_field: 86.7})
    bad(f"{_field}-negative", E, "MT001", _field, "must be between 0 and 1", **{_field: -0.01})
bad("extra-array", E, "MT001", "extra", "must be a JSON object", extra=Jsonb([1]))
bad("extra-over-16KiB", E, "MT003", "extra", "must be at most 16384 bytes",
    extra=many_bytes(16384))

# --- log_epochs (a JSON batch) ------------------------------------------------------------------
B = "log_epochs"
bad("session_id-unknown", B, "MT005", "session_id", NOT_FOUND, session_id=UNKNOWN)
bad("metrics-null", B, "MT002", "metrics", "is required", metrics=None)
bad("metrics-object", B, "MT001", "metrics", "must be a JSON array of objects",
    metrics={"epoch": 1})
bad("metrics-number", B, "MT001", "metrics", "must be a JSON array of objects", metrics=Jsonb(1))
bad("metrics-string", B, "MT001", "metrics", "must be a JSON array of objects",
    metrics=Jsonb("[]"))
bad("row-not-object", B, "MT001", "metrics[0]", "must be a JSON object", metrics=Jsonb([1]))
bad("second-row-not-object", B, "MT001", "metrics[1]", "must be a JSON object",
    metrics=Jsonb([{"epoch": 1}, [2]]))
bad("too-many-rows", B, "MT003", "metrics", "must hold at most 10000 rows per call",
    metrics=[{"epoch": 1}] * 10001)
bad("unknown-key", B, "MT001", "mAP50", "is not a known field (in metrics[0])",
    metrics=[{"epoch": 1, "mAP50": 0.5}])
bad("unknown-key-second-row", B, "MT001", "loss", "is not a known field (in metrics[1])",
    metrics=[{"epoch": 1}, {"epoch": 2, "loss": 0.5}])
# Columns that are not metrics cannot be smuggled in through the batch.
bad("session_id-key", B, "MT001", "session_id", "is not a known field",
    metrics=[{"epoch": 1, "session_id": str(UNKNOWN)}])
bad("recorded_at-key", B, "MT001", "recorded_at", "is not a known field",
    metrics=[{"epoch": 1, "recorded_at": "2020-01-01T00:00:00Z"}])
bad("number-as-string", B, "MT001", "map50", "must be a number (in metrics[0])",
    metrics=[{"epoch": 1, "map50": "0.5"}])
bad("number-as-bool", B, "MT001", "total_loss", "must be a number",
    metrics=[{"epoch": 1, "total_loss": True}])
bad("epoch-as-string", B, "MT001", "epoch", "must be an integer", metrics=[{"epoch": "1"}])
bad("epoch-fractional", B, "MT001", "epoch", "must be an integer", metrics=[{"epoch": 1.5}])
# Integers are written as JSON integers: 3.0 is refused up front, never by a failed cast.
bad("epoch-written-as-float", B, "MT001", "epoch", "must be an integer (in metrics[0])",
    metrics=[{"epoch": 1.0}])
bad("extra-not-object", B, "MT001", "extra", "must be a JSON object",
    metrics=[{"epoch": 1, "extra": [1]}])
bad("extra-null", B, "MT001", "extra", "must be a JSON object",
    metrics=[{"epoch": 1, "extra": None}])
for _spelling in ("NaN", "Infinity", "-Infinity"):
    bad(f"json-{_spelling}", B, "MT001", "map50_95", "must be a finite number (in metrics[0])",
        metrics=[{"epoch": 1, "map50_95": _spelling}])
bad("json-NaN-loss-second-row", B, "MT001", "total_loss", "must be a finite number (in metrics[1])",
    metrics=[{"epoch": 1, "total_loss": 1.0}, {"epoch": 2, "total_loss": "NaN"}])
bad("epoch-missing", B, "MT002", "epoch", "is required in every row of metrics",
    metrics=[{"map50": 0.5}])
bad("epoch-null", B, "MT002", "epoch", "is required in every row of metrics",
    metrics=[{"epoch": 1}, {"epoch": None}])
bad("epoch-negative", B, "MT001", "epoch", "must be an integer >= 0", metrics=[{"epoch": -1}])
bad("epoch-above-epochs", B, "MT001", "epoch", "must be between 0 and the session's epochs",
    metrics=[{"epoch": 2}, {"epoch": 11}])
bad("negative-loss", B, "MT001", "cls_loss", "must be a finite number >= 0",
    metrics=[{"epoch": 1, "cls_loss": -0.5}])
bad("map-above-1", B, "MT001", "map50", "must be between 0 and 1",
    metrics=[{"epoch": 1, "map50": 0.9}, {"epoch": 2, "map50": 1.2}])
# A good row before a bad one is not written either (the whole batch is refused).
bad("bad-row-after-good-rows", B, "MT001", "precision", "must be between 0 and 1",
    metrics=[{"epoch": 0, "precision": 0.99}, {"epoch": 1, "precision": 0.5},
             {"epoch": 2, "precision": 99.0}])
# JSON numbers the column cannot hold are invalid values, not failed casts (22003).
bad("epoch-beyond-integer", B, "MT001", "epoch", "must be an integer (in metrics[0])",
    metrics=[{"epoch": 3_000_000_000}])
bad("number-beyond-float8", B, "MT001", "map50", "must be a number (in metrics[0])",
    metrics=[{"epoch": 1, "map50": 10**400}])

# --- record_validation --------------------------------------------------------------------------
V = "record_validation"
bad("session_id-unknown", V, "MT005", "session_id", NOT_FOUND, session_id=UNKNOWN)
bad("split-unknown", V, "MT001", "split", "must be one of train, val, test", split="dev")
bad("split-null", V, "MT002", "split", "is required", split=None)
bad("results-null", V, "MT002", "results", "is required", results=None)
bad("results-object", V, "MT001", "results", "must be a JSON array of objects",
    results={"class_name": "all"})
bad("row-not-object", V, "MT001", "results[0]", "must be a JSON object", results=Jsonb(["all"]))
bad("too-many-rows", V, "MT003", "results", "must hold at most 10000 rows per call",
    results=[{"class_name": f"c{i}"} for i in range(10001)])
bad("unknown-key", V, "MT001", "mAP", "is not a known field (in results[0])",
    results=[{"class_name": "all", "mAP": 0.5}])
bad("epoch-key", V, "MT001", "epoch", "is not a known field",
    results=[{"class_name": "all", "epoch": 3}])
bad("class_name-number", V, "MT001", "class_name", "must be a string (in results[0])",
    results=[{"class_name": 5}])
bad("class_id-fractional", V, "MT001", "class_id", "must be an integer",
    results=[{"class_name": "car", "class_id": 1.5}])
bad("images-string", V, "MT001", "images", "must be an integer",
    results=[{"class_name": "all", "images": "16"}])
bad("images-written-as-float", V, "MT001", "images", "must be an integer",
    results=[{"class_name": "all", "images": 16.0}])
bad("instances-beyond-integer", V, "MT001", "instances", "must be an integer",
    results=[{"class_name": "all", "instances": 2**31}])
bad("precision-string", V, "MT001", "precision", "must be a number",
    results=[{"class_name": "all", "precision": "0.8"}])
bad("extra-array", V, "MT001", "extra", "must be a JSON object",
    results=[{"class_name": "all", "extra": []}])
for _field in FRACTIONS:
    bad(f"{_field}-json-NaN", V, "MT001", _field, "must be a finite number (in results[0])",
        results=[{"class_name": "all", _field: "NaN"}])
    bad(f"{_field}-above-1", V, "MT001", _field, "must be between 0 and 1",
        results=[{"class_name": "all", _field: 1.01}])
    bad(f"{_field}-negative", V, "MT001", _field, "must be between 0 and 1",
        results=[{"class_name": "all", _field: -0.2}])
for _field in ("class_id", "images", "instances"):
    bad(f"{_field}-negative", V, "MT001", _field, "must be an integer >= 0",
        results=[{"class_name": "car", _field: -1}])
bad("class_name-blank", V, "MT002", "class_name", REQUIRED, results=[{"class_name": " "}])
bad("class_name-too-long", V, "MT003", "class_name", "must be at most 200 characters",
    results=[{"class_name": "c" * 201}])

# --- record_benchmark ---------------------------------------------------------------------------
R = "record_benchmark"
bad("session_id-unknown", R, "MT005", "session_id", NOT_FOUND, session_id=UNKNOWN)
bad("avg-null", R, "MT002", "avg_inference_ms", "is required", avg_inference_ms=None)
for _name, _value in [("zero", 0.0), ("negative", -1.0), ("nan", NAN), ("inf", INF)]:
    bad(f"avg-{_name}", R, "MT001", "avg_inference_ms", "must be a finite number > 0",
        avg_inference_ms=_value)
bad("min-above-avg", R, "MT001", "avg_inference_ms", "must not be less than min_inference_ms",
    min_inference_ms=12.0)
bad("max-below-avg", R, "MT001", "max_inference_ms", "must not be less than avg_inference_ms",
    max_inference_ms=9.0)
bad("p50-below-min", R, "MT001", "p50_inference_ms", "must not be less than min_inference_ms",
    min_inference_ms=8.0, p50_inference_ms=7.0)
bad("p95-below-p50", R, "MT001", "p95_inference_ms", "must not be less than p50_inference_ms",
    p50_inference_ms=9.0, p95_inference_ms=8.5)
bad("p95-below-min", R, "MT001", "p95_inference_ms", "must not be less than min_inference_ms",
    min_inference_ms=8.0, p95_inference_ms=7.0)
bad("max-below-p50", R, "MT001", "max_inference_ms", "must not be less than p50_inference_ms",
    p50_inference_ms=12.0, max_inference_ms=11.0)
bad("max-below-p95", R, "MT001", "max_inference_ms", "must not be less than p95_inference_ms",
    p50_inference_ms=9.0, p95_inference_ms=14.0, max_inference_ms=13.0)
# (A negative max_inference_ms is refused as below avg_inference_ms, covered above.)
for _field in ("min_inference_ms", "p50_inference_ms", "p95_inference_ms", "preprocess_ms",
               "postprocess_ms"):
    bad(f"{_field}-negative", R, "MT001", _field, "must be a finite number >= 0",
        **{_field: -1.0})
bad("postprocess-nan", R, "MT001", "postprocess_ms", "must be a finite number >= 0",
    postprocess_ms=NAN)
for _name, _value in [("zero", 0.0), ("negative", -30.0), ("nan", NAN)]:
    bad(f"fps-{_name}", R, "MT001", "fps", "must be a finite number > 0", fps=_value)
bad("batch_size-zero", R, "MT001", "batch_size", "must be a positive integer", batch_size=0)
bad("img_size-negative", R, "MT001", "img_size", "must be a positive integer", img_size=-1)
bad("num_runs-zero", R, "MT001", "num_runs", "must be a positive integer", num_runs=0)
bad("warmup_runs-negative", R, "MT001", "warmup_runs", "must be an integer >= 0",
    warmup_runs=-1)
bad("device-blank", R, "MT002", "device", REQUIRED, device=" ")
bad("device-too-long", R, "MT003", "device", "must be at most 100 characters", device="d" * 101)
bad("device_name-too-long", R, "MT003", "device_name", "must be at most 200 characters",
    device_name="n" * 201)
bad("model_format-blank", R, "MT002", "model_format", REQUIRED, model_format="")
bad("dtype-too-long", R, "MT003", "dtype", "must be at most 20 characters", dtype="f" * 21)
bad("hardware_info-array", R, "MT001", "hardware_info", "must be a JSON object",
    hardware_info=Jsonb([]))

# --- finish_session -----------------------------------------------------------------------------
F = "finish_session"
bad("session_id-unknown", F, "MT005", "session_id", NOT_FOUND, session_id=UNKNOWN)
bad("session_id-null", F, "MT002", "session_id", "is required", session_id=None)
for _status in ("done", "running", "pending", "COMPLETED"):
    bad(f"status-{_status}", F, "MT001", "status", "must be one of completed, failed, cancelled",
        status=_status)
bad("status-null", F, "MT002", "status", "is required", status=None)
for _field in ("final_map50", "final_map50_95", "final_precision", "final_recall"):
    bad(f"{_field}-above-1", F, "MT001", _field, "must be between 0 and 1", **{_field: 1.5})
    bad(f"{_field}-negative", F, "MT001", _field, "must be between 0 and 1", **{_field: -0.1})
    bad(f"{_field}-nan", F, "MT001", _field, "must be between 0 and 1", **{_field: NAN})
for _name, _value in [("negative", -1.0), ("nan", NAN), ("inf", INF)]:
    bad(f"final_loss-{_name}", F, "MT001", "final_loss", "must be a finite number >= 0",
        final_loss=_value)
bad("model_path-too-long", F, "MT003", "model_path", "must be at most 1000 characters",
    model_path="/" * 1001)
bad("status_reason-too-long", F, "MT003", "status_reason", "must be at most 4000 characters",
    status="failed", status_reason="e" * 4001)
bad("completed_at-before-start", F, "MT001", "completed_at", "must be after started_at",
    completed_at="2000-01-01T00:00:00Z")
bad("completed-as-failed", F, "MT004", "status",
    "cannot change: the session is already completed", session_id=DONE, status="failed")
bad("completed-as-cancelled", F, "MT004", "status",
    "cannot change: the session is already completed", session_id=DONE, status="cancelled")
bad("pending-as-completed", F, "MT004", "status", "cannot go from pending to completed",
    session_id=PENDING, status="completed")

# --- heartbeat / request_stop / mark_stale_sessions ---------------------------------------------
bad("session_id-unknown", "heartbeat", "MT005", "session_id", NOT_FOUND, session_id=UNKNOWN)
bad("session_id-null", "heartbeat", "MT002", "session_id", "is required", session_id=None)
bad("session_id-unknown", "request_stop", "MT005", "session_id", NOT_FOUND, session_id=UNKNOWN)
bad("completed-session", "request_stop", "MT004", "status", "is already completed: nothing to stop",
    session_id=DONE)
bad("reason-too-long", "request_stop", "MT003", "status_reason", "must be at most 4000 characters",
    reason="r" * 4001)
for _name, _seconds in [("zero", 0), ("negative", -60), ("null", None)]:
    bad(f"timeout_seconds-{_name}", "mark_stale_sessions", "MT001", "timeout_seconds",
        "must be a positive integer", timeout_seconds=_seconds)

# --- upsert_dataset -----------------------------------------------------------------------------
D = "upsert_dataset"
# A missing name is MT002 like every other required field, not a bare NOT NULL error (23502).
bad("name-null", D, "MT002", "name", REQUIRED, name=None)
bad("name-blank", D, "MT002", "name", REQUIRED, name="  ")
bad("name-too-long", D, "MT003", "name", "must be at most 200 characters", name="n" * 201)
bad("num_classes-vs-class_names", D, "MT001", "num_classes",
    "must equal the number of class_names", class_names=["person", "car"], num_classes=3)
bad("num_classes-negative", D, "MT001", "num_classes", "must be an integer >= 0", num_classes=-1)
for _field in ("train_size", "val_size", "test_size"):
    bad(f"{_field}-negative", D, "MT001", _field, "must be an integer >= 0", **{_field: -1})
bad("class_names-too-many", D, "MT003", "class_names", "must have at most 10000 entries",
    class_names=[f"c{i}" for i in range(10001)])
bad("metadata-array", D, "MT001", "metadata", "must be a JSON object", metadata=Jsonb([]))
bad("metadata-over-64KiB", D, "MT003", "metadata", "must be at most 65536 bytes",
    metadata=many_bytes(65536))
bad("format-blank", D, "MT002", "format", REQUIRED, format="")
bad("description-too-long", D, "MT003", "description", "must be at most 2000 characters",
    description="d" * 2001)
bad("path-too-long", D, "MT003", "path", "must be at most 1000 characters", path="p" * 1001)
# Updating an existing dataset is checked the same way.
bad("existing-num_classes-vs-class_names", D, "MT001", "num_classes",
    "must equal the number of class_names", name="coco8", class_names=["a"], num_classes=2)

# --- create_hyperparameter_run ------------------------------------------------------------------
H = "create_hyperparameter_run"
bad("name-null", H, "MT002", "name", REQUIRED, name=None)
bad("name-blank", H, "MT002", "name", REQUIRED, name=" ")
bad("name-too-long", H, "MT003", "name", "must be at most 200 characters", name="n" * 201)
bad("objective-unknown", H, "MT001", "objective",
    "must be one of map50_95, map50, precision, recall, loss", objective="accuracy")
bad("direction-unknown", H, "MT001", "direction", "must be one of maximize, minimize",
    direction="up")
bad("n_trials-zero", H, "MT001", "n_trials", "must be a positive integer", n_trials=0)
bad("n_trials-negative", H, "MT001", "n_trials", "must be a positive integer", n_trials=-3)
bad("search_space-array", H, "MT001", "search_space", "must be a JSON object",
    search_space=Jsonb(["lr0"]))
bad("search_space-over-64KiB", H, "MT003", "search_space", "must be at most 65536 bytes",
    search_space=many_bytes(65536))
bad("model_type-too-long", H, "MT003", "model_type", "must be at most 100 characters",
    model_type="m" * 101)
bad("dataset_name-too-long", H, "MT003", "dataset_name", "must be at most 200 characters",
    dataset_name="d" * 201)
# fmt: on
