"""The Supabase transport: SQL API calls and reads over PostgREST, with supabase-py.

``rpc`` is ``POST /rest/v1/rpc/<function>`` with the named arguments as a JSON object, ``select``
is ``GET /rest/v1/<relation>`` - the same SQL functions and views the Postgres transport uses, so
RLS and validation are the database's either way. supabase-py is imported only when a transport is
made, so ``import mltrack_sdk`` works without the ``supabase`` extra::

    transport = SupabaseTransport("https://xyz.supabase.co", service_role_key)
    session = transport.rpc("start_session", {"session_name": "run", "model_type": "yolov8n"})
    rows = transport.select("training_sessions", filters={"id": session["id"]})
    transport.close()
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mltrack_sdk.errors import DatabaseError, MltrackError, database_error
from mltrack_sdk.transports.base import Columns, TransportUnavailable

if TYPE_CHECKING:
    from postgrest.exceptions import APIError
    from supabase import Client

    from mltrack_sdk.connect import Target
    from mltrack_sdk.live import ChangeSource

#: PostgREST's own codes for "cannot reach / wait for the database" (PGRST000-PGRST003).
_UNAVAILABLE_CODES = frozenset({"PGRST000", "PGRST001", "PGRST002", "PGRST003"})
#: The access token has expired (PostgREST 12+; older servers say PGRST301 "JWT expired").
TOKEN_EXPIRED = "PGRST303"
#: What to authenticate with: a user's JWT, or a function returning the current one (called
#: again whenever PostgREST says it expired - a long run outlives the default one hour).
AccessToken = str | Callable[[], str]


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def jsonable(value: Any) -> Any:
    """``value`` with uuids, datetimes and decimals as JSON types (PostgREST casts them back)."""
    return json.loads(json.dumps(value, default=_json_default))


def api_error(exc: APIError) -> MltrackError:
    """The mltrack exception for a PostgREST error (the one place they are translated).

    Our SQL errors name the field in the error's ``column`` diagnostic, which PostgREST does not
    relay; their message starts with the field name, so it is read from there for MT codes.
    Gateway and PostgREST connection errors mean the backend is unreachable, not a refusal.
    """
    code = exc.code or None
    message = " ".join(str(exc.message or exc).split())
    if code == "PGRST301" and "expired" in message.lower():
        code = TOKEN_EXPIRED
    if code in _UNAVAILABLE_CODES or (
        code is not None and len(code) == 3 and code.isdigit() and int(code) >= 500
    ):
        return TransportUnavailable(f"Supabase is unavailable: {message} ({code})")
    field = None
    if code and code.startswith("MT") and message:
        first = message.split(maxsplit=1)[0].rstrip(":,.")
        field = first if first.replace("_", "").isalnum() else None
    details = exc.details
    detail = details if isinstance(details, str) or details is None else json.dumps(details)
    return database_error(code, message, hint=exc.hint or None, detail=detail, field=field)


class SupabaseTransport:
    """Calls the SQL API of a Supabase project through PostgREST.

    ``key`` is the project's API key (``service_role`` for a training machine, ``anon`` for a
    signed-in user together with ``access_token``, the user's JWT). ``timeout`` bounds each HTTP
    request; PostgREST's own retries are off because the SDK's writer retries and spools.
    ``page_size`` must not exceed the project's PostgREST ``max_rows`` (1,000 on hosted Supabase):
    reads are fetched in pages of that size, so none is silently cut at ``max_rows``.
    """

    name = "supabase"
    #: PostgREST passes JSON arguments; the JSON batch is the natural one.
    batch_encoding = "json"

    def __init__(
        self,
        url: str,
        key: str,
        *,
        access_token: AccessToken | None = None,
        schema: str = "public",
        timeout: float = 30.0,
        page_size: int = 1000,
    ) -> None:
        try:
            import httpx
            from supabase import create_client
            from supabase.lib.client_options import SyncClientOptions
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise MltrackError(
                "the Supabase transport needs supabase-py: pip install 'mltrack[supabase]'"
            ) from exc
        # Our own httpx client: the timeout is set on it (postgrest-py deprecates its own), and
        # close() knows what to close.
        self._http = httpx.Client(timeout=timeout, follow_redirects=True)
        options = SyncClientOptions(
            schema=schema,
            httpx_client=self._http,
            postgrest_client_retry=False,
            auto_refresh_token=False,
            persist_session=False,
        )
        self._token_provider = access_token if callable(access_token) else None
        token = access_token() if callable(access_token) else access_token
        if token:
            options.headers["Authorization"] = f"Bearer {token}"
        self.url = url
        self.page_size = page_size
        self._client: Client = create_client(url, key, options=options)

    def _execute(self, make: Callable[[], Any]) -> Any:
        """Run the request ``make()`` builds; once more with a fresh token when it expired."""
        try:
            return self._execute_once(make())
        except DatabaseError as exc:
            if exc.sqlstate != TOKEN_EXPIRED or self._token_provider is None:
                raise
            self._set_token(self._token_provider())
            return self._execute_once(make())

    def _set_token(self, token: str) -> None:
        self._client.options.headers["Authorization"] = f"Bearer {token}"
        self._client.postgrest.auth(token)

    def _execute_once(self, request: Any) -> Any:
        import httpx
        from postgrest.exceptions import APIError

        try:
            return request.execute().data
        except APIError as exc:
            raise api_error(exc) from exc
        except httpx.TransportError as exc:
            raise TransportUnavailable(f"cannot reach Supabase at {self.url}: {exc}") from exc

    def rpc(self, function: str, args: Mapping[str, Any]) -> Any:
        """Call SQL API ``function`` with named ``args`` (``POST /rest/v1/rpc/<function>``).

        A function returning one row gives a dict, ``setof`` a list, a scalar function its value::

            n = transport.rpc("log_epochs", {"session_id": sid, "metrics": [{"epoch": 0}]})
        """
        payload = jsonable(dict(args))
        return self._execute(lambda: self._client.rpc(function, payload))

    def select(
        self,
        relation: str,
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of a table or view; ``filters`` are equalities (a list or tuple value means IN)::

        transport.select("training_metrics", filters={"session_id": sid},
                         order=[("epoch", False)], limit=100)
        """

        def page_query(start: int, size: int) -> Any:
            query: Any = self._client.table(relation).select("*")
            for column, value in (filters or {}).items():
                if isinstance(value, list | tuple | set | frozenset):
                    query = query.in_(column, [jsonable(v) for v in value])
                elif value is None:
                    query = query.is_(column, "null")
                else:
                    query = query.eq(column, jsonable(value))
            for column, descending in order:
                query = query.order(column, desc=descending)
            return query.range(start, start + size - 1)

        rows: list[dict[str, Any]] = []
        # PostgREST caps every read at max_rows (1,000 by default): page until a short page.
        while limit is None or len(rows) < limit:
            want = self.page_size if limit is None else min(self.page_size, limit - len(rows))
            start = len(rows)
            page = list(self._execute(lambda s=start, w=want: page_query(s, w)) or [])
            rows += page
            if len(page) < want:
                break
        return rows

    def select_columns(
        self,
        relation: str,
        columns: Sequence[str],
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> Columns:
        """Only ``columns`` of the rows :meth:`select` returns, one list per column; the values
        are JSON as PostgREST sent them (``types`` is None: the caller parses them). The rows are
        read whole (``select=*``) and a column the relation lacks is refused (42703) only when a
        row comes back; the Postgres transport refuses it from the catalog, rows or not::

            transport.select_columns("training_metrics", ["epoch", "map50"],
                                     filters={"session_id": sid}, order=[("epoch", False)])
        """
        rows = self.select(relation, filters=filters, order=order, limit=limit)
        if rows:
            missing = [c for c in columns if c not in rows[0]]
            if missing:
                raise database_error(
                    "42703", f'{missing[0]}: column "{missing[0]}" of "{relation}" does not exist'
                )
        return Columns({c: [row[c] for row in rows] for c in columns})

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()


__all__ = ["SupabaseTransport", "api_error", "jsonable"]


def open_transport(target: Target) -> SupabaseTransport:
    """The transport to the project at ``target.supabase_url`` (PostgREST)."""
    assert target.supabase_url and target.supabase_key
    return SupabaseTransport(
        target.supabase_url, target.supabase_key, access_token=target.access_token
    )


def open_change_source(
    target: Target, tables: Collection[str] | None = None, **options: Any
) -> ChangeSource:
    """Supabase Realtime ``postgres_changes`` (see :class:`RealtimeSource`)."""
    from mltrack_sdk.live_realtime import RealtimeSource  # type: ignore[import-untyped,unused-ignore]

    assert target.supabase_url and target.supabase_key
    token = target.access_token() if callable(target.access_token) else target.access_token
    return RealtimeSource(
        target.supabase_url, target.supabase_key, access_token=token, tables=tables, **options
    )
