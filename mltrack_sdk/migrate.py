"""Apply the Supabase migrations to any Postgres, recording them as the Supabase CLI does.

The migrations in ``supabase/migrations`` are the only source of the schema. This
module applies them with psycopg, so a user needs no Node/Supabase CLI, and keeps
the history in ``supabase_migrations.schema_migrations`` exactly like
``supabase db push`` (CLI 2.117.0): ``version`` is the file's digit prefix,
``name`` the rest of the file name without ``.sql``, ``statements`` the file
split at top-level semicolons. Either tool can therefore continue where the other
stopped.

On a database that is not a Supabase one, ``mltrack_sdk/sql/bootstrap.sql``
(idempotent) first creates what Supabase would provide: the API roles, schema
``auth`` with ``auth.uid()``, the ``supabase_realtime`` publication.

Example::

    from mltrack_sdk.migrate import migrate
    applied = migrate("postgresql://postgres@127.0.0.1:5432/postgres")
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mltrack_sdk.errors import DatabaseError, MigrationError

if TYPE_CHECKING:
    import psycopg

_PACKAGE_DIR = Path(__file__).resolve().parent
#: Same pattern as the Supabase CLI: other files in the directory are ignored.
_FILE_PATTERN = re.compile(r"^([0-9]+)_(.*)\.sql$")
#: pg_advisory_lock key held while migrating ("mltrack" in ASCII).
_LOCK_KEY = 0x6D6C747261636B
_STATEMENT_PREVIEW = 200

# The CLI's own DDL for its history table, statement for statement.
_HISTORY_DDL = (
    "SET LOCAL lock_timeout = '4s'",
    "CREATE SCHEMA IF NOT EXISTS supabase_migrations",
    "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations"
    " (version text NOT NULL PRIMARY KEY)",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text",
)
_INSERT_HISTORY = (
    "INSERT INTO supabase_migrations.schema_migrations(version, name, statements)"
    " VALUES (%s, %s, %s)"
)


def default_migrations_dir() -> Path:
    """Return the migrations shipped in the wheel, else the checkout's ``supabase/migrations``."""
    packaged = _PACKAGE_DIR / "_migrations"
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent / "supabase" / "migrations"


def bootstrap_file() -> Path:
    """Return the path of the SQL that stands in for Supabase on plain Postgres."""
    return _PACKAGE_DIR / "sql" / "bootstrap.sql"


# --------------------------------------------------------------------------- splitting

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")
_WORD = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*")


def _skip_quoted(sql: str, i: int, quote: str, backslash: bool) -> int:
    """Return the index after the literal opened at ``sql[i]`` (doubled quotes escape)."""
    n = len(sql)
    i += 1
    while i < n:
        c = sql[i]
        if backslash and c == "\\":
            i += 2
            continue
        if c == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def _skip_block_comment(sql: str, i: int) -> int:
    """Return the index after the (possibly nested) ``/* */`` comment opened at ``i``."""
    depth, n = 0, len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def _scan(sql: str) -> list[tuple[str, bool]]:
    """Split ``sql`` into ``(statement, has_code)`` pairs.

    Statements end at a semicolon outside quotes, comments, dollar quotes,
    parentheses and ``BEGIN ATOMIC ... END`` bodies. Each keeps its comments and
    is stripped of surrounding whitespace; empty ones are dropped. ``has_code``
    is False for a statement made only of comments.
    """
    out: list[tuple[str, bool]] = []
    n = len(sql)
    i = start = 0
    has_code = False
    parens = 0
    atomic = 0  # >0 inside BEGIN ATOMIC; counts nested CASE ... END
    prev_word = ""

    def emit(end: int) -> None:
        text = sql[start:end].strip()
        if text:
            out.append((text, has_code))

    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif c in "'\"":
            # E'...' strings take backslash escapes; 'x' in plain ones is literal.
            backslash = (
                c == "'"
                and i > 0
                and sql[i - 1] in "eE"
                and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] in "_$"))
            )
            i = _skip_quoted(sql, i, c, backslash)
            has_code = True
        elif (
            c == "$"
            and (m := _DOLLAR_TAG.match(sql, i))
            and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_"))
        ):
            close = sql.find(m.group(0), m.end())
            i = n if close < 0 else close + len(m.group(0))
            has_code = True
        elif c.isalpha() or c == "_":
            m = _WORD.match(sql, i)
            assert m is not None
            word = m.group(0).lower()
            if atomic == 0 and prev_word == "begin" and word == "atomic":
                atomic = 1
            elif atomic and word == "case":
                atomic += 1
            elif atomic and word == "end":
                atomic -= 1
            prev_word = word
            i = m.end()
            has_code = True
        elif c == ";" and parens == 0 and atomic == 0:
            emit(i)
            start = i = i + 1
            has_code = False
            prev_word = ""
        else:
            if c == "(":
                parens += 1
            elif c == ")" and parens:
                parens -= 1
            if not c.isspace():
                has_code = True
                prev_word = ""
            i += 1
    emit(n)
    return out


