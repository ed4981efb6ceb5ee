"""The direct transport: psycopg 3 to Postgres (or a Supabase pooler URL).

Each SQL API call is one statement, ``select * from public.<fn>(name => $1::type, ...)``; a batch
of epochs is one ``log_epoch_columns`` call with one array per field, so one round trip. Argument
types come from ``pg_proc`` (read once per function), so JSON documents are sent as ``jsonb`` and
lists as arrays - in binary, so a thousand floats cost no text formatting on either side.

Driver errors are translated in :meth:`PostgresTransport._translate` only: a lost or refused
connection becomes :class:`TransportUnavailable`, anything the database reports becomes
:meth:`DatabaseError.from_driver`. One connection, guarded by a lock, serves every thread (the
background writer and the heartbeat).

Example::

    t = PostgresTransport("postgresql://postgres@localhost/postgres")
    row = t.rpc("start_session", {"session_name": "run", "model_type": "yolov8n", "epochs": 3})
    t.close()
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.adapt import PyFormat
from psycopg.rows import dict_row, tuple_row

from mltrack_sdk.errors import DatabaseError, database_error
from mltrack_sdk.transports.base import TransportUnavailable
from mltrack_sdk.transports.pg_arrays import BinaryArray, BinaryArrayDumper, encode_array
from mltrack_sdk.transports.pg_reads import STREAM_CHUNK_ROWS as STREAM_CHUNK_ROWS
from mltrack_sdk.transports.pg_reads import PostgresReads

if TYPE_CHECKING:
    from mltrack_sdk.connect import Target
    from mltrack_sdk.live import ChangeSource

#: Connection failures that retrying cannot fix, by the server's message (libpq reports no
#: SQLSTATE for a failed connection) -> the SQLSTATE they stand for. Servers that send these
#: messages translated (lc_messages) are retried like any other failure.
_PERMANENT_CONNECT = (
    (re.compile(r'database "[^"]*" does not exist|no such database'), "3D000"),
    (re.compile(r"password authentication failed|no password supplied"), "28P01"),
    (
        re.compile(
            r'authentication failed for user|role "[^"]*" does not exist|no pg_hba\.conf entry'
            r"|is not permitted to log in"
            # PgBouncer and Supavisor word it their own way.
            r'|"[a-z0-9-]+" authentication failed|no such user'
        ),
        "28000",
    ),
)
_PERMANENT_SQLSTATES = frozenset(code for _, code in _PERMANENT_CONNECT)


def permanent_connect_error(exc: Exception) -> DatabaseError | None:
    """The error to raise for a connection failure that retrying cannot fix (wrong password or
    user, no such database); None for one that may pass (server down, network)::

        permanent_connect_error(exc)  # DatabaseError(sqlstate="3D000") for a wrong db name
    """
    message = " ".join(str(exc).split())
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate not in _PERMANENT_SQLSTATES:
        sqlstate = next((code for rx, code in _PERMANENT_CONNECT if rx.search(message)), None)
    if sqlstate is None:
        return None
    return database_error(sqlstate, f"cannot connect: {message}")


#: Supabase's transaction pooler (Supavisor) listens on this port; 5432 is its session mode.
TRANSACTION_POOLER_PORT = 6543


def is_transaction_pooler(url: str) -> bool:
    """True for a URL of Supabase's transaction pooler (port 6543), where each transaction may
    run on another server connection: no LISTEN, no session state. Every SQL API call and read
    works there; the live feed needs a session connection::

        is_transaction_pooler("postgresql://u:p@aws-0-eu.pooler.supabase.com:6543/postgres")  # True
    """
    from psycopg.conninfo import conninfo_to_dict

    try:
        port = conninfo_to_dict(url).get("port")
    except psycopg.ProgrammingError:
        return False
    return str(port) == str(TRANSACTION_POOLER_PORT)


#: The names of the zone UTC (links to Etc/UTC in the tz database) other than "UTC" itself, the
#: one name psycopg decodes ``timestamptz`` for without a zone conversion per value (about a
#: microsecond each: a fifth of a 10,000-epoch read). A session in one of them is set to "UTC":
#: the same offsets, the same text output, only the name differs.
_UTC_ALIASES = frozenset(
    name.casefold()
    for name in ("Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu")
)


def name_utc_as_utc(conn: psycopg.Connection[Any]) -> None:
    """Sets the session of ``conn`` to the zone "UTC" when it is in UTC under another name
    (see ``_UTC_ALIASES``); leaves any other zone as it is::

        name_utc_as_utc(psycopg.connect(url, autocommit=True))
    """
    zone = conn.info.parameter_status("TimeZone") or ""
    if zone.casefold() in _UTC_ALIASES:
        conn.execute("set time zone 'UTC'")


#: SQLSTATE classes that mean "the server went away or is not accepting work right now".
_UNAVAILABLE_CLASSES = ("08", "57", "53", "58")


@dataclass(frozen=True)
class _Signature:
    arg_types: dict[str, str]
    returns_set: bool
    returns_row: bool


class PreparedCall(dict[str, Any]):
    """A call's arguments (the dict itself) and its statement, composed and encoded ahead by
    :meth:`PostgresTransport.prepare`."""

    def __init__(
        self, args: Mapping[str, Any], function: str, query: sql.Composed, params: list[Any]
    ) -> None:
        super().__init__(args)
        self.function, self.query, self.params = function, query, params


class PostgresTransport(PostgresReads):
    """Calls the SQL API over psycopg 3. Thread-safe."""

    name = "postgres"
    #: psycopg sends Python lists as typed Postgres arrays, in binary.
    batch_encoding = "columns"

    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._signatures: dict[str, _Signature] = {}
        self._relation_types: dict[str, dict[str, str]] = {}

    # -- connection -------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[dict[str, Any]]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            self._conn = None
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=max(1, round(self.connect_timeout)),
                application_name="mltrack_sdk",
                # No server-side prepared statements: behind a transaction pooler (Supabase's
                # port 6543, PgBouncer) each transaction may run on another server connection,
                # where "_pg3_0" is missing or already another client's.
                prepare_threshold=None,
            )
            conn.adapters.register_dumper(BinaryArray, BinaryArrayDumper)
            name_utc_as_utc(conn)
            self._conn = conn
        return conn

    def _translate(self, exc: psycopg.Error) -> Exception:
        """The one place where driver errors become mltrack errors."""
        permanent = permanent_connect_error(exc)
        if permanent is not None:
            # Wrong password, user or database: retrying cannot help, so say so.
            self._discard()
            return permanent
        sqlstate = getattr(exc, "sqlstate", None) or ""
        lost = isinstance(exc, psycopg.InterfaceError) or (
            isinstance(exc, psycopg.OperationalError)
            and (not sqlstate or sqlstate[:2] in _UNAVAILABLE_CLASSES)
        )
        if lost or (self._conn is not None and (self._conn.closed or self._conn.broken)):
            self._discard()
        if lost:
            return TransportUnavailable(f"cannot reach the database: {' '.join(str(exc).split())}")
        if not sqlstate:
            # The driver refused the request before sending it (a NUL byte in a text, say):
            # sending it again cannot help, so it is a data exception, never an outage.
            return database_error(
                "22000" if isinstance(exc, psycopg.DataError) else "42000",
                " ".join(str(exc).split()),
            )
        return DatabaseError.from_driver(exc)

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                return  # a broken socket: nothing left to release

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver errors inside become mltrack errors (see :meth:`_translate`)."""
        try:
            yield
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        except UnicodeEncodeError as exc:
            # A lone surrogate in a text: the request cannot be encoded, now or later.
            raise database_error(
                "22021",
                f"a text is not valid Unicode: {exc.reason} ({exc.object[exc.start]!r})",
            ) from exc

    def _execute(
        self, query: sql.Composed | sql.SQL, params: Sequence[Any], *, tuples: bool = False
    ) -> list[Any]:
        """Rows as dicts; with ``tuples``, as tuples in binary format (C loaders, no dicts)."""
        with self._lock, self._translated():
            conn = self._connection()
            if tuples:
                cur = conn.cursor(binary=True, row_factory=tuple_row).execute(query, params)
            else:
                cur = conn.execute(query, params)
            return cur.fetchall() if cur.description is not None else []

    # -- the protocol -----------------------------------------------------------------------

    def _signature(self, function: str) -> _Signature:
        found = self._signatures.get(function)
        if found is not None:
            return found
        rows = self._execute(
            sql.SQL(
                "select p.proretset, t.typtype = 'c' as returns_row, p.proargnames,"
                " array(select format_type(a, null) from unnest(p.proargtypes) a) as arg_types"
                " from pg_proc p join pg_type t on t.oid = p.prorettype"
                " where p.pronamespace = 'public'::regnamespace and p.proname = %s"
            ),
            (function,),
        )
        if len(rows) != 1:
            raise DatabaseError(
                f"{function}() is not a function of the mltrack SQL API"
                " (are the migrations applied?)",
                sqlstate="42883",
            )
        row = rows[0]
        names = row["proargnames"] or []
        found = _Signature(
            dict(zip(names, row["arg_types"], strict=False)),
            bool(row["proretset"]),
            bool(row["returns_row"]),
        )
        self._signatures[function] = found
        return found

    def prepare(self, function: str, args: Mapping[str, Any]) -> PreparedCall | None:
        """``args`` with their statement already composed and encoded, for :meth:`rpc` to send
        as it is: the writer encodes the next batch while the one before is on the wire. None
        when the function's argument types are not known yet (:meth:`rpc` reads them), or when
        an argument is not one of the function's, or cannot be encoded (:meth:`rpc` reports it).
        """
        signature = self._signatures.get(function)
        if signature is None or not args.keys() <= signature.arg_types.keys():
            return None
        try:
            return PreparedCall(args, function, *self._compose(function, signature, args))
        except (TypeError, ValueError, RecursionError):  # json cannot encode a value: rpc() fails
            return None  # on it where it is sent, and the batch's bad rows are isolated there

    def _compose(
        self, function: str, signature: _Signature, args: Mapping[str, Any]
    ) -> tuple[sql.Composed, list[Any]]:
        parts: list[sql.Composable] = []
        params: list[Any] = []
        for key, value in args.items():
            type_name = signature.arg_types.get(key)
            if type_name is None:
                raise DatabaseError(
                    f"{function}() has no argument {key!r}", sqlstate="42883", field=key
                )
            placeholder = sql.Placeholder()
            if type_name in ("jsonb", "json") and value is not None:
                value = json.dumps(value, allow_nan=True, separators=(",", ":"))
            elif (encoded := encode_array(type_name, value)) is not None:
                placeholder, value = sql.Placeholder(format=PyFormat.BINARY), encoded
            elif type_name in ("jsonb[]", "json[]") and value is not None:
                value = [
                    None if v is None else json.dumps(v, allow_nan=True, separators=(",", ":"))
                    for v in value
                ]
            elif type_name.endswith("[]") and value:
                placeholder = sql.Placeholder(format=PyFormat.BINARY)
            parts.append(
                sql.SQL("{} => {}::{}").format(sql.Identifier(key), placeholder, sql.SQL(type_name))
            )
            params.append(value)
        query = sql.SQL("select * from public.{}({})").format(
            sql.Identifier(function), sql.SQL(", ").join(parts)
        )
        return query, params

    def rpc(self, function: str, args: Mapping[str, Any]) -> Any:
        """Call ``public.<function>`` with named arguments (see the Transport protocol); ``args``
        may be what :meth:`prepare` made of them."""
        signature = self._signature(function)
        if type(args) is PreparedCall and args.function == function:
            query, params = args.query, args.params
        else:
            query, params = self._compose(function, signature, args)
        rows = self._execute(query, params)
        if signature.returns_row and not signature.returns_set:
            return rows[0] if rows else None
        if signature.returns_set:
            return [r if signature.returns_row else next(iter(r.values())) for r in rows]
        return next(iter(rows[0].values())) if rows else None

    def close(self) -> None:
        """Close the connection (a later call opens a new one).

        A call in flight on another thread is cancelled first (it then fails with
        :class:`TransportUnavailable`), so closing never waits on a hanging database.
        """
        if not self._lock.acquire(timeout=0.5):
            conn = self._conn
            if conn is not None:
                # When the server is gone the call in flight fails on its own.
                with contextlib.suppress(psycopg.Error):
                    conn.cancel_safe(timeout=1.0)
            if not self._lock.acquire(timeout=1.0):
                # Still stuck (e.g. connecting): that thread discards its own connection.
                return
        try:
            self._discard()
        finally:
            self._lock.release()


def open_transport(target: Target) -> PostgresTransport:
    """The transport to ``target.database_url`` (a direct or pooler URL)."""
    assert target.database_url is not None
    return PostgresTransport(target.database_url)


def open_change_source(
    target: Target, tables: Collection[str] | None = None, **options: Any
) -> ChangeSource:
    """LISTEN on ``mltrack_changes`` (a session connection; see :class:`PostgresSource`)."""
    from mltrack_sdk.live_postgres import PostgresSource

    assert target.database_url is not None
    return PostgresSource(target.database_url, tables=tables, **options)
