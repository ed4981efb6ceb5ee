"""``mltrack dashboard``: the live training dashboard (the Streamlit app in ``dashboard/``).

Checks where to connect first (the SDK's configuration order: ``--database-url``,
``$MLTRACK_DATABASE_URL``, ``$SUPABASE_URL`` + ``$SUPABASE_KEY``, ``mltrack up``'s database), then
runs ``streamlit run dashboard/app.py`` in the foreground until Ctrl-C. A missing setting or a
missing ``[dashboard]`` extra is one red line and exit code 1. As soon as the server answers, the
app runs once in it (:func:`warm_up`), so the first viewer does not wait for its imports and its
first read of the database.

Example::

    mltrack dashboard                        # http://localhost:8501, the configured database
    mltrack dashboard --port 8600 --database-url postgresql://postgres@localhost/postgres

:class:`DashboardServer` serves it in the background instead (``mltrack demo`` does, so that the
demo's training is watched live).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer

from mltrack_sdk.cli_format import DatabaseUrlOption
from mltrack_sdk.config import DATABASE_URL_ENV
from mltrack_sdk.errors import MltrackError


class DashboardUnavailable(MltrackError):
    """The dashboard cannot start here (Streamlit or the app is missing)."""


def app_path() -> Path:
    """The dashboard's entry file: ``dashboard/app.py`` of the installed ``dashboard`` package
    (beside ``mltrack_sdk`` in a source checkout). Raises :class:`DashboardUnavailable` when
    it is not installed::

        app_path()  # PosixPath('/src/mltrack/dashboard/app.py')
    """
    if importlib.util.find_spec("streamlit") is None:
        raise DashboardUnavailable(
            "the dashboard needs Streamlit: pip install -e '.[dashboard]' (or 'mltrack[dashboard]')"
        )
    beside = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    if beside.is_file():
        return beside
    spec = importlib.util.find_spec("dashboard")
    if spec is not None and spec.origin:
        installed = Path(spec.origin).parent / "app.py"
        if installed.is_file():
            return installed
    raise DashboardUnavailable("the dashboard app (dashboard/app.py) is not installed")


def streamlit_command(
    app: Path, *, port: int | None = None, address: str | None = None, headless: bool = False
) -> list[str]:
    """The ``python -m streamlit run`` command line for ``app``.

    Example::

        streamlit_command(app_path(), port=8600, headless=True)
    """
    command = [sys.executable, "-m", "streamlit", "run", str(app)]
    command += ["--browser.gatherUsageStats", "false", "--server.headless", str(headless).lower()]
    command += ["--client.toolbarMode", "minimal"]  # no "Deploy" button: this is a product
    # No full garbage collection after every script run: the dashboard's watcher runs twice a
    # second per open tab, and a full collection of the store's heap cost ~0.14 s each time.
    command += ["--runner.postScriptGC", "false"]
    # The script check route lets :func:`warm_up` run the app once before the first viewer.
    command += ["--server.scriptHealthCheckEnabled", "true"]
    if port is not None:
        command += ["--server.port", str(port)]
    if address is not None:
        command += ["--server.address", address]
    return command


def warm_up(port: int, host: str = "127.0.0.1", timeout: float = 60.0) -> bool:
    """Wait until the server on ``port`` answers, then run the app once in it (Streamlit's
    script check): its modules are imported and its live store reads the database before the
    first viewer comes, who so sees the page without that wait. False when the server did not
    answer or the run failed (the first viewer then does it); never raises::

        warm_up(8501)
    """
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    base = f"http://{host}:{port}/_stcore"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                if answer.status != 200:
                    raise OSError(answer.status)
            left = max(1.0, deadline - time.monotonic())
            with urllib.request.urlopen(f"{base}/script-health-check", timeout=left) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    return False


#: Streamlit's own default port, used when it is free.
DEFAULT_PORT = 8501


def pick_port(preferred: int = DEFAULT_PORT) -> int:
    """``preferred`` when nothing listens there, else a free port the system picks::

    pick_port()  # 8501, or e.g. 40123 when another dashboard has 8501
    """
    import socket  # here: `mltrack --help` imports this module

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("", preferred))
            return preferred
        except OSError:
            s.bind(("", 0))
            return int(s.getsockname()[1])


def _end_with_parent() -> None:
    """In the server's process, before Streamlit starts (Linux): SIGTERM when the process that
    started it ends, however it ends (a closed terminal, SIGKILL), so no orphan keeps the port."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)


