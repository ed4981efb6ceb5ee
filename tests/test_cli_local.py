"""The ``mltrack`` CLI: local embedded Postgres (up/status/down) and ``db migrate``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import PgServer, create_database, drop_database
from typer.testing import CliRunner

from mltrack_sdk.cli import app
from mltrack_sdk.migrate import list_migrations

ENV = {"COLUMNS": "120", "TERMINAL_WIDTH": "120", "NO_COLOR": "1"}


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    result = CliRunner(env={**ENV, **(env or {})}).invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_mltrack(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a separate process, as a user would (the server outlives it)."""
    env = {**os.environ, **ENV, "MLTRACK_HOME": str(home)}
    env.pop("MLTRACK_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "mltrack_sdk.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def home(embedded_home: Path) -> Path:
    return embedded_home


@pytest.mark.slow
def test_up_twice_status_migrate_down(home: Path) -> None:
    first = run_mltrack(home, "up")
    assert first.returncode == 0, first.stderr
    url = f"postgresql://postgres@localhost/postgres?host={home / 'postgres'}"
    assert "Started local Postgres" in first.stdout
    assert url in first.stdout.splitlines()
    assert f"Applied {len(list_migrations())} migration(s)." in first.stdout
    assert (home / "local.json").read_text().count(url) == 1

    second = run_mltrack(home, "up")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert "Applied" not in second.stdout
    assert url in second.stdout.splitlines()

    status = run_mltrack(home, "status")
    assert status.stdout.splitlines() == ["running", url]

    code, out, err = invoke("db", "migrate", "--database-url", url)
    assert (code, err) == (0, "")
    assert "Nothing to apply" in out

    down = run_mltrack(home, "down")
    assert down.returncode == 0, down.stderr
    assert "Stopped local Postgres." in down.stdout
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2).close()
    assert run_mltrack(home, "status").stdout.splitlines() == ["stopped", url]
    assert "not running" in run_mltrack(home, "down").stdout

    # Up again: the same data directory comes back, already migrated.
    again = run_mltrack(home, "up")
    assert again.returncode == 0, again.stderr
    assert "Started local Postgres" in again.stdout
    assert "Applied" not in again.stdout
    assert url in again.stdout.splitlines()


@pytest.fixture
def fresh_db(pg_server: PgServer) -> Iterator[str]:
    url = create_database(pg_server, "cli_fresh")
    yield url
    drop_database(pg_server, "cli_fresh")


def test_db_migrate_on_a_fresh_database(fresh_db: str) -> None:
    versions = [m.version for m in list_migrations()]
    code, out, err = invoke("db", "migrate", "--database-url", fresh_db)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        *(f"applied {v}" for v in versions),
        f"Applied {len(versions)} migration(s).",
    ]


def test_db_migrate_takes_the_url_from_the_environment(db_url: str) -> None:
    code, out, _ = invoke("db", "migrate", env={"MLTRACK_DATABASE_URL": db_url})
    assert code == 0
    assert "Nothing to apply" in out


def test_db_migrate_bad_url_is_one_red_line(pg_server: PgServer) -> None:
    bad = pg_server.url("no_such_database_xyz")
    code, out, err = invoke("db", "migrate", "--database-url", bad)
    assert code == 1
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("Error: cannot connect to the database:")
    assert "no_such_database_xyz" in err
    assert "Traceback" not in err


def test_db_migrate_failing_file_names_it(fresh_db: str, tmp_path: Path) -> None:
    (tmp_path / "20240101000000_broken.sql").write_text("select 1;\nselect nope from nowhere;\n")
    code, out, err = invoke(
        "db", "migrate", "--database-url", fresh_db, "--migrations-dir", str(tmp_path)
    )
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        'Error: 20240101000000_broken.sql failed: relation "nowhere" does not exist;'
        " statement: select nope from nowhere"
    ]


def test_db_migrate_without_url_is_a_usage_error() -> None:
    code, _, err = invoke("db", "migrate", env={"MLTRACK_DATABASE_URL": ""})
    assert code == 2
    assert "--database-url" in err


def test_red_line_in_a_terminal(pg_server: PgServer) -> None:
    """With colours on, the error line is red (ANSI 31) and still one line."""
    code, _, err = invoke(
        "db",
        "migrate",
        "--database-url",
        pg_server.url("no_such_db"),
        env={"NO_COLOR": "", "FORCE_COLOR": "1"},
    )
    assert code == 1
    assert "\x1b[31m" in err
    assert len(err.strip().splitlines()) == 1


def test_version() -> None:
    code, out, _ = invoke("--version")
    assert code == 0
    assert out.startswith("mltrack ")