def split_statements(sql: str) -> list[str]:
    """Split a SQL script into statements the way the Supabase CLI records them.

    Handles ``'...'``, ``E'...'``, ``"..."``, ``$$...$$``/``$tag$...$tag$``,
    ``--`` and nested ``/* */`` comments. Comments stay with the statement that
    follows them; a trailing comment-only part is its own statement (as in the CLI).

    Example::

        >>> split_statements("select ';'; -- note\\nselect 2;")
        ["select ';'", '-- note\\nselect 2']
    """
    return [text for text, _ in _scan(sql)]


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class Migration:
    """One migration file: ``<version>_<name>.sql``."""

    version: str
    name: str
    path: Path

    @property
    def statements(self) -> list[str]:
        """The file's statements, as recorded in the history table."""
        return split_statements(self.path.read_text(encoding="utf-8"))


def list_migrations(migrations_dir: Path | str | None = None) -> list[Migration]:
    """Return the migration files of ``migrations_dir`` (default: shipped ones), oldest first."""
    directory = Path(migrations_dir) if migrations_dir is not None else default_migrations_dir()
    if not directory.is_dir():
        raise MigrationError(f"migrations directory not found: {directory}")
    found = []
    for path in directory.iterdir():
        m = _FILE_PATTERN.match(path.name)
        if m and path.is_file():
            found.append(Migration(version=m.group(1), name=m.group(2), path=path))
    found.sort(key=lambda mig: (mig.version, mig.name))
    return found


# --------------------------------------------------------------------------- database


@contextmanager
def connect(database_url: str) -> Iterator[psycopg.Connection]:
    """Open an autocommit psycopg connection; driver errors in the block become DatabaseError.

    This is the one place where this module translates psycopg errors (migration
    statements are reported as :class:`MigrationError` before they get here).
    """
    import psycopg

    try:
        # No prepared statements: they do not survive a transaction pooler (see transports).
        conn = psycopg.connect(database_url, autocommit=True, prepare_threshold=None)
    except psycopg.Error as exc:
        raise DatabaseError.from_driver(exc, "cannot connect to the database") from exc
    with conn:
        try:
            yield conn
        except psycopg.Error as exc:
            raise DatabaseError.from_driver(exc) from exc


def is_supabase(conn: psycopg.Connection) -> bool:
    """True when the database is a real Supabase one (role supabase_admin and auth.uid())."""
    row = conn.execute(
        "select exists (select from pg_roles where rolname = 'supabase_admin')"
        " and to_regprocedure('auth.uid()') is not null"
    ).fetchone()
    return bool(row and row[0])


