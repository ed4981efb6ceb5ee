"""``mltrack dashboard``: the live training dashboard (the Streamlit app in ``dashboard/``).

Checks where to connect first (the SDK's configuration order: ``--database-url``,
``$MLTRACK_DATABASE_URL``, ``$SUPABASE_URL`` + ``$SUPABASE_KEY``, ``mltrack up``'s database), then
runs ``streamlit run dashboard/app.py`` in the foreground until Ctrl-C. A missing setting or a
missing ``[dashboard]`` extra is one red line and exit code 1.

Example::

    mltrack dashboard                        # http://localhost:8501, the configured database
    mltrack dashboard --port 8600 --database-url postgresql://postgres@localhost/postgres
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

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
    if port is not None:
        command += ["--server.port", str(port)]
    if address is not None:
        command += ["--server.address", address]
    return command


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
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help=f"Postgres URL (default: ${DATABASE_URL_ENV}, Supabase settings, `mltrack up`).",
            show_default=False,
        ),
    ] = None,
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
    command = streamlit_command(app, port=port, address=address, headless=headless)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the user stops it
        code = subprocess.run(command, env=env, check=False).returncode
        if code:
            raise typer.Exit(code)


__all__ = ["DashboardUnavailable", "app_path", "dashboard_command", "register", "streamlit_command"]