class DashboardServer:
    """The dashboard served in the background (headless, in a process group of its own), its
    output going to ``log``; :meth:`stop` (or leaving the ``with`` block) ends it::

        with DashboardServer(database_url=url, log=Path("dashboard.log")) as server:
            if server.wait_ready(60):
                print("open", server.url)
            ...                               # it serves while this runs
            server.serve_until_interrupted()  # until Ctrl-C

    Raises :class:`DashboardUnavailable` when Streamlit or the app is missing.
    """

    def __init__(self, *, database_url: str | None, log: Path, port: int | None = None) -> None:
        app = app_path()
        self.port = port or pick_port()
        self.url = f"http://localhost:{self.port}"
        self.log = log
        env = dict(os.environ)
        if database_url:
            env[DATABASE_URL_ENV] = database_url
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                streamlit_command(app, port=self.port, headless=True),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own process group: Ctrl-C in the terminal reaches only this process, which
                # then stops the server and its children.
                start_new_session=True,
                preexec_fn=_end_with_parent,
            )

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until the server answers its health check (and has run the app once, see
        :func:`warm_up`); False when it ended or did not answer within ``timeout`` seconds."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                health = f"http://127.0.0.1:{self.port}/_stcore/health"
                with urllib.request.urlopen(health, timeout=2) as answer:
                    if answer.status == 200:
                        # The first page is drawn without importing the app or reading
                        # the database first.
                        warm_up(self.port, timeout=max(1.0, deadline - time.monotonic()))
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        return False

    def serve_until_interrupted(self) -> None:
        """Block until the server ends or the user presses Ctrl-C (then stop it)."""
        with contextlib.suppress(KeyboardInterrupt):
            # In short waits: after a training, threads of other libraries (torch, polars) are
            # about, and Ctrl-C's SIGINT may land on one of them; the main thread, blocked in one
            # long waitpid(), would never see its KeyboardInterrupt.
            while self.process.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(0.25)
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """End the server (SIGTERM to its process group, SIGKILL after ``timeout`` seconds)."""
        import signal

        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def open_browser(url: str) -> bool:
    """Open ``url`` in the user's browser when this machine has a display (Streamlit's way:
    the browser's own output kept off the terminal); False, doing nothing, otherwise."""
    graphical = sys.platform in ("darwin", "win32") or any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY")
    )
    if not graphical:
        return False
    from streamlit import cli_util

    cli_util.open_browser(url)
    return True


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to ``app`` (the ``mltrack`` CLI)."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the command.
    from mltrack_sdk.cli import domain_errors

    app.command("dashboard")(domain_errors(dashboard_command))


def dashboard_command(
    port: Annotated[
        int | None,
        typer.Option(
            "--port", help="Port to serve on (default: Streamlit's, 8501).", min=1, max=65535
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Address to listen on (default: Streamlit's; 127.0.0.1 for this machine only).",
            show_default=False,
        ),
    ] = None,
    headless: Annotated[
        bool, typer.Option("--headless", help="Do not open a browser.", show_default=False)
    ] = False,
) -> None:
    """Serve the live training dashboard (Streamlit) until Ctrl-C."""
    from mltrack_sdk.connect import resolve_target

    resolve_target(database_url)  # nothing configured: NotConfiguredError, one red line
    app = app_path()
    env = dict(os.environ)
    if database_url:
        env[DATABASE_URL_ENV] = database_url
    port = port or pick_port()
    command = streamlit_command(app, port=port, address=address, headless=headless)
    local = address in (None, "", "0.0.0.0", "::")
    host = "127.0.0.1" if local else str(address)
    # The app runs once as soon as the server answers, before the first viewer comes.
    threading.Thread(target=warm_up, args=(port, host), daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the user stops it
        code = subprocess.run(command, env=env, check=False).returncode
        if code:
            raise typer.Exit(code)


__all__ = [
    "DEFAULT_PORT",
    "DashboardServer",
    "DashboardUnavailable",
    "app_path",
    "dashboard_command",
    "open_browser",
    "pick_port",
    "register",
    "streamlit_command",
    "warm_up",
]
