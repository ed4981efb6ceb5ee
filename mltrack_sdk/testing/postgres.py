"""Start a throwaway Postgres from Debian's binaries, for tests and benchmarks.

The server lives in a private temp dir (data, socket, log) and is removed by :meth:`close`.
Postgres refuses to run as root, so as root it runs as the ``postgres`` OS user. It listens on
a Unix socket in its temp dir and, with ``tcp=True``, on ``127.0.0.1:<free port>`` as well::

    from mltrack_sdk.testing.postgres import TempPostgres

    with TempPostgres(settings={"fsync": "off"}) as pg:
        with psycopg.connect(pg.url("postgres")) as conn:
            ...

Standard library only; not imported by ``import mltrack_sdk``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

#: Where Debian's ``postgresql-15`` package puts its binaries.
DEBIAN_PG_BIN = Path("/usr/lib/postgresql/15/bin")


def has_postgres(bin_dir: Path = DEBIAN_PG_BIN) -> bool:
    """True if ``bin_dir`` holds the binaries :class:`TempPostgres` needs (``initdb``)::

    if not has_postgres():
        pytest.skip("needs Debian's Postgres 15")
    """
    return (bin_dir / "initdb").exists()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (``free_port() -> 40123``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres_user(cmd: list[str]) -> list[str]:
    """``cmd`` as is, or - when we are root - run as the ``postgres`` OS user::

    subprocess.run(as_postgres_user(["pg_ctl", "-D", data, "stop"]))
    """
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]


def reap_stale(prefix: str, bin_dir: Path = DEBIAN_PG_BIN) -> None:
    """Stop and remove servers under ``$TMPDIR/<prefix>*`` whose owner process died.

    A killed or timed-out test run cannot clean up; the next one calls this first::

        reap_stale("mltrack-pg-")
    """
    for root in Path(tempfile.gettempdir()).glob(prefix + "*"):
        try:
            owner = int((root / "owner.pid").read_text())
        except (OSError, ValueError):
            continue  # not ours, or being created right now
        try:
            os.kill(owner, 0)
            continue  # owner still alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        if (root / "data" / "postmaster.pid").exists():
            cmd = [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"]
            subprocess.run(as_postgres_user(cmd), capture_output=True, check=False, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


class TempPostgres:
    """A started Postgres in a private temp dir; :meth:`close` stops and removes it.

    ``settings`` are appended to ``postgresql.conf`` verbatim (values in its syntax, e.g.
    ``{"shared_buffers": "'1GB'"}``); listen address, port and socket directory are set here.
    ``log`` (if given) is told where the server is being created. The temp dir holds
    ``owner.pid`` so that :func:`reap_stale` can clean up after a process that died::

        pg = TempPostgres(prefix="mltrack-bench-", settings={"max_wal_size": "'4GB'"})
        url = pg.url("postgres")   # postgresql://postgres@/postgres?host=/tmp/...&port=5432
        pg.close()
    """

    def __init__(
        self,
        bin_dir: Path = DEBIAN_PG_BIN,
        *,
        prefix: str = "mltrack-pg-",
        tcp: bool = False,
        settings: Mapping[str, str] | None = None,
        start_timeout: int = 60,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not has_postgres(bin_dir):
            raise FileNotFoundError(f"no Postgres binaries (initdb) in {bin_dir}")
        self.bin_dir: Path = bin_dir
        self.tcp = tcp
        self.start_timeout = start_timeout
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.log_file = self.root / "server.log"
        # Without TCP the port only names the socket file in our private directory.
        self.port = free_port() if tcp else 5432
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")
        if log is not None:
            log(f"starting a throwaway Postgres in {self.root}")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        conf = {
            "listen_addresses": "'127.0.0.1'" if tcp else "''",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            **(settings or {}),
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as f:
            f.write("\n# mltrack_sdk.testing.postgres\n")
            f.writelines(f"{k} = {v}\n" for k, v in conf.items())
        self.admin_url = self.url("postgres")
        self.start()

    def url(self, dbname: str) -> str:
        """Superuser URL of database ``dbname``: TCP with ``tcp=True``, else the Unix socket."""
        if self.tcp:
            return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"
        return f"postgresql://postgres@/{dbname}?host={self.socket_dir}&port={self.port}"

    @property
    def running(self) -> bool:
        """True while the server's ``postmaster.pid`` exists."""
        return (self.data / "postmaster.pid").exists()

    def _run(self, exe: str, *args: str) -> None:
        cmd = as_postgres_user([str(self.bin_dir / exe), *args])
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=self.root)
        if done.returncode != 0:
            tail = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise RuntimeError(
                f"{exe} failed ({done.returncode}): {done.stderr}{done.stdout}\n{tail}"
            )

    def start(self) -> None:
        """Start the server and wait until it accepts connections (``pg_ctl -w start``)."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(self.start_timeout),
            "start",
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        """Stop the server if it runs and remove its temp dir."""
        if self.running:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = [
    "DEBIAN_PG_BIN",
    "TempPostgres",
    "as_postgres_user",
    "free_port",
    "has_postgres",
    "reap_stale",
]
