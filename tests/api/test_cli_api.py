"""``mltrack api``: serves the function until Ctrl-C; every user error is one red line, exit 1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from conftest import PgServer, create_database, drop_database
from typer.testing import CliRunner

from mltrack_sdk.api_server import ApiServer
from mltrack_sdk.cli import app
from mltrack_sdk.testing.postgres import free_port

from .conftest import JWT_SECRET, token

ENV = {"COLUMNS": "120", "TERMINAL_WIDTH": "120", "NO_COLOR": "1"}
JWT_ENV = "MLTRACK_JWT_SECRET"


def invoke(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    runner = CliRunner(env={**ENV, "MLTRACK_DATABASE_URL": None, **(env or {})})
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def empty_db_url(pg_server: PgServer) -> Iterator[str]:
    """A database without mltrack's schema."""
    name = f"api_empty_{os.getpid()}"
    yield create_database(pg_server, name)
    drop_database(pg_server, name)


def test_serves_until_ctrl_c(api_db_url: str, deno: str) -> None:
    env = {**os.environ, **ENV, JWT_ENV: JWT_SECRET}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mltrack_sdk.cli",
            "api",
            "--port",
            "0",
            "--database-url",
            api_db_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.match(
            r"Serving the training API on (http://127\.0\.0\.1:\d+/api/training)/", first
        )
        assert match, first + (process.stderr.read() if process.stderr else "")
        assert "tokens are verified" in process.stdout.readline()
        url = match.group(1)
        assert requests.get(f"{url}/sessions", timeout=30).json()["success"] is True
        anon = requests.get(
            f"{url}/sessions", timeout=30, headers={"Authorization": f"Bearer {token('anon')}"}
        )
        assert anon.status_code == 403
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0 and "Stopped." in out
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/sessions", timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_an_unreachable_database_is_one_red_line() -> None:
    port = free_port()
    code, out, err = invoke("api", "--database-url", f"postgresql://postgres:pw@127.0.0.1:{port}/x")
    assert code == 1 and out == ""
    assert err.startswith(f"Error: cannot connect to the database postgres@127.0.0.1:{port}/x")
    assert len(err.strip().splitlines()) == 1 and "pw" not in err


def test_a_database_without_the_schema_is_one_red_line(empty_db_url: str) -> None:
    code, _, err = invoke("api", "--database-url", empty_db_url)
    assert code == 1
    assert "has no mltrack schema: run `mltrack db migrate" in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_deno_is_one_red_line(api_db_url: str, tmp_path: Path) -> None:
    code, _, err = invoke(
        "api", "--database-url", api_db_url, env={"MLTRACK_DENO": str(tmp_path / "deno")}
    )
    assert code == 1
    assert err.startswith("Error: MLTRACK_DENO must name the deno executable")


def test_a_supabase_project_without_a_database_url_is_one_red_line(tmp_path: Path) -> None:
    env: dict[str, str | None] = {
        "SUPABASE_URL": "https://x.supabase.co",
        "SUPABASE_KEY": "k",
        "MLTRACK_HOME": str(tmp_path),
    }
    code, _, err = invoke("api", env=env)
    assert code == 1 and "mltrack api connects to Postgres directly" in err


def test_a_port_out_of_range_is_a_usage_error() -> None:
    code, _, err = invoke("api", "--port", "70000")
    assert code == 2 and "--port" in err


def test_a_unix_socket_url_as_libpq_writes_it(
    pg_server: PgServer, api_db_url: str, deno: str, tmp_path: Path
) -> None:
    """``postgresql://user@/db?host=/socket/dir&port=N`` (no host part; `mltrack up` and
    psql users write such URLs) reaches the database through its Unix socket."""
    socket_dir = getattr(pg_server, "socket_dir", None)
    parts = urlsplit(api_db_url)
    if socket_dir is not None:
        url = f"postgresql://postgres@{parts.path}?host={socket_dir}&port={parts.port}"
    elif "host=/" in parts.query:
        url = api_db_url
    else:
        pytest.skip(f"the {pg_server.kind} test server has no Unix socket here")
    with ApiServer(url, port=0, log=tmp_path / "deno.log") as server:
        answer = requests.get(f"{server.url}/sessions?limit=1", timeout=30)
    assert answer.status_code == 200, answer.text
