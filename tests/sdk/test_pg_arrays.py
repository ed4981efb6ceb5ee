"""Epoch columns encoded in binary by the SDK read back in Postgres exactly as psycopg's own
encoding of the same lists; what the fast encoder does not cover goes through psycopg as before."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mltrack_sdk.transports import pg_arrays
from mltrack_sdk.transports.pg_arrays import BinaryArray, BinaryArrayDumper, encode_array
from mltrack_sdk.transports.postgres import PostgresTransport

Conn = psycopg.Connection[dict[str, Any]]

CASES = [
    ("double precision[]", [0.5, 1e300, 5e-324, -0.0, 2.0]),
    ("double precision[]", [None, 0.25, None]),
    ("double precision[]", [math.inf, -math.inf, 1.5]),
    ("integer[]", [0, 2**31 - 1, -(2**31), 7]),
    ("integer[]", [None, 3]),
    ("jsonb[]", [{"lr_pg1": 0.001, "é": "ü\u200b"}, None, {}, {"a": [1, None, True, "x"]}]),
    ("jsonb[]", [{"big": 10**30, "tiny": 1e-7, "q": 'a"\\b'}]),
]


def roundtrip(conn: Conn, type_name: str, value: Any) -> Any:
    row = conn.execute(f"select %b::{type_name} as v", (value,)).fetchone()
    assert row is not None
    return row["v"]


def test_binary_arrays_read_back_as_psycopgs_own(conn: Conn) -> None:
    conn.adapters.register_dumper(BinaryArray, BinaryArrayDumper)
    for type_name, values in CASES:
        encoded = encode_array(type_name, values)
        assert isinstance(encoded, BinaryArray)
        got = roundtrip(conn, type_name, encoded)
        if type_name == "jsonb[]":
            assert got == values
            continue
        assert got == roundtrip(conn, type_name, values)
        signs = [None if v is None else math.copysign(1, v) for v in got]
        assert signs == [None if v is None else math.copysign(1, v) for v in values]


@pytest.mark.parametrize(
    ("type_name", "values"),
    [
        ("double precision[]", [1.0, True]),  # a bool: psycopg decides, as before
        ("double precision[]", [1.0, 2]),  # an int: psycopg sends it as an integer
        ("integer[]", [1, 2**31]),  # out of range: the database says so
        ("integer[]", [1, 2.0]),
        ("jsonb[]", [{"x": b"bytes"}]),  # not JSON: psycopg's path raises, as before
        ("text[]", ["a"]),
        ("double precision[]", []),
        ("double precision[]", (1.0,)),
    ],
)
def test_values_not_covered_go_through_psycopg(type_name: str, values: Any) -> None:
    assert encode_array(type_name, values) is None


def test_a_cycle_in_extra_is_refused_as_before(direct_db_url: str) -> None:
    transport = PostgresTransport(direct_db_url)
    try:
        sid = transport.rpc("start_session", {"session_name": "s", "model_type": "m", "epochs": 3})
        cycle: dict[str, Any] = {}
        cycle["self"] = cycle
        with pytest.raises(ValueError, match="Circular reference"):
            transport.rpc(
                "log_epoch_columns", {"session_id": sid["id"], "epoch": [0], "extra": [cycle]}
            )
        assert (
            transport.rpc(
                "log_epoch_columns",
                {"session_id": sid["id"], "epoch": [1], "map50": [0.5], "extra": [{"k": 1}]},
            )
            == 1
        )
    finally:
        transport.close()


keys = st.one_of(
    st.text(st.characters(exclude_characters="\x00"), max_size=6),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
)
extras = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30]),
        st.floats(),  # NaN and infinities too: json writes NaN (the database refuses it)
        st.builds(np.float64, st.floats(width=32)),
        st.text(max_size=6),  # lone surrogates too
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=1500)
@given(value=st.dictionaries(keys, extras, max_size=4))
@example(value={"lr_pg1": 0.001, "lr_pg2": math.nan})
@example(value={"x": [math.inf, None]})
@example(value={1: 0.5, "s": "\ud800"})
def test_extra_json_says_what_json_says(value: dict[Any, Any]) -> None:
    """The JSON text sent for an extra means exactly what json's text means (or neither can be
    made): the same values and types once parsed, NaN written as NaN."""
    try:
        expected = pg_arrays._encode_json(value)
    except (TypeError, ValueError, RecursionError) as exc:
        with pytest.raises(type(exc)):
            pg_arrays._json_bytes(value)
        return
    got = pg_arrays._json_bytes(value).decode("utf-8", "surrogatepass")
    assert repr(json.loads(got)) == repr(json.loads(expected))
