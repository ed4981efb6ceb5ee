"""``mltrack dashboard``'s errors: one red line and exit code 1 (its happy path is what the
browser tests start); the background server ``mltrack demo`` runs."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mltrack_sdk.cli import app
from mltrack_sdk.cli_dashboard import (
    DashboardServer,
    app_path,
    pick_port,
    streamlit_command,
    warm_up,
)
from mltrack_sdk.testing.postgres import free_port
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
        "--runner.postScriptGC": "false",
        "--server.scriptHealthCheckEnabled": "true",
        "--server.port": "8600",
        "--server.address": "127.0.0.1",
    }


def test_pick_port_takes_the_preferred_one_only_when_free() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("", 0))
        held.listen()
        busy = held.getsockname()[1]
        other = pick_port(busy)
        assert other != busy and 0 < other < 65536
    assert pick_port(busy) == busy  # free again


def test_the_background_server_serves_until_ctrl_c(direct_db_url: str, tmp_path: Path) -> None:
    """What `mltrack demo` leaves running at a terminal: the dashboard answers until the user
    presses Ctrl-C, which stops the server (its process group) and returns quietly."""
    log = tmp_path / "demo" / "dashboard.log"
    with DashboardServer(database_url=direct_db_url, log=log, port=free_port()) as server:
        assert server.wait_ready(60), log.read_text()
        health = f"http://127.0.0.1:{server.port}/_stcore/health"
        with urllib.request.urlopen(health, timeout=5) as answer:
            assert answer.status == 200
        assert server.url == f"http://localhost:{server.port}"
        # The app runs in the server (as wait_ready had it run before the first viewer).
        assert warm_up(server.port, timeout=20), log.read_text()
        # Ctrl-C as it comes after a training: SIGINT handled on a thread other than the main
        # one (torch's, polars'), which a main thread blocked in waitpid() never hears of.
        ctrl_c = threading.Timer(
            0.5, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        )
        # Should Ctrl-C go unheard, the server is stopped after 20 s, so the test fails rather
        # than hangs.
        watchdog = threading.Timer(20, os.killpg, (server.process.pid, signal.SIGTERM))
        ctrl_c.start()
        watchdog.start()
        started = time.monotonic()
        server.serve_until_interrupted()
        watchdog.cancel()
        ctrl_c.join()
        assert 0.4 < time.monotonic() - started < 15
        assert server.process.poll() is not None
        with pytest.raises(OSError):
            urllib.request.urlopen(health, timeout=2)
    assert log.read_text()  # the server's output went to its log, not the terminal


def test_the_background_server_ends_with_the_process_that_started_it(
    direct_db_url: str, tmp_path: Path
) -> None:
    """A demo killed outright (SIGKILL, a closed terminal) leaves no dashboard holding its port."""
    port, log = free_port(), tmp_path / "d.log"
    starter = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from mltrack_sdk.cli_dashboard import DashboardServer\n"
        f"s = DashboardServer(database_url={direct_db_url!r}, log=Path({str(log)!r}),"
        f" port={port})\n"
        "print(s.process.pid, s.wait_ready(60), flush=True)\n"
        "time.sleep(300)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", starter],
        stdout=subprocess.PIPE,
        text=True,
        cwd=app_path().parents[1],
    ) as parent:
        pid = "0"
        try:
            assert parent.stdout is not None
            pid, ready = parent.stdout.readline().split()
            assert ready == "True", log.read_text()
            parent.kill()
            parent.wait()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _alive(int(pid)):
                time.sleep(0.2)
            assert not _alive(int(pid)), "the dashboard outlived the process that started it"
        finally:
            parent.kill()
            if int(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(pid), signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not reaped by its new parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
