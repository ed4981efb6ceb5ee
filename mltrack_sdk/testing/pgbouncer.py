"""A throwaway PgBouncer in transaction mode, the stand-in for Supabase's pooler (port 6543).

Supavisor in transaction mode, like PgBouncer, hands each transaction to any server connection:
session state (prepared statements, LISTEN, session advisory locks, plain ``SET``) does not
survive. Tests run the SDK through this to prove every path works behind such a pooler::

    from mltrack_sdk.testing.pgbouncer import PgBouncer, has_pgbouncer

    with PgBouncer("127.0.0.1", 5432) as bouncer:
        url = bouncer.url("postgres")      # postgresql://postgres@127.0.0.1:<port>/postgres

Needs Debian's ``pgbouncer`` package. Standard library only; not imported by ``mltrack_sdk``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from mltrack_sdk.testing.postgres import as_postgres_user, free_port

PGBOUNCER = Path("/usr/sbin/pgbouncer")


def has_pgbouncer() -> bool:
    """True when Debian's ``pgbouncer`` binary is installed."""
    return PGBOUNCER.exists() or shutil.which("pgbouncer") is not None


class PgBouncer:
    """PgBouncer in ``pool_mode`` in front of the Postgres at ``host:port`` (trust auth, user
    ``postgres``), in a private temp dir removed by :meth:`close`."""

    def __init__(
        self, host: str, port: int, *, pool_mode: str = "transaction", start_timeout: float = 20
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mltrack-pgbouncer-"))
        self.port = free_port()
        self.log_file = self.root / "pgbouncer.log"
        ini = self.root / "pgbouncer.ini"
        users = self.root / "users.txt"
        users.write_text('"postgres" ""\n', encoding="utf-8")
        ini.write_text(
            "[databases]\n"
            f"* = host={host} port={port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            f"pool_mode = {pool_mode}\n"
            "max_client_conn = 500\n"
            "default_pool_size = 20\n"
            "server_reset_query =\n"
            f"logfile = {self.log_file}\n"
            f"pidfile = {self.root / 'pgbouncer.pid'}\n",
            encoding="utf-8",
        )
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            for path in (ini, users):
                shutil.chown(path, "postgres")
        binary = str(PGBOUNCER if PGBOUNCER.exists() else shutil.which("pgbouncer"))
        self._process = subprocess.Popen(
            as_postgres_user([binary, str(ini)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self._log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError(f"pgbouncer did not start within {start_timeout} s")

    def _log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""

    def url(self, dbname: str) -> str:
        """URL of database ``dbname`` through the pooler."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def close(self) -> None:
        """Stop PgBouncer and remove its temp dir."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
