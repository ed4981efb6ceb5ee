"""The README's reference tables cannot drift from the database and the SDK.

The function table must list exactly the SQL API (every function in `public` of the migrated
database), and the error-code table exactly the SQLSTATEs the SDK maps to typed exceptions.
The README's example errors must be what the database really says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from mltrack_sdk.errors import SQLSTATE_ERRORS, database_error

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _table_keys(header: str) -> list[str]:
    """First-column code spans of the markdown table that follows ``header``."""
    section = README.split(header, 1)[1]
    keys = []
    for line in section.splitlines():
        if line.startswith("| `"):
            keys.append(line.split("`")[1])
        elif keys and not line.startswith("|"):
            break
    return keys


def test_function_table_lists_exactly_the_sql_api(conn: psycopg.Connection[Any]) -> None:
    documented = {key.split("(")[0] for key in _table_keys("| function | what it does |")}
    rows = conn.execute(
        "select p.proname from pg_proc p where p.pronamespace = 'public'::regnamespace"
        " and p.prokind = 'f' and not exists (select from pg_depend d"
        "   where d.objid = p.oid and d.deptype = 'e')"
    ).fetchall()
    assert documented == {r["proname"] for r in rows}


def test_error_table_lists_exactly_the_typed_sqlstates() -> None:
    assert set(_table_keys("| SQLSTATE | meaning | example |")) == set(SQLSTATE_ERRORS)


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("select start_session('', 'yolov8n', 10)", "MT002"),
        ("select log_epoch((start_session('s', 'yolov8n', 100)).id, 101)", "MT001"),
    ],
)
def test_readme_examples_are_real_messages(
    conn: psycopg.Connection[Any], sql: str, sqlstate: str
) -> None:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(sql)
    message = caught.value.diag.message_primary or ""
    assert caught.value.sqlstate == sqlstate
    assert f"`{message}`" in README
    assert isinstance(database_error(sqlstate, message), SQLSTATE_ERRORS[sqlstate])
