"""The CHECK helpers inline as a test of a valid value and, for any other value, a call of their
full verdict (migration ``small_check_helpers``): a statement that writes a table prepares its
constraints without parsing every error branch again, and every constraint still accepts and
rejects exactly what it did, with the same error.

The property compares each helper with the body it shipped with, read from the shipped
migrations and created here under another schema: for any arguments, the same result or the same
error (SQLSTATE, message, hint, column).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from .conftest import count

Conn = psycopg.Connection[dict[str, Any]]

MIGRATIONS = Path(__file__).resolve().parents[2] / "supabase" / "migrations"
#: The shipped bodies: the validation helpers, and check_name as the parity migration redefined it.
SHIPPED_IN = ("20261126090001_validation_helpers.sql", "20261202090003_api_parity.sql")

#: Each helper's argument types, in order.
HELPERS: dict[str, tuple[str, ...]] = {
    "check_name": ("text", "text", "integer"),
    "check_text": ("text", "text", "integer"),
    "check_fraction": ("text", "double precision"),
    "check_non_negative": ("text", "double precision"),
    "check_positive": ("text", "double precision"),
    "check_positive_int": ("text", "bigint", "boolean"),
    "check_count": ("text", "bigint"),
    "check_json_object": ("text", "jsonb", "integer"),
    "check_choice": ("text", "text", "text[]", "boolean"),
    "check_order": ("text", "double precision", "text", "double precision"),
}

# Text Postgres can hold (no NUL, no lone surrogate): blanks of every kind, letters, multibyte.
BLANKS = [" ", "\t", "\n", "\x01", "\x1f", "\x7f", "\u00a0", "\u00ad", "\u200b", "\u2060"]
BLANKS += ["\u3000", "\ufeff", "\u2028", "\u180e", "\u1680", "\u2064", "\u2065"]
texts = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from([*BLANKS, "a", "é", "Z", "1", "-"]), max_size=8),
    st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00")),
)
floats = st.one_of(
    st.none(),
    st.floats(),
    st.floats(min_value=-0.5, max_value=1.5),
    st.sampled_from([0.0, -0.0, 1.0, 5e-324, -5e-324, math.inf, -math.inf, math.nan, 1e308]),
)
bigints = st.one_of(
    st.none(), st.integers(-3, 3), st.integers(min_value=-(2**63), max_value=2**63 - 1)
)
small_ints = st.one_of(st.none(), st.integers(-1, 10), st.integers(-(2**31), 2**31 - 1))
booleans = st.one_of(st.none(), st.booleans())
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-9, 9), st.text(max_size=4))
json_docs = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
choices = st.one_of(
    st.none(), st.lists(st.one_of(st.none(), st.sampled_from(["train", "val", "é", ""])))
)
#: Postgres type -> values of it.
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "text": texts,
    "integer": small_ints,
    "double precision": floats,
    "bigint": bigints,
    "boolean": booleans,
    "jsonb": st.one_of(st.none(), json_docs.map(Jsonb)),
    "text[]": choices,
}


def shipped_bodies() -> dict[str, str]:
    """Helper name -> its last shipped ``create function`` statement, before this change."""
    found: dict[str, str] = {}
    pattern = re.compile(
        r"create (?:or replace )?function mltrack_internal\.(check_\w+)\(.*?\n\$\$;", re.S
    )
    for name in SHIPPED_IN:
        for m in pattern.finditer((MIGRATIONS / name).read_text()):
            if m.group(1) in HELPERS:
                found[m.group(1)] = m.group(0)
    assert sorted(found) == sorted(HELPERS)
    return found


@pytest.fixture
def shipped(conn: Conn) -> Conn:
    """``conn`` with the shipped helpers as ``shipped_checks.<name>``."""
    conn.execute("create schema shipped_checks")
    for name, text in shipped_bodies().items():
        conn.execute(
            text.replace("create or replace function", "create function").replace(
                f"function mltrack_internal.{name}(", f"function shipped_checks.{name}("
            )
        )
    return conn


def outcome(conn: Conn, schema: str, name: str, args: list[Any]) -> tuple[Any, ...]:
    """The helper's result, or its error as (SQLSTATE, message, hint, column)."""
    casts = ", ".join(f"%s::{t}" for t in HELPERS[name])
    try:
        with conn.transaction():
            row = conn.execute(f"select {schema}.{name}({casts}) as r", args).fetchone()
    except psycopg.Error as exc:
        d = exc.diag
        return ("error", exc.sqlstate, d.message_primary, d.message_hint, d.column_name)
    assert row is not None
    return ("result", row["r"])


@pytest.mark.parametrize("name", sorted(HELPERS))
@settings(max_examples=150)
@given(data=st.data())
def test_each_helper_gives_the_shipped_verdict(shipped: Conn, name: str, data: Any) -> None:
    args = [data.draw(VALUES[t], label=t) for t in HELPERS[name]]
    count("check helpers")
    assert outcome(shipped, "mltrack_internal", name, args) == outcome(
        shipped, "shipped_checks", name, args
    )


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_each_helper_inlines_without_its_error_branches(conn: Conn, name: str) -> None:
    """What a constraint prepares for every statement: the test of a valid value and one call,
    not the messages of every way to fail (the shipped helpers inline ``reject`` calls)."""
    columns = ", ".join(f"null::{t}" for t in HELPERS[name])
    params = ", ".join(f"a{i}" for i in range(len(HELPERS[name])))
    plan = "\n".join(
        r["QUERY PLAN"]
        for r in conn.execute(
            f"explain (verbose, costs off) select mltrack_internal.{name}({params})"
            f" from (select {columns} limit 0) t({params})"
        ).fetchall()
    )
    assert f"mltrack_internal.{name}_verdict(" in plan, plan
    assert "reject" not in plan, plan