def _run_script(
    conn: psycopg.Connection, statements: Sequence[tuple[str, bool]], file: str
) -> None:
    """Execute statements in the current transaction; raise MigrationError on the first failure."""
    import psycopg

    for text, has_code in statements:
        if not has_code:
            continue
        try:
            conn.execute(text.encode("utf-8"))
        except psycopg.Error as exc:
            db = DatabaseError.from_driver(exc)
            flat = " ".join(text.split())
            preview = flat if len(flat) <= _STATEMENT_PREVIEW else flat[:_STATEMENT_PREVIEW] + "..."
            hint = f" (hint: {db.hint})" if db.hint else ""
            raise MigrationError(
                f"{file} failed: {db.message}{hint}; statement: {preview}",
                file=file,
                statement=text,
                sqlstate=db.sqlstate,
            ) from exc


def _apply_bootstrap(conn: psycopg.Connection) -> bool:
    if is_supabase(conn):
        return False
    path = bootstrap_file()
    if not path.is_file():
        raise MigrationError(f"bootstrap SQL not found: {path}", file=str(path))
    with conn.transaction():
        _run_script(conn, _scan(path.read_text(encoding="utf-8")), path.name)
    return True


def bootstrap(database_url: str) -> bool:
    """Create the Supabase stand-ins on a plain Postgres; return False on Supabase (no-op).

    Example::

        bootstrap("postgresql://postgres@127.0.0.1:5432/scratch")
    """
    with connect(database_url) as conn, conn.transaction():
        _lock(conn)
        return _apply_bootstrap(conn)


def _lock(conn: psycopg.Connection) -> None:
    """Serialise concurrent runs. Transaction-level, taken at the start of every transaction
    that changes the schema: a session-level lock would not survive a transaction pooler, which
    may run each transaction on another server connection."""
    conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))


def _ensure_history_table(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for statement in _HISTORY_DDL:
            conn.execute(statement.encode())


def applied_versions(conn: psycopg.Connection) -> set[str]:
    """Return the versions recorded in ``supabase_migrations.schema_migrations`` (empty if none)."""
    row = conn.execute(
        "select to_regclass('supabase_migrations.schema_migrations') is not null"
    ).fetchone()
    if not (row and row[0]):
        return set()
    cur = conn.execute("select version from supabase_migrations.schema_migrations")
    return {str(r[0]) for r in cur.fetchall()}


def pending_migrations(
    database_url: str, migrations_dir: Path | str | None = None
) -> list[Migration]:
    """Return the migrations not yet recorded in the database, oldest first."""
    migrations = list_migrations(migrations_dir)
    with connect(database_url) as conn:
        done = applied_versions(conn)
    return [m for m in migrations if m.version not in done]


def migrate(database_url: str, migrations_dir: Path | str | None = None) -> list[str]:
    """Apply pending migrations in order and return their versions.

    Each file runs in its own transaction, statement by statement, and is then
    recorded like ``supabase db push`` records it. A failing file is rolled back
    and raises :class:`~mltrack_sdk.errors.MigrationError` naming the file, the
    statement and the Postgres message; files before it stay applied. Running it
    again applies nothing. A transaction-level advisory lock serialises concurrent runs, so it
    works through a transaction pooler too.

    Example::

        >>> migrate("postgresql://postgres@localhost/postgres?host=/tmp/pg")
        ['20250101000000', '20250102000000']
    """
    migrations = list_migrations(migrations_dir)
    applied: list[str] = []
    with connect(database_url) as conn:
        with conn.transaction():
            _lock(conn)
            _apply_bootstrap(conn)
            _ensure_history_table(conn)
        done = applied_versions(conn)
        for migration in migrations:
            if migration.version in done:
                continue
            scanned = _scan(migration.path.read_text(encoding="utf-8"))
            conn.execute("RESET ALL")  # as the CLI does between files
            with conn.transaction():
                _lock(conn)
                if migration.version in applied_versions(conn):
                    continue  # a concurrent run applied it while this one waited for the lock
                _run_script(conn, scanned, migration.path.name)
                conn.execute(
                    _INSERT_HISTORY,
                    (migration.version, migration.name, [text for text, _ in scanned]),
                )
            applied.append(migration.version)
    return applied
