"""The fast checks of a training loop's metrics (one comparison per value, or one comparison
chain over log_epoch's arguments) decide exactly as the per-value check: the same dict back
(values converted to float), or the same error naming the same field."""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import mltrack_sdk as mlt
from mltrack_sdk import checks
from mltrack_sdk.errors import MltrackError

#: Values near every rule: any float (NaN, infinities, -0.0, the largest double), fractions
#: just outside [0, 1], integers, numpy scalars, bool, None, text.
values = st.one_of(
    st.floats(),
    st.floats(min_value=-0.5, max_value=1.5),
    st.sampled_from([-0.0, 5e-324, 1.0, 1.0000000000000002, 1.7976931348623157e308, -5e-324]),
    st.integers(min_value=-3, max_value=3),
    st.integers(),
    st.builds(np.float64, st.floats(min_value=-1, max_value=2)),
    st.builds(np.float32, st.floats(min_value=0, max_value=1, width=32)),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)
names = st.one_of(st.sampled_from(sorted(checks.METRIC_KINDS)), st.sampled_from(["mAP", "lr"]))


def verdict(metrics: dict[str, Any], kinds: Any) -> tuple[str, Any]:
    try:
        checks.check_metrics(metrics, kinds)
    except MltrackError as exc:
        return "error", (type(exc), exc.field, str(exc))
    return "ok", metrics


def same(a: Any, b: Any) -> bool:
    """Equal, NaN included, and of the same type (a float stays a float)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


@settings(max_examples=1500)
@given(metrics=st.dictionaries(names, values, max_size=16))
@example(metrics={"box_loss": 1.0, "precision": 1.5})  # a fraction too large, after a loss
@example(metrics={"map50": math.nan, "box_loss": 1.0})  # NaN fails every comparison
@example(metrics={"box_loss": math.inf})
@example(metrics={"box_loss": 1.0, "mAP": 0.5})  # an unknown name after a good value
@example(metrics={"precision": 1.0, "gpu_memory_mb": 1.7976931348623157e308})
def test_fast_check_decides_as_the_per_value_check(metrics: dict[str, Any]) -> None:
    fast = verdict(dict(metrics), checks.METRIC_KINDS)  # the training loop's path
    full = verdict(dict(metrics), dict(checks.METRIC_KINDS))  # the per-value path only
    assert fast[0] == full[0]
    assert same(fast[1], full[1]) if fast[0] == "ok" else fast[1] == full[1]


def test_plain_floats_in_range_come_back_unchanged() -> None:
    metrics = {name: 0.5 for name in checks.METRIC_KINDS}
    checks.check_metrics(metrics)
    assert metrics == {name: 0.5 for name in checks.METRIC_KINDS}


def epoch_verdict(metrics: dict[str, Any]) -> tuple[str, Any]:
    """log_epoch's check: every metric in the dict, None where not given."""
    try:
        return "ok", checks.epoch_metrics(*(metrics.get(name) for name in checks.METRIC_KINDS))
    except MltrackError as exc:
        return "error", (type(exc), exc.field, str(exc))


every_metric = st.fixed_dictionaries({name: values for name in checks.METRIC_KINDS})
floats_in_range = st.fixed_dictionaries(
    {
        name: st.floats(min_value=-1e-300, max_value=1.5 if fraction else 1e308)
        for name, fraction in checks.METRIC_KINDS.items()
    }
)


#: Every metric a good float but one, which is any value (the fast path's every condition).
all_good_but_one = st.builds(
    lambda good, name, value: {**good, name: value},
    st.fixed_dictionaries(
        {
            name: st.floats(min_value=0, max_value=1 if fraction else 1e308)
            for name, fraction in checks.METRIC_KINDS.items()
        }
    ),
    st.sampled_from(sorted(checks.METRIC_KINDS)),
    values,
)


@settings(max_examples=2000)
@given(
    metrics=st.one_of(
        st.dictionaries(st.sampled_from(sorted(checks.METRIC_KINDS)), values, max_size=14),
        every_metric,
        floats_in_range,
        all_good_but_one,
    )
)
@example(metrics=dict.fromkeys(checks.METRIC_KINDS, 1.7976931348623157e308))  # the sum overflows
@example(metrics={**dict.fromkeys(checks.METRIC_KINDS, 0.5), "recall": 1.0000000000000002})
@example(metrics={**dict.fromkeys(checks.METRIC_KINDS, 0.5), "box_loss": math.nan})
@example(metrics={**dict.fromkeys(checks.METRIC_KINDS, 0.5), "box_loss": -5e-324})
@example(metrics={**dict.fromkeys(checks.METRIC_KINDS, 0.5), "gpu_memory_mb": math.inf})
@example(metrics={**dict.fromkeys(checks.METRIC_KINDS, 0.5), "map50": -0.0})
def test_log_epochs_check_decides_as_the_per_value_check(metrics: dict[str, Any]) -> None:
    """Every metric present, None where not given (log_epoch's case): the same verdict as the
    per-value check, in column order, and the same dict back."""
    fast = epoch_verdict(metrics)
    full = verdict({n: metrics.get(n) for n in checks.METRIC_KINDS}, dict(checks.METRIC_KINDS))
    assert fast[0] == full[0]
    assert same(fast[1], full[1]) if fast[0] == "ok" else fast[1] == full[1]


BOUNDARIES = [math.inf, -math.inf, math.nan, -0.0, -5e-324, 1.0000000000000002, 1.5, 1, True, None]


def test_log_epochs_check_of_each_metric_at_each_boundary() -> None:
    """Each metric in turn at each boundary, every other one good: the same verdict as the
    per-value check (every condition of the fast path, one by one)."""
    for name in checks.METRIC_KINDS:
        for value in [*BOUNDARIES, np.float64(0.5), "0.5", 1.7976931348623157e308]:
            metrics: dict[str, Any] = {**dict.fromkeys(checks.METRIC_KINDS, 0.25), name: value}
            fast = epoch_verdict(metrics)
            full = verdict(metrics, dict(checks.METRIC_KINDS))
            assert fast[0] == full[0], (name, value)
            assert same(fast[1], full[1]) if fast[0] == "ok" else fast[1] == full[1]


def test_log_epoch_names_every_metric_in_its_signature() -> None:
    """Editors complete the metrics and help() lists them; anything else is still refused with
    the field named (test_bad_input)."""
    parameters = inspect.signature(mlt.Session.log_epoch).parameters
    keyword_only = [n for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY]
    assert keyword_only == [*checks.METRIC_KINDS, "extra"]
    assert all(parameters[name].default is None for name in keyword_only)
