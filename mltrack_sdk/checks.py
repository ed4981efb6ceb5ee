"""Client-side checks that mirror the database's constraints, cheap enough for the training loop.

The database stays the authority (its CHECKs and the SQL API validate everything again); these
checks exist so a user mistake raises at the line that made it, with the same typed exception and
field the database would report, instead of surfacing later from a background thread. Plain
comparisons, no pydantic: ``log_epoch`` with a dozen metrics costs a few microseconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from mltrack_sdk.errors import InvalidValueError, MissingValueError, ValueTooLargeError

_INF = math.inf

#: Metric columns of training_metrics: True for fractions in [0, 1], False for finite values >= 0.
METRIC_KINDS: dict[str, bool] = {
    "box_loss": False,
    "cls_loss": False,
    "dfl_loss": False,
    "total_loss": False,
    "val_box_loss": False,
    "val_cls_loss": False,
    "val_dfl_loss": False,
    "precision": True,
    "recall": True,
    "map50": True,
    "map50_95": True,
    "learning_rate": False,
    "epoch_time_seconds": False,
    "gpu_memory_mb": False,
}
VALIDATION_KINDS: dict[str, bool] = {
    "precision": True,
    "recall": True,
    "map50": True,
    "map50_95": True,
}
_FRACTION_HINT = "Precision, recall and mAP are fractions: pass 0.867, not 86.7."
_FINITE_HINT = "NaN or infinity usually means the training diverged."


def invalid(field: str, rule: str, got: Any = None, hint: str | None = None) -> InvalidValueError:
    """An MT001 error as the database would raise it."""
    got_text = "" if got is None else f" (got {got!r})"
    return InvalidValueError(f"{field} {rule}{got_text}", sqlstate="MT001", hint=hint, field=field)


def to_float(field: str, value: Any) -> float:
    """A number as float: int, numpy/torch scalars (anything with ``__float__``); not bool/str."""
    if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__"):
        raise invalid(field, "must be a number", value)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:  # e.g. a tensor with more than one element
        raise invalid(field, "must be a single number", type(value).__name__) from exc


def bad_metric(field: str, value: float, fraction: bool | None) -> InvalidValueError:
    """The error for a metric that failed its range check (the slow path)."""
    if fraction is None:
        return invalid(
            field,
            "is not a known metric",
            hint="Known metrics: "
            + ", ".join(METRIC_KINDS)
            + "; put anything else in extra={...}.",
        )
    if math.isnan(value) or math.isinf(value):
        return invalid(field, "must be a finite number", value, _FINITE_HINT)
    if fraction:
        return invalid(field, "must be between 0 and 1", value, _FRACTION_HINT)
    return invalid(field, "must be a finite number >= 0", value, _FINITE_HINT)


def check_metrics(metrics: dict[str, Any], kinds: Mapping[str, bool] = METRIC_KINDS) -> None:
    """Check (and convert to float, in place) a dict of metric values; None means "not given"."""
    for name, value in metrics.items():
        fraction = kinds.get(name)
        if fraction is None:
            raise bad_metric(name, 0.0, None)
        if type(value) is not float:
            if value is None:
                continue
            value = metrics[name] = to_float(name, value)
        if fraction:
            if not 0.0 <= value <= 1.0:
                raise bad_metric(name, value, True)
        elif not 0.0 <= value < _INF:
            raise bad_metric(name, value, False)


def to_int(field: str, value: Any) -> int:
    """An integer: int or numpy integer (``__index__``), not bool or float."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise invalid(field, "must be an integer", value)
    return int(value.__index__())


def check_epoch(value: Any, epochs: int) -> int:
    epoch = value if type(value) is int else to_int("epoch", value)
    if not 0 <= epoch <= epochs:
        raise invalid(
            "epoch",
            f"must be between 0 and the session's epochs ({epochs})",
            epoch,
            "Epochs count from 0; start the session with more epochs if the run was extended.",
        )
    return epoch


def check_name(field: str, value: Any, max_len: int) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MissingValueError(
            f"{field} is required and must not be blank", sqlstate="MT002", field=field
        )
    if not isinstance(value, str):
        raise invalid(field, "must be a string", value)
    check_text(field, value, max_len)
    return value


def check_text(field: str, value: Any, max_len: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, "must be a string", value)
    if len(value) > max_len:
        raise ValueTooLargeError(
            f"{field} must be at most {max_len} characters (got {len(value)} characters)",
            sqlstate="MT003",
            field=field,
        )
    return value


