"""Client-side checks that mirror the database's constraints, cheap enough for the training loop.

The database stays the authority (its CHECKs and the SQL API validate everything again); these
checks exist so a user mistake raises at the line that made it, with the same typed exception and
field the database would report, instead of surfacing later from a background thread. Plain
comparisons, no pydantic: ``log_epoch`` with a dozen metrics costs a few microseconds.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from typing import Any

# The JSON checks live in checks_json; they are part of this module's API.
from mltrack_sdk.checks_json import NOT_FLAT as NOT_FLAT
from mltrack_sdk.checks_json import check_json_object as check_json_object
from mltrack_sdk.checks_json import check_json_object_encoded as check_json_object_encoded
from mltrack_sdk.checks_json import flat_json_bound as flat_json_bound
from mltrack_sdk.checks_json import jsonb_size as jsonb_size
from mltrack_sdk.errors import InvalidValueError, MissingValueError, ValueTooLargeError
from mltrack_sdk.errors import invalid_value as invalid

_INF = math.inf
_MAX = sys.float_info.max
#: Postgres' integer column range.
INT_MAX = 2**31 - 1
#: A blank name: only white space, control characters and invisible format characters (zero-width
#: and no-break spaces, word joiners, byte order marks). The database's check_name uses this set.
BLANK = re.compile(
    "[\x01-\x20\x7f-\xa0\xad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*"
)
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


def to_float(field: str, value: Any) -> float:
    """A number as float: int, numpy/torch scalars (anything with ``__float__``); not bool/str."""
    if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__"):
        raise invalid(field, "must be a number", value)
    try:
        return float(value)
    except OverflowError as exc:  # an int beyond any double
        raise invalid(field, "must be a finite number", value, _FINITE_HINT) from exc
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


#: The largest value of each metric column: 1 for a fraction, the largest finite double else.
_METRIC_UPPER = {name: 1.0 if fraction else _MAX for name, fraction in METRIC_KINDS.items()}


def check_metrics(metrics: dict[str, Any], kinds: Mapping[str, bool] = METRIC_KINDS) -> None:
    """Check (and convert to float, in place) a dict of metric values; None means "not given".

    Metrics that are all plain floats in range pass one comparison each (the training loop's
    case); anything else - another type, None, an unknown name, a value out of range - goes to
    the per-value check, which converts values and names the field at fault."""
    if kinds is METRIC_KINDS:
        upper = _METRIC_UPPER
        try:
            for name, value in metrics.items():
                if type(value) is not float or not 0.0 <= value <= upper[name]:
                    break  # NaN fails both comparisons
            else:
                return
        except KeyError:  # an unknown name
            pass
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


def epoch_metrics(
    box_loss: Any,
    cls_loss: Any,
    dfl_loss: Any,
    total_loss: Any,
    val_box_loss: Any,
    val_cls_loss: Any,
    val_dfl_loss: Any,
    precision: Any,
    recall: Any,
    map50: Any,
    map50_95: Any,
    learning_rate: Any,
    epoch_time_seconds: Any,
    gpu_memory_mb: Any,
) -> dict[str, Any]:
    """``log_epoch``'s metrics, in column order, checked: their dict, values converted to float
    (None: not given, which keeps the stored value, as ever).

    Plain floats in range and None (the training loop's case): one comparison chain each, on
    the arguments themselves. Anything else (another type, a value out of range) goes through
    :func:`check_metrics`, which converts values and names the field at fault."""
    metrics = {
        "box_loss": box_loss,
        "cls_loss": cls_loss,
        "dfl_loss": dfl_loss,
        "total_loss": total_loss,
        "val_box_loss": val_box_loss,
        "val_cls_loss": val_cls_loss,
        "val_dfl_loss": val_dfl_loss,
        "precision": precision,
        "recall": recall,
        "map50": map50,
        "map50_95": map50_95,
        "learning_rate": learning_rate,
        "epoch_time_seconds": epoch_time_seconds,
        "gpu_memory_mb": gpu_memory_mb,
    }
    if (  # NaN fails every comparison
        ((type(box_loss) is float and 0.0 <= box_loss <= _MAX) or box_loss is None)
        and ((type(cls_loss) is float and 0.0 <= cls_loss <= _MAX) or cls_loss is None)
        and ((type(dfl_loss) is float and 0.0 <= dfl_loss <= _MAX) or dfl_loss is None)
        and ((type(total_loss) is float and 0.0 <= total_loss <= _MAX) or total_loss is None)
        and ((type(val_box_loss) is float and 0.0 <= val_box_loss <= _MAX) or val_box_loss is None)
        and ((type(val_cls_loss) is float and 0.0 <= val_cls_loss <= _MAX) or val_cls_loss is None)
        and ((type(val_dfl_loss) is float and 0.0 <= val_dfl_loss <= _MAX) or val_dfl_loss is None)
        and ((type(precision) is float and 0.0 <= precision <= 1.0) or precision is None)
        and ((type(recall) is float and 0.0 <= recall <= 1.0) or recall is None)
        and ((type(map50) is float and 0.0 <= map50 <= 1.0) or map50 is None)
        and ((type(map50_95) is float and 0.0 <= map50_95 <= 1.0) or map50_95 is None)
        and (
            (type(learning_rate) is float and 0.0 <= learning_rate <= _MAX) or learning_rate is None
        )
        and (
            (type(epoch_time_seconds) is float and 0.0 <= epoch_time_seconds <= _MAX)
            or epoch_time_seconds is None
        )
        and (
            (type(gpu_memory_mb) is float and 0.0 <= gpu_memory_mb <= _MAX) or gpu_memory_mb is None
        )
    ):
        return metrics
    check_metrics(metrics)
    return metrics


def to_int(field: str, value: Any) -> int:
    """An integer of Postgres' ``integer`` range: int or numpy integer (``__index__``), not bool
    or float."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise invalid(field, "must be an integer", value)
    number = int(value.__index__())
    if not -INT_MAX - 1 <= number <= INT_MAX:
        raise invalid(field, f"must be at most {INT_MAX} in magnitude", number)
    return number


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
    """A required text that is not blank (see :data:`BLANK`) of at most ``max_len`` characters."""
    if value is None:
        raise MissingValueError(
            f"{field} is required and must not be blank", sqlstate="MT002", field=field
        )
    check_text(field, value, max_len)
    if BLANK.fullmatch(value):
        raise MissingValueError(
            f"{field} is required and must not be blank", sqlstate="MT002", field=field
        )
    return value


def check_unicode(field: str, value: str) -> None:
    """Text Postgres can store: no NUL character, no lone surrogate."""
    if value.isascii():
        if "\x00" in value:
            raise invalid(field, "must not contain the NUL character (\\x00)")
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise invalid(
            field, "must be valid Unicode text (it holds a lone surrogate)", value[exc.start]
        ) from None
    if "\x00" in value:
        raise invalid(field, "must not contain the NUL character (\\x00)")


def check_text(field: str, value: Any, max_len: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, "must be a string", value)
    check_unicode(field, value)
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
    for key, limit in (("device_name", 200),):
        if key in fields:
            args[key] = check_text(key, fields.pop(key), limit)
    # Required in the table (None means "the default"), so never blank.
    for key, limit in (("device", 100), ("model_format", 50), ("dtype", 20)):
        if key in fields:
            value = fields.pop(key)
            args[key] = None if value is None else check_name(key, value, limit)
    if "hardware_info" in fields:
        args["hardware_info"] = check_json_object(
            "hardware_info", fields.pop("hardware_info"), 16384
        )
    if fields:
        raise invalid(sorted(fields)[0], "is not a known benchmark field")
    if args.get("fps") is None:
        # The database computes fps from the latency; it must come out finite.
        fps = 1000.0 * (args.get("batch_size") or 1) / args["avg_inference_ms"]
        if fps == _INF:
            raise invalid("fps", "must be a finite number > 0", fps, _FINITE_HINT)
    # The table's orderings, in the order its constraints are checked (by constraint name).
    for field, lower in _BENCHMARK_ORDER:
        value, low = args.get(field), args.get(lower)
        if value is not None and low is not None and value < low:
            raise invalid(field, f"must not be less than {lower}", f"{value} < {low}")
    return args


#: ``(field, must not be below field)`` pairs of model_benchmarks' CHECKs, in check order.
_BENCHMARK_ORDER = (
    ("avg_inference_ms", "min_inference_ms"),
    ("max_inference_ms", "avg_inference_ms"),
    ("p50_inference_ms", "min_inference_ms"),
    ("p95_inference_ms", "p50_inference_ms"),
    ("p95_inference_ms", "min_inference_ms"),
    ("max_inference_ms", "p95_inference_ms"),
    ("max_inference_ms", "p50_inference_ms"),
)
