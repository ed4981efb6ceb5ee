"""Every CHECK constraint spells out its test of a valid value (migration ``inline_checks``): a
statement that writes a table prepares its constraints without inlining a SQL function, and each
constraint still accepts and rejects exactly what it did, with the same error.

The property evaluates each constraint's expression as it is now and as it was before the
migration (read from a database migrated up to the one before) on the same drawn column values:
the same result or the same error (SQLSTATE, message, hint, column).
"""

from __future__ import annotations

import shutil
from typing import Any

import psycopg
import psycopg.rows
import pytest
from conftest import PgServer, create_database, drop_database
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.types.json import Jsonb

from mltrack_sdk.migrate import list_migrations, migrate

from .conftest import count
from .test_check_helpers import BLANKS, floats, json_docs

Conn = psycopg.Connection[dict[str, Any]]

MIGRATION = "20261203160001"
TABLES = (
    "training_datasets",
    "hyperparameter_runs",
    "training_sessions",
    "training_metrics",
    "validation_results",
    "model_benchmarks",
)
#: Each CHECK constraint of the tables: (table, name) -> (definition, [(column, type)]).
DEFINITIONS = """
select c.conrelid::regclass::text as "table", c.conname as name,
       pg_get_constraintdef(c.oid) as def,
       array_agg(a.attname::text order by a.attnum) as columns,
       array_agg(format_type(a.atttypid, a.atttypmod) order by a.attnum) as types
  from pg_constraint c
  join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
 where c.contype = 'c' and c.connamespace = 'public'::regnamespace
 group by c.conrelid, c.conname, c.oid
"""

Definitions = dict[tuple[str, str], tuple[str, list[tuple[str, str]]]]


def read_definitions(conn: psycopg.Connection[Any]) -> Definitions:
    with conn.cursor(row_factory=psycopg.rows.tuple_row) as cur:
        rows = cur.execute(DEFINITIONS).fetchall()
    return {(r[0], r[1]): (r[2], list(zip(r[3], r[4], strict=True))) for r in rows}


@pytest.fixture(scope="module")
def previous(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Definitions:
    """The constraints as the migrations before this one left them."""
    folder = tmp_path_factory.mktemp("migrations_before_inline_checks")
    for m in list_migrations():
        if m.version < MIGRATION:
            shutil.copy(m.path, folder / m.path.name)
    url = create_database(pg_server, "inline_checks_before")
    try:
        migrate(url, folder)
        with psycopg.connect(url) as c:
            found = read_definitions(c)
    finally:
        drop_database(pg_server, "inline_checks_before")
    return found


# Text around every length limit of the schema, blank text of every kind, choices, and any text;
# the helper suite's floats and JSON documents, and objects around the JSON size limits (16384
# and 65536 bytes of JSON text).
LIMITS = [20, 50, 100, 200, 1000, 2000, 4000]
texts = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from([*BLANKS, "a", "é", "1"]), max_size=6),
    st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00")),
    st.builds(
        lambda n, d, c: c * (n + d),
        st.sampled_from(LIMITS),
        st.integers(-1, 1),
        st.sampled_from(["x", " ", "é"]),
    ),
    st.sampled_from(["pending", "running", "completed", "failed", "cancelled", "maximize"]),
    st.sampled_from(["map50_95", "loss", "minimize", "train", "val", "fp16", "Running"]),
)
integers = st.one_of(st.none(), st.integers(-3, 3), st.integers(-(2**31), 2**31 - 1))
big_objects = st.builds(
    lambda n, d: {"k": "x" * (n + d - 9)}, st.sampled_from([16384, 65536]), st.integers(-1, 1)
)
#: Postgres type -> values of it.
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "text": texts,
    "integer": integers,
    "double precision": floats,
    "jsonb": st.one_of(st.none(), json_docs.map(Jsonb), big_objects.map(Jsonb)),
    "text[]": st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "é"]), max_size=4)),
    "timestamp with time zone": st.one_of(
        st.none(), st.sampled_from(["2026-01-01 00:00+00", "2026-01-01 00:00:01+00"])
    ),
}


def outcome(conn: Conn, definition: str, columns: list[tuple[str, str]], values: list[Any]) -> Any:
    """The constraint's verdict on a row of ``values``: its result or its error."""
    assert definition.startswith("CHECK ")
    row = sql.SQL(", ").join(
        sql.SQL("{}::{} as {}").format(sql.Placeholder(), sql.SQL(t), sql.Identifier(c))
        for c, t in columns
    )
    query = sql.SQL("select ({}) as r from (select {}) t").format(
        sql.SQL(definition.removeprefix("CHECK ")), row
    )
    try:
        with conn.transaction():
            found = conn.execute(query, values).fetchone()
    except psycopg.Error as exc:
        d = exc.diag
        return ("error", exc.sqlstate, d.message_primary, d.message_hint, d.column_name)
    assert found is not None
    return ("result", found["r"])


@pytest.fixture
def now(conn: Conn) -> Definitions:
    """The constraints as all the migrations leave them (read once per test, not per example)."""
    return read_definitions(conn)


def test_every_constraint_was_there_before(now: Definitions, previous: Definitions) -> None:
    assert sorted(now) == sorted(previous)
    changed = [k for k in now if now[k][0] != previous[k][0]]
    assert len(changed) == 78, changed  # the constraints that called a helper
    assert all(now[k][1] == previous[k][1] for k in now)


@pytest.mark.parametrize("table", TABLES)
@settings(max_examples=60)
@given(data=st.data())
def test_each_constraint_gives_its_previous_verdict(
    conn: Conn, now: Definitions, previous: Definitions, table: str, data: Any
) -> None:
    columns = {col for (t, _), (_, cols) in now.items() if t == table for col in cols}
    row = {(c, t): data.draw(VALUES[t], label=c) for c, t in sorted(columns)}
    for (t, name), (definition, cols) in sorted(now.items()):
        if t != table or definition == previous[(t, name)][0]:
            continue
        count("inline checks")
        values = [row[(c, ty)] for c, ty in cols]
        assert outcome(conn, definition, cols, values) == outcome(
            conn, previous[(t, name)][0], cols, values
        ), name


def test_no_constraint_inlines_a_sql_function(conn: Conn) -> None:
    """Postgres inlines a SQL function without SET options into the expression it prepares for
    every statement (its body parsed and analysed anew): no CHECK constraint calls one."""
    inlined = conn.execute(
        "select distinct c.conrelid::regclass::text || '.' || c.conname as name,"
        "       p.oid::regprocedure::text as function"
        "  from pg_constraint c"
        "  join pg_depend d on d.classid = 'pg_constraint'::regclass and d.objid = c.oid"
        "   and d.refclassid = 'pg_proc'::regclass"
        "  join pg_proc p on p.oid = d.refobjid"
        " where c.contype = 'c' and c.connamespace = 'public'::regnamespace"
        "   and p.prolang = (select l.oid from pg_language l where l.lanname = 'sql')"
        "   and p.proconfig is null"
        " order by 1, 2"
    ).fetchall()
    assert inlined == []
