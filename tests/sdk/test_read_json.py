"""The JSON columns of a read (``extra``) are parsed by orjson where it can: for any JSON value
Postgres writes, the result is what json (psycopg's loader) gives, types and key order included."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from mltrack_sdk.transports.pg_reads import parse_json

text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=8)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(-(2**80), 2**80),
        st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([5e-324, 1e300, 1.7976931348623157e308, 0.1, -2.5e-7, 1e16, 123.0]),
        text,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=json_values)
@example(value={"lr_pg1": 0.00999, "lr_pg2": 0.0099})
@example(value={"big": 10**300, "tiny": 5e-324, "max": 1.7976931348623157e308})
@example(value={"s": '"\\\u2028\u00e9\U0001f600\x01', "": [None, True, 2**64]})
def test_parse_json_of_postgres_text_is_what_json_gives(
    conn: psycopg.Connection[dict[str, Any]], value: Any
) -> None:
    row = conn.execute("select %s::jsonb::text as t", (Jsonb(value),)).fetchone()
    assert row is not None
    one = row["t"]
    many = "[" + ",".join([one, "null", one]) + "]"  # a chunk's column, as the read joins it
    for text_ in (one, many):
        assert repr(parse_json(text_)) == repr(json.loads(text_))
