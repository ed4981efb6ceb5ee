"""The cheap check of ``extra`` (no encoding for a flat dict of plain values) decides exactly as
the full check that encodes it: the same dict back, or the same error naming the same field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mltrack_sdk import checks
from mltrack_sdk.errors import MltrackError

#: Keys and texts near every rule: printable ASCII, quotes and backslashes (escaped as two
#: characters), control characters, NUL, a lone surrogate, non-ASCII.
tricky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', "\\", "\x00", "\x01", "\n", "\ud800", "é", "\u200b", "a", " "]),
        st.characters(codec="ascii"),
    ),
    max_size=10,
)
leaves = st.one_of(
    st.floats(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-0.0, 5e-324, -5e-324, 1e300, -1.7976931348623157e308, 1e-7]),
    st.integers(),
    st.sampled_from([10**18 - 1, -(10**18) + 1, 10**18, 2**63]),
    st.booleans(),
    st.none(),
    tricky_text,
)
values = st.one_of(
    leaves,
    st.lists(leaves, max_size=2),
    st.dictionaries(tricky_text, leaves, max_size=2),
    st.builds(bytes),
)
keys = st.one_of(tricky_text, st.integers(-3, 3), st.booleans(), st.none(), st.floats(0, 1))
flat = st.dictionaries(keys, values, max_size=6)


def verdict(check: Any, value: Any, max_bytes: int) -> tuple[str, Any]:
    try:
        return "ok", check("extra", value, max_bytes)
    except MltrackError as exc:
        return type(exc).__name__, (exc.message, exc.field, getattr(exc, "sqlstate", None))


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(value=st.one_of(flat, values), max_bytes=st.sampled_from([2, 40, 400, 800, 16384]))
def test_fast_check_decides_as_the_full_check(value: Any, max_bytes: int) -> None:
    fast = verdict(checks.check_json_object, value, max_bytes)
    assert fast == verdict(checks.check_json_object_encoded, value, max_bytes), value


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(value=st.dictionaries(tricky_text, leaves, max_size=8))
@example(value={'"' * 10: None, "\\" * 9: True})  # every key character escaped
@example(value={"": "\\" * 10, "b": '"' * 10})  # every text character escaped
def test_bound_is_never_below_the_sizes_the_full_check_measures(value: dict[str, Any]) -> None:
    bound = checks.flat_json_bound(value)
    if bound == checks.NOT_FLAT:
        return
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    assert len(text.encode("utf-8")) <= bound
    assert checks.jsonb_size("extra", value) <= bound


def test_fast_check_copies_and_refuses_like_the_full_check() -> None:
    extra = {"lr_pg1": 0.001, "lr_pg2": 0.002}
    taken = checks.check_json_object("extra", extra, 16384)
    assert taken == extra and taken is not extra  # a later change by the caller is not logged
    assert checks.flat_json_bound(extra) < 16384
    with pytest.raises(MltrackError, match="finite numbers") as info:
        checks.check_json_object("extra", {"x": float("nan")}, 16384)
    assert info.value.field == "extra"
    with pytest.raises(MltrackError, match=r"at most 8 bytes of JSON \(got 9 bytes\)"):
        checks.check_json_object("extra", {"ab": 1}, 8)
    # Beyond the cheap bound, the full check measures: 40 floats of 330 bytes each could not fit.
    many = {f"k{i}": 0.5 for i in range(60)}
    assert checks.flat_json_bound(many) > 16384
    assert checks.check_json_object("extra", many, 16384) == many
