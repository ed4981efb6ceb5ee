"""The one-comparison-per-value check of a training loop's metrics decides exactly as the
per-value check: the same dict back (values converted to float), or the same error naming the
same field."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

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
