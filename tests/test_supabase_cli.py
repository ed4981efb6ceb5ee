"""The migrations work with the pinned Supabase CLI (tools/node), and agree with our migrate().

The CLI runs against a database that holds only the bootstrap (what a Supabase project
provides), the way ``supabase link && supabase db push`` deploys the project. The CLI
needs no Docker for these commands; every ``--db-url`` needs ``sslmode=disable``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import PgServer, create_database, drop_database

from mltrack_sdk.migrate import bootstrap, list_migrations, migrate, split_statements

REPO = Path(__file__).resolve().parent.parent
SUPABASE = REPO / "tools" / "node" / "node_modules" / ".bin" / "supabase"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SUPABASE.exists(), reason="run `make node` (npm ci in tools/node)"),
]


def cli_url(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "sslmode=disable"


class SupabaseCli:
    """Runs the pinned CLI with a private HOME and no telemetry, in a given project dir."""

    def __init__(self, workdir: Path, home: Path) -> None:
        self.workdir = workdir
        self.env = {
            **os.environ,
            "HOME": str(home),
            "DO_NOT_TRACK": "1",
            "SUPABASE_TELEMETRY_DISABLED": "1",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SUPABASE), *args, "--workdir", str(self.workdir)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=180,
            check=False,
        )

    def json(self, *args: str) -> Any:
        done = self.run(*args, "--output-format", "json")
        assert done.returncode == 0, (
            f"supabase {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        )
        return json.loads(done.stdout)


def make_project(root: Path, migrations: Path) -> Path:
    """A copy of the repo's Supabase project (config + given migrations), so the CLI writes no
    files (supabase/.temp) into the checkout."""
    (root / "supabase").mkdir(parents=True)
    shutil.copy(REPO / "supabase" / "config.toml", root / "supabase" / "config.toml")
    shutil.copytree(migrations, root / "supabase" / "migrations")
    return root


def history(url: str) -> list[tuple[str, str, list[str]]]:
    with psycopg.connect(url) as c:
        return c.execute(
            "select version, name, statements from supabase_migrations.schema_migrations"
            " order by version"
        ).fetchall()


@pytest.fixture(scope="module")
def pushed(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SupabaseCli, str]]:
    """A bootstrapped database with the repo's migrations applied by ``supabase db push``."""
    tmp = tmp_path_factory.mktemp("supabase-cli")
    cli = SupabaseCli(make_project(tmp / "project", REPO / "supabase" / "migrations"), tmp / "home")
    url = create_database(pg_server, "sbcli_push")
    bootstrap(url)
    done = cli.run("db", "push", "--db-url", cli_url(url), "--yes")
    assert done.returncode == 0, f"supabase db push failed:\n{done.stdout}\n{done.stderr}"
    yield cli, url
    drop_database(pg_server, "sbcli_push")


def test_cli_lists_every_migration_as_applied(pushed: tuple[SupabaseCli, str]) -> None:
    cli, url = pushed
    listed = cli.json("migration", "list", "--db-url", cli_url(url))["migrations"]
    versions = [m.version for m in list_migrations()]
    assert [(m["local"], m["remote"]) for m in listed] == [(v, v) for v in versions]


def test_migrate_after_cli_push_applies_nothing(pushed: tuple[SupabaseCli, str]) -> None:
    _, url = pushed
    assert migrate(url) == []


def test_cli_records_the_statements_our_splitter_produces(pushed: tuple[SupabaseCli, str]) -> None:
    _, url = pushed
    assert history(url) == [(m.version, m.name, m.statements) for m in list_migrations()]


def test_db_lint_reports_no_errors_or_warnings(pushed: tuple[SupabaseCli, str]) -> None:
    cli, url = pushed
    with psycopg.connect(url, autocommit=True) as c:
        if (
            c.execute(
                "select 1 from pg_available_extensions where name = 'plpgsql_check'"
            ).fetchone()
            is None
        ):
            pytest.skip("plpgsql_check is not installed on this server")
        c.execute("create extension if not exists plpgsql_check")
    done = cli.run(
        "db",
        "lint",
        "--db-url",
        cli_url(url),
        "--level",
        "warning",
        "--fail-on",
        "warning",
        "--output-format",
        "json",
    )
    report = f"supabase db lint:\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, report
    assert json.loads(done.stdout)["results"] == [], report


def test_cli_push_after_our_migrate_is_up_to_date(
    pg_server: PgServer, db_url: str, tmp_path: Path
) -> None:
    cli = SupabaseCli(
        make_project(tmp_path / "project", REPO / "supabase" / "migrations"), tmp_path / "home"
    )
    result = cli.json("db", "push", "--db-url", cli_url(db_url), "--yes")
    assert result["upToDate"] is True, result


TRICKY = {
    "20240101000000_quotes.sql": (
        "-- leading comment\n"
        "create table t (\"semi;colon\" text default 'a;b', n int);\n"
        "/* block ; /* nested ; */ comment */\n"
        "insert into t values ('it''s; fine', 1);   \n\n"
        "create function f() returns int language plpgsql as $fn$\n"
        "begin\n  return 1; -- inside\nend;\n$fn$;\n"
        "do $$ begin perform 1; end $$;;\n"
    ),
    "20240102000000_atomic_and_rule.sql": (
        "create function g() returns int language sql\n"
        "begin atomic\n  select 1;\nend;\n"
        "create rule r as on update to t do also (select 1; select 2);\n"
        "-- trailing comment only\n"
    ),
}


def test_splitter_matches_the_cli_on_tricky_sql(pg_server: PgServer, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for name, text in TRICKY.items():
        (migrations / name).write_text(text, encoding="utf-8")
    cli = SupabaseCli(make_project(tmp_path / "project", migrations), tmp_path / "home")
    by_cli = create_database(pg_server, "sbcli_tricky_cli")
    by_us = create_database(pg_server, "sbcli_tricky_us")
    try:
        bootstrap(by_cli)
        done = cli.run("db", "push", "--db-url", cli_url(by_cli), "--yes")
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        assert migrate(by_us, migrations) == sorted(n[:14] for n in TRICKY)
        assert history(by_us) == history(by_cli)
        assert [h[2] for h in history(by_cli)] == [split_statements(t) for t in TRICKY.values()]
    finally:
        drop_database(pg_server, "sbcli_tricky_cli")
        drop_database(pg_server, "sbcli_tricky_us")


def test_history_table_layout_matches_the_cli(pushed: tuple[SupabaseCli, str], db_url: str) -> None:
    def layout(url: str) -> Any:
        with psycopg.connect(url) as c:
            return c.execute(
                "select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
                " coalesce(i.indisprimary, false)"
                " from pg_attribute a left join pg_index i"
                "   on i.indrelid = a.attrelid and a.attnum = any(i.indkey)"
                " where a.attrelid = 'supabase_migrations.schema_migrations'::regclass"
                "   and a.attnum > 0 and not a.attisdropped order by a.attnum"
            ).fetchall()

    _, cli_db = pushed
    assert layout(db_url) == layout(cli_db)
    assert layout(cli_db) == [
        ("version", "text", True, True),
        ("statements", "text[]", False, False),
        ("name", "text", False, False),
    ]
