"""The seed's REST API on this machine: the ``training-api`` edge function run by Deno.

The function (``supabase/functions/training-api``) is what ``supabase functions deploy`` ships;
here Deno serves it on ``http://127.0.0.1:<port>/api/training/``, bound to loopback, where a
request without a token acts as the local service role. ``mltrack api`` runs it in the
foreground; tests and benchmarks start it as a context manager::

    from mltrack_sdk.api_server import ApiServer

    with ApiServer("postgresql://postgres@localhost:5432/postgres", port=0) as api:
        requests.get(f"{api.url}/sessions").json()   # {"success": True, "sessions": [...], ...}

Deno comes from ``$MLTRACK_DENO``, else the checkout's ``tools/node`` (``make node`` installs
the pinned version there), else ``deno`` on the PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

from mltrack_sdk.errors import MltrackError, NotConfiguredError

FUNCTION_NAME = "training-api"
DENO_ENV = "MLTRACK_DENO"
JWT_SECRET_ENV = "MLTRACK_JWT_SECRET"

_PACKAGE_DIR = Path(__file__).resolve().parent
# local.ts prints the first, Deno.serve the second (index.ts, the deployed entry).
_READY = re.compile(r"(?:training-api listening|^Listening) on http://127\.0\.0\.1:(\d+)/")


class ApiServerError(MltrackError):
    """The REST API server could not be started."""


def function_dir() -> Path:
    """The function's folder: shipped in the wheel, else the checkout's
    ``supabase/functions/training-api``."""
    packaged = _PACKAGE_DIR / "_functions" / FUNCTION_NAME
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent / "supabase" / "functions" / FUNCTION_NAME


def find_deno() -> str:
    """The ``deno`` executable to run (see the module docstring); raises
    :class:`NotConfiguredError` naming how to install it when there is none."""
    given = os.environ.get(DENO_ENV)
    if given:
        if not Path(given).is_file():
            raise NotConfiguredError(f"{DENO_ENV} must name the deno executable (got {given!r})")
        return given
    pinned = _PACKAGE_DIR.parent / "tools" / "node" / "node_modules" / ".bin" / "deno"
    if pinned.is_file():
        return str(pinned)
    found = shutil.which("deno")
    if found:
        return found
    raise NotConfiguredError(
        "deno is not installed: run `make node` in the mltrack checkout (the pinned version), or"
        f" `npm install -g deno`, or set {DENO_ENV} to its path"
    )


def _socket_dir(database_url: str) -> str | None:
    """The Unix socket folder of a libpq URL (``?host=/dir``), which Deno must be allowed."""
    host = parse_qs(urlsplit(database_url).query).get("host", [""])[0]
    return host if host.startswith("/") else None


class ApiServer:
    """The function under Deno, on 127.0.0.1: ``start()`` returns once it listens.

    ``port=0`` picks a free port (``.port`` tells which). ``jwt_secret`` (else
    ``$MLTRACK_JWT_SECRET``) verifies tokens; without one, only requests without a token are
    served. ``require_token=True`` serves the function as deployed (``index.ts``): a request
    without a token is refused (401). ``log`` (a file path, or a stream such as
    ``sys.stderr``) receives Deno's stderr; its last lines are kept in any case, to explain a
    failed start.
    """

    def __init__(
        self,
        database_url: str,
        *,
        port: int = 5000,
        jwt_secret: str | None = None,
        pool_size: int | None = None,
        require_token: bool = False,
        log: Path | TextIO | None = None,
    ) -> None:
        self.database_url = database_url
        self.port = port
        self.jwt_secret = jwt_secret or os.environ.get(JWT_SECRET_ENV) or None
        self.pool_size = pool_size
        self.require_token = require_token
        self.log = log
        self._process: subprocess.Popen[str] | None = None
        self._stderr: deque[str] = deque(maxlen=40)
        self._threads: list[threading.Thread] = []

    @property
    def pid(self) -> int | None:
        """The Deno process's id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:5000/api/training``."""
        return f"http://127.0.0.1:{self.port}/api/training"

    def command(self) -> list[str]:
        """The Deno command line (permissions: network, environment, the socket folder)."""
        folder = function_dir()
        permissions = ["--allow-net", "--allow-env"]
        if socket_dir := _socket_dir(self.database_url):
            permissions += [f"--allow-read={socket_dir}", f"--allow-write={socket_dir}"]
        return [
            find_deno(),
            "run",
            "--frozen",
            f"--config={folder / 'deno.json'}",
            *permissions,
            *(
                [str(folder / "index.ts")]
                if self.require_token
                else [str(folder / "local.ts"), "--port", str(self.port)]
            ),
        ]

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("SUPABASE_DB_URL", JWT_SECRET_ENV)}
        env.update(SUPABASE_DB_URL=self.database_url, NO_COLOR="1")
        if self.jwt_secret:
            env[JWT_SECRET_ENV] = self.jwt_secret
        if self.pool_size:
            env["MLTRACK_API_POOL_SIZE"] = str(self.pool_size)
        if self.require_token:  # where Deno.serve() of the deployed entry listens
            env["DENO_SERVE_ADDRESS"] = f"tcp:127.0.0.1:{self.port}"
        return env

    def start(self, timeout: float = 120.0) -> ApiServer:
        """Start Deno and wait until the API listens (the first start downloads the function's
        npm dependencies into Deno's cache). Raises :class:`ApiServerError` with Deno's own
        message when it exits or does not listen in time."""
        process = subprocess.Popen(
            self.command(),
            cwd=function_dir(),  # no package.json above it: Deno resolves npm: from its cache
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._process = process
        ready = threading.Event()
        self._threads = [
            threading.Thread(target=self._read_stdout, args=(ready,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(ready,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                why = "exited" if process.poll() is not None else f"did not listen in {timeout} s"
                self.stop()
                raise ApiServerError(f"the API server (deno) {why}: {self.last_words()}")
        return self

    def _seen(self, line: str, ready: threading.Event) -> None:
        if not ready.is_set() and (match := _READY.search(line)):
            self.port = int(match.group(1))
            ready.set()

    def _read_stdout(self, ready: threading.Event) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._seen(line, ready)

    def _read_stderr(self, ready: threading.Event) -> None:
        assert self._process is not None and self._process.stderr is not None
        owned = self.log.open("a", encoding="utf-8") if isinstance(self.log, Path) else None
        sink = owned or self.log
        try:
            for line in self._process.stderr:
                self._seen(line, ready)
                self._stderr.append(line)
                if sink is not None and not isinstance(sink, Path):
                    sink.write(line)
                    sink.flush()
        finally:
            if owned:
                owned.close()

    def wait(self) -> int:
        """Block until Deno exits; its exit code."""
        assert self._process is not None, "start() first"
        return self._process.wait()

    def last_words(self) -> str:
        """Deno's last lines on stderr, on one line (why it failed)."""
        return " ".join("".join(self._stderr).split())[-600:]

    def stop(self) -> None:
        """Stop Deno (it closes its connections first) and wait for it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for thread in self._threads:  # they end at the end of Deno's output
            thread.join(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