def check_positive_int(field: str, value: Any, required: bool = False) -> int | None:
    if value is None:
        if required:
            raise MissingValueError(f"{field} is required", sqlstate="MT002", field=field)
        return None
    number = to_int(field, value)
    if number <= 0:
        raise invalid(field, "must be a positive integer", number)
    return number


def check_count(field: str, value: Any) -> int | None:
    if value is None:
        return None
    number = to_int(field, value)
    if number < 0:
        raise invalid(field, "must be an integer >= 0", number)
    return number


def check_positive(field: str, value: Any) -> float | None:
    if value is None:
        return None
    number = to_float(field, value)
    if not 0.0 < number < _INF:
        raise invalid(field, "must be a finite number > 0", number, _FINITE_HINT)
    return number


def check_non_negative(field: str, value: Any) -> float | None:
    if value is None:
        return None
    number = to_float(field, value)
    if not 0.0 <= number < _INF:
        raise invalid(field, "must be a finite number >= 0", number, _FINITE_HINT)
    return number


def check_fraction(field: str, value: Any) -> float | None:
    if value is None:
        return None
    number = to_float(field, value)
    if not 0.0 <= number <= 1.0:
        raise bad_metric(field, number, True)
    return number


def check_json_object(field: str, value: Any, max_bytes: int) -> dict[str, Any]:
    """A JSON-encodable dict of at most ``max_bytes`` (finite numbers only)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid(field, "must be a JSON object (a dict)", type(value).__name__)
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise invalid(field, f"must be JSON-encodable with finite numbers: {exc}") from exc
    if len(text) > max_bytes:
        raise ValueTooLargeError(
            f"{field} must be at most {max_bytes} bytes of JSON (got {len(text)} bytes)",
            sqlstate="MT003",
            field=field,
        )
    return dict(value)


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise invalid(field, "must be one of " + ", ".join(choices), value)
    return str(value)


def validation_rows(results: Any, split: str) -> list[dict[str, Any]]:
    """Checked rows for ``record_validation`` (one mapping, or an iterable of them)."""
    check_choice("split", split, ("train", "val", "test"))
    items = [results] if isinstance(results, Mapping) else list(results)
    rows = []
    for item in items:
        row = dict(item)
        values = {k: row.pop(k) for k in list(row) if k in VALIDATION_KINDS}
        check_metrics(values, VALIDATION_KINDS)
        if "class_name" in row:
            check_name("class_name", row["class_name"], 200)
        for key in ("class_id", "images", "instances"):
            if key in row:
                row[key] = check_count(key, row[key])
        if "extra" in row:
            row["extra"] = check_json_object("extra", row["extra"], 16384)
        unknown = set(row) - {"class_name", "class_id", "images", "instances", "extra"}
        if unknown:
            raise invalid(sorted(unknown)[0], "is not a known validation field")
        rows.append({**row, **values})
    return rows


def benchmark_args(avg_inference_ms: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """Checked arguments for ``record_benchmark`` (the table's CHECKs, mirrored)."""
    args: dict[str, Any] = {
        "avg_inference_ms": check_positive("avg_inference_ms", avg_inference_ms)
    }
    if args["avg_inference_ms"] is None:
        raise invalid("avg_inference_ms", "is required")
    for key in (
        "min_inference_ms",
        "max_inference_ms",
        "p50_inference_ms",
        "p95_inference_ms",
        "preprocess_ms",
        "postprocess_ms",
    ):
        if key in fields:
            args[key] = check_non_negative(key, fields.pop(key))
    if "fps" in fields:
        args["fps"] = check_positive("fps", fields.pop("fps"))
    for key in ("batch_size", "img_size", "num_runs"):
        if key in fields:
            args[key] = check_positive_int(key, fields.pop(key))
    if "warmup_runs" in fields:
        args["warmup_runs"] = check_count("warmup_runs", fields.pop("warmup_runs"))
    for key, limit in (
        ("device", 100),
        ("device_name", 200),
        ("model_format", 50),
        ("dtype", 20),
    ):
        if key in fields:
            args[key] = check_text(key, fields.pop(key), limit)
    if "hardware_info" in fields:
        args["hardware_info"] = check_json_object(
            "hardware_info", fields.pop("hardware_info"), 16384
        )
    if fields:
        raise invalid(sorted(fields)[0], "is not a known benchmark field")
    low = args.get("min_inference_ms")
    if low is not None and args["avg_inference_ms"] < low:
        raise invalid("avg_inference_ms", "must be >= min_inference_ms", args["avg_inference_ms"])
    high = args.get("max_inference_ms")
    if high is not None and args["avg_inference_ms"] > high:
        raise invalid("max_inference_ms", "must be >= avg_inference_ms", high)
    return args
