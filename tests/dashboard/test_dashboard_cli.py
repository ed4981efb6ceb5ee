"""``mltrack dashboard``'s errors: one red line and exit code 1 (its happy path is what the
browser tests start)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mltrack_sdk.cli import app
from mltrack_sdk.cli_dashboard import app_path, streamlit_command
from tests.dashboard.support import no_ambient_config

__all__ = ["no_ambient_config"]  # an autouse fixture


def test_nothing_configured_is_one_red_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dashboard", "--headless"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "Error: no database configured" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("port", ["0", "70000", "x"])
def test_a_bad_port_is_a_usage_error(port: str, direct_db_url: str) -> None:
    result = CliRunner().invoke(app, ["dashboard", "--port", port, "--database-url", direct_db_url])
    assert result.exit_code == 2
    assert "--port" in result.output


def test_the_streamlit_command_serves_the_app_headless() -> None:
    command = streamlit_command(app_path(), port=8600, address="127.0.0.1", headless=True)
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert command[4].endswith("dashboard/app.py") and Path(command[4]).is_file()
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options == {
        "--browser.gatherUsageStats": "false",
        "--server.headless": "true",
        "--client.toolbarMode": "minimal",
        "--server.port": "8600",
        "--server.address": "127.0.0.1",
    }
