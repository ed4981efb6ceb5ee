"""mltrack_sdk.migrate: the splitter, and applying migrations to real Postgres servers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import PgServer, create_database, drop_database

from mltrack_sdk import local
from mltrack_sdk.errors import DatabaseError, MigrationError
from mltrack_sdk.migrate import (
    bootstrap,
    list_migrations,
    migrate,
    split_statements,
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select 1; select 2;", ["select 1", "select 2"]),
        ("select 1", ["select 1"]),
        ("  select 1 ;;\n\n", ["select 1"]),
        ("select 'a;b'; select 'it''s;'", ["select 'a;b'", "select 'it''s;'"]),
        ("select E'it\\'s;' as x; select 2", ["select E'it\\'s;' as x", "select 2"]),
        # In a standard string a backslash is literal, so the string ends at the next quote.
        ("select 'C:\\'; select 2", ["select 'C:\\'", "select 2"]),
        ('select 1 as "a;""b"; select 2', ['select 1 as "a;""b"', "select 2"]),
        (
            "create function f() returns int language plpgsql as $$ begin return 1; end; $$;",
            ["create function f() returns int language plpgsql as $$ begin return 1; end; $$"],
        ),
        (
            "do $body$ begin perform 'x$$;'; end $body$; select 3",
            ["do $body$ begin perform 'x$$;'; end $body$", "select 3"],
        ),
        ("select $1::int; select 2", ["select $1::int", "select 2"]),
        (
            "select 1; -- note; not a statement\nselect 2",
            ["select 1", "-- note; not a statement\nselect 2"],
        ),
        (
            "/* a; /* nested; */ b; */ select 1; select 2",
            ["/* a; /* nested; */ b; */ select 1", "select 2"],
        ),
        ("select 1;\n-- trailing comment only", ["select 1", "-- trailing comment only"]),
        (
            "create rule r as on insert to t do also (select 1; select 2);",
            ["create rule r as on insert to t do also (select 1; select 2)"],
        ),
        (
            "create function f() returns int language sql begin atomic"
            " select case when true then 1 end; select 2; end; select 3",
            [
                "create function f() returns int language sql begin atomic"
                " select case when true then 1 end; select 2; end",
                "select 3",
            ],
        ),
        ("", []),
        ("-- only a comment", ["-- only a comment"]),
    ],
)
def test_split_statements(sql: str, expected: list[str]) -> None:
    assert split_statements(sql) == expected


def _history(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    cur = conn.execute(
        "select version, name, statements from supabase_migrations.schema_migrations"
        " order by version"
    )
    return [dict(row) for row in cur.fetchall()]


def test_migrate_records_every_file_as_the_cli_does(conn: psycopg.Connection[Any]) -> None:
    expected = [
        {"version": m.version, "name": m.name, "statements": m.statements}
        for m in list_migrations()
    ]
    assert expected, "no migration files found"
    assert _history(conn) == expected


def test_history_table_has_the_cli_layout(conn: psycopg.Connection[Any]) -> None:
    cols = conn.execute(
        "select column_name, data_type, is_nullable from information_schema.columns"
        " where table_schema = 'supabase_migrations' and table_name = 'schema_migrations'"
        " order by ordinal_position"
    ).fetchall()
    assert [tuple(c.values()) for c in cols] == [
        ("version", "text", "NO"),
        ("statements", "ARRAY", "YES"),
        ("name", "text", "YES"),
    ]
    pk = conn.execute(
        "select pg_get_constraintdef(oid) as def from pg_constraint"
        " where conrelid = 'supabase_migrations.schema_migrations'::regclass and contype = 'p'"
    ).fetchone()
    assert pk == {"def": "PRIMARY KEY (version)"}


def test_rerun_applies_nothing(db_url: str) -> None:
    assert migrate(db_url) == []


@pytest.fixture
def empty_db(pg_server: PgServer, request: pytest.FixtureRequest) -> Any:
    """A fresh database with nothing in it (not cloned from the template)."""
    name = f"empty_{request.node.name[:30].lower().replace('[', '_').replace(']', '')}"
    url = create_database(pg_server, name)
    yield url
    drop_database(pg_server, name)


def test_fresh_database_gets_bootstrap_and_all_migrations(empty_db: str) -> None:
    versions = [m.version for m in list_migrations()]
    assert migrate(empty_db) == versions
    with psycopg.connect(empty_db) as c:
        row = c.execute(
            "select to_regprocedure('auth.uid()') is not null,"
            " (select count(*) from pg_roles"
            "  where rolname in ('anon', 'authenticated', 'service_role'))"
        ).fetchone()
    assert row == (True, 3)
    # The bootstrap is idempotent and runs on any non-Supabase database.
    assert bootstrap(empty_db) is True


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_failing_migration_rolls_back_and_names_file_and_statement(
    empty_db: str, tmp_path: Path
) -> None:
    migrations = _write(
        tmp_path / "migrations",
        {
            "20240101000000_good.sql": "create table good (id int);\n",
            "20240102000000_bad.sql": (
                "create table half_done (id int);\n"
                "-- the next statement fails\n"
                "insert into missing_table values (1);\n"
            ),
            "20240103000000_later.sql": "create table later (id int);\n",
            "README.md": "not a migration",
        },
    )

    with pytest.raises(MigrationError) as info:
        migrate(empty_db, migrations)

    err = info.value
    assert err.file == "20240102000000_bad.sql"
    assert err.sqlstate == "42P01"
    assert err.statement == "-- the next statement fails\ninsert into missing_table values (1)"
    message = str(err)
    assert "20240102000000_bad.sql" in message
    assert 'relation "missing_table" does not exist' in message
    assert "insert into missing_table values (1)" in message

    with psycopg.connect(empty_db) as c:
        tables = {
            r[0]
            for r in c.execute(
                "select tablename from pg_tables where schemaname = 'public'"
            ).fetchall()
        }
        versions = [
            r[0]
            for r in c.execute(
                "select version from supabase_migrations.schema_migrations order by 1"
            ).fetchall()
        ]
    assert tables == {"good"}  # half_done rolled back, later never ran
    assert versions == ["20240101000000"]

    (migrations / "20240102000000_bad.sql").write_text("create table half_done (id int);\n")
    assert migrate(empty_db, migrations) == ["20240102000000", "20240103000000"]
    assert migrate(empty_db, migrations) == []


def test_concurrent_migrations_apply_each_file_once(empty_db: str, tmp_path: Path) -> None:
    migrations = _write(
        tmp_path / "migrations",
        {
            f"2024010{i}000000_m{i}.sql": f"create table t{i} (id int); select pg_sleep(0.05);"
            for i in range(1, 5)
        },
    )
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(empty_db, migrations))
        except BaseException as exc:  # re-raised below in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(v for r in results for v in r) == [m.version for m in list_migrations(migrations)]


def test_missing_migrations_dir_is_a_clear_error(empty_db: str, tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="migrations directory not found"):
        migrate(empty_db, tmp_path / "nope")


@pytest.mark.slow
def test_migrations_apply_on_embedded_postgres(embedded_home: Path) -> None:
    home = embedded_home
    state = local.up(home)
    try:
        assert state.url is not None
        assert list(state.applied) == [m.version for m in list_migrations()]
        with psycopg.connect(state.url) as c:
            row = c.execute("select current_setting('server_version_num')::int").fetchone()
            assert row is not None and row[0] >= 180000
            history = c.execute(
                "select version, name, statements from supabase_migrations.schema_migrations"
                " order by version"
            ).fetchall()
        assert history == [(m.version, m.name, m.statements) for m in list_migrations()]
        assert migrate(state.url) == []
        # A whole run through the SQL API works on Postgres 18 too (updates of a published
        # table with a generated column are where 18 differs).
        with psycopg.connect(state.url, autocommit=True) as c:
            sid = c.execute("select id from start_session('pg18', 'yolov8n', 3)").fetchone()
            assert sid is not None
            c.execute('select log_epochs(%s, \'[{"epoch": 0, "map50_95": 0.2}]\')', (sid[0],))
            done = c.execute(
                "select status, final_map50_95, best_epoch from finish_session(%s)", (sid[0],)
            ).fetchone()
        assert done == ("completed", 0.2, 0)
    finally:
        assert local.down(home).running is False


def test_bootstrap_gives_auth_uid_from_jwt_claims(
    conn: psycopg.Connection[Any], as_role: Any
) -> None:
    user = "7f1d0c4e-1111-4222-8333-944445555666"
    with as_role(conn, "authenticated", sub=user) as c:
        row = c.execute(
            "select auth.uid()::text as uid, auth.role() as role, current_user"
        ).fetchone()
    assert row == {"uid": user, "role": "authenticated", "current_user": "authenticated"}
    # Outside the block the superuser session is back, without claims.
    assert conn.execute("select current_user, auth.uid()").fetchone() == {
        "current_user": "postgres",
        "uid": None,
    }


def test_migrate_after_a_server_restart(pg_server_factory: Any, tmp_path: Path) -> None:
    migrations = _write(
        tmp_path / "migrations", {"20240101000000_t.sql": "create table t (id int);"}
    )
    server = pg_server_factory()
    url = server.url("postgres")
    assert migrate(url, migrations) == ["20240101000000"]
    server.stop()
    with pytest.raises(DatabaseError, match="cannot connect to the database"):
        migrate(url, migrations)
    server.start()
    assert migrate(url, migrations) == []
    assert server.major_version == 15
