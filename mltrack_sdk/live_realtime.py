"""Changes from Supabase Realtime ``postgres_changes`` as a :class:`~mltrack_sdk.live.ChangeSource`.

Realtime works only with supabase-py's async client, so :meth:`RealtimeSource.run` runs its own
event loop in the calling thread (the :class:`~mltrack_sdk.live.ChangeFeed` thread) until ``stop``
is set. supabase-py is imported there, never by ``import mltrack_sdk``::

    from mltrack_sdk.live import ChangeFeed
    from mltrack_sdk.live_realtime import RealtimeSource

    with ChangeFeed(RealtimeSource(url, anon_key, access_token=user_jwt)) as feed:
        change = feed.get(timeout=10)     # Change(table=..., operation=..., row={...}, ...)
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Collection
from datetime import datetime, timedelta, timezone
from typing import Any

from mltrack_sdk.errors import MltrackError
from mltrack_sdk.live import TABLES, Change, Operation
from mltrack_sdk.transports.base import TransportUnavailable

logger = logging.getLogger(__name__)

#: The column that says when a row last changed, per table (for the catch-up after a reconnect).
CHANGED_AT = {
    "training_sessions": "updated_at",
    "training_datasets": "updated_at",
    "hyperparameter_runs": "updated_at",
    "training_metrics": "recorded_at",
    "validation_results": "recorded_at",
    "model_benchmarks": "created_at",
}
#: Primary keys of the tables not keyed by ``id``.
_KEYS = {"training_metrics": ("session_id", "epoch")}
#: Tables whose rows are named by their own ``id`` (the others by session and epoch or class).
_ROW_TABLES = frozenset(
    {"training_sessions", "training_datasets", "hyperparameter_runs", "model_benchmarks"}
)


class RealtimeRefused(MltrackError):
    """Supabase Realtime refused the subscription (check the key, the token and the tables)."""


class _Lost(Exception):
    """The Realtime connection dropped; reconnect."""


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def ids_of(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The ``Change.ids`` of one row, named like :class:`~mltrack_sdk.live.PostgresSource`'s."""
    ids: dict[str, Any] = {}
    if table in _ROW_TABLES:
        ids["id"] = row.get("id")
    ids["session_id"] = row.get("id") if table == "training_sessions" else row.get("session_id")
    if table == "training_metrics" and row.get("epoch") is not None:
        ids.update(min_epoch=row["epoch"], max_epoch=row["epoch"], count=1)
    return {k: v for k, v in ids.items() if v is not None}


def change_of(payload: dict[str, Any]) -> Change | None:
    """The :class:`Change` of one ``postgres_changes`` payload (``None`` for one it can't read)."""
    data = payload.get("data") or {}
    table, op = data.get("table"), data.get("type")
    if not table or op not in ("INSERT", "UPDATE", "DELETE"):
        return None
    operation: Operation = op
    row = data.get("old_record") if op == "DELETE" else data.get("record")
    row = dict(row or {})
    return Change(
        table=table,
        operation=operation,
        row=row or None,
        ids=ids_of(table, row),
        commit_time=_parse_time(data.get("commit_timestamp")),
    )


class RealtimeSource:
    """Changes of ``tables`` from Supabase Realtime, one :class:`Change` per row event.

    ``key`` is the project's API key; ``access_token`` a signed-in user's JWT (Realtime applies
    RLS, so a user gets only rows they may read). When the connection drops, the source waits
    ``backoff_initial`` seconds, doubling up to ``backoff_max`` while attempts fail, subscribes
    again, and then catches up: it reads through PostgREST the rows changed since the last sign of
    life (subscription or event, minus ``catch_up_margin``) and emits each as an ``UPDATE`` with
    ``catch_up=True``. Rows may so be reported twice; deletes while disconnected are not reported.
    A refused subscription raises :class:`RealtimeRefused` (retrying cannot help).
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        access_token: str | None = None,
        tables: Collection[str] | None = None,
        schema: str = "public",
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        catch_up_margin: timedelta = timedelta(seconds=10),
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.key = key
        self.access_token = access_token
        self.tables = tuple(t for t in TABLES if tables is None or t in tables)
        unknown = set(tables or ()) - set(TABLES)
        if unknown:
            raise MltrackError(f"cannot watch unknown tables: {', '.join(sorted(unknown))}")
        self.schema = schema
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.catch_up_margin = catch_up_margin
        #: Rows per catch-up read: at most the project's PostgREST max_rows (1,000 by default).
        self.page_size = 1000
        self.timeout = timeout
        self._ready = threading.Event()
        self._mark: datetime | None = None

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the source is subscribed (and has caught up after a reconnect); False on
        a timeout. Cleared while the connection is down, as :class:`PostgresSource`'s::

            assert source.wait_ready(10)
        """
        return self._ready.wait(timeout)

    #: The former name of :meth:`wait_ready`.
    wait_subscribed = wait_ready

    def run(self, emit: Callable[[Change], None], stop: threading.Event) -> None:
        """Emit changes until ``stop`` is set (within about 0.1 s); see the class docstring."""
        asyncio.run(self._run(emit, stop))

    async def _run(self, emit: Callable[[Change], None], stop: threading.Event) -> None:
        import httpx
        from websockets.exceptions import WebSocketException

        retryable = (
            _Lost,
            OSError,
            TimeoutError,
            httpx.TransportError,
            TransportUnavailable,
            WebSocketException,
        )
        backoff = self.backoff_initial
        first = True
        while not stop.is_set():
            if not first and await _sleep(stop, backoff):
                return
            first = False
            try:
                await self._session(emit, stop)
                return
            except _Lost as exc:
                backoff = self.backoff_initial  # it worked until now: retry soon
                logger.warning("live feed: Realtime connection lost (reconnecting): %s", exc)
            except retryable as exc:
                backoff = min(backoff * 2, self.backoff_max)
                logger.warning("live feed: cannot reach Realtime (retrying): %s", exc)

    async def _session(self, emit: Callable[[Change], None], stop: threading.Event) -> None:
        import httpx
        from realtime import RealtimeSubscribeStates
        from realtime.types import RealtimePostgresChangesListenEvent as Listen
        from supabase import AsyncClientOptions, acreate_client
        from supabase.types import RealtimeClientOptions

        http = httpx.AsyncClient(timeout=self.timeout)
        options = AsyncClientOptions(
            schema=self.schema,
            httpx_client=http,
            postgrest_client_retry=False,
            auto_refresh_token=False,
            persist_session=False,
            # Reconnects are ours, so that each one is followed by a catch-up.
            realtime=RealtimeClientOptions(auto_reconnect=False, max_retries=1),
        )
        if self.access_token:
            options.headers["Authorization"] = f"Bearer {self.access_token}"
        client = await acreate_client(self.url, self.key, options=options)
        outcome: dict[str, Any] = {}
        ended = asyncio.Event()

        started = asyncio.Event()

        def on_state(status: Any, error: Exception | None) -> None:
            if status == RealtimeSubscribeStates.SUBSCRIBED:
                outcome["subscribed"] = True
            else:
                # realtime-py reports Realtime's "system" error (a subscription it cannot
                # start) as CHANNEL_ERROR with the payload: a refusal, not a lost link.
                refusal = _system_error(error)
                if refusal is not None:
                    outcome.setdefault("refused", refusal)
                    started.set()
                outcome.setdefault("failure", (status, error))
                ended.set()

        def on_system(payload: Any) -> None:
            # Realtime says "Subscribed to PostgreSQL" once changes are really flowing; the join
            # ack comes before that, and a change in between would be missed.
            if getattr(payload, "extension", None) == "postgres_changes":
                started.set()

        def on_change(payload: Any) -> None:
            change = change_of(payload)
            if change is not None and change.table in self.tables:
                self._mark = datetime.now(timezone.utc)
                emit(change)

        try:
            if self.access_token:
                await client.realtime.set_auth(self.access_token)
            channel = client.channel("mltrack-live")
            channel.on_system(on_system)
            for table in self.tables:
                channel.on_postgres_changes(Listen.All, on_change, table=table, schema=self.schema)
            await asyncio.wait_for(channel.subscribe(on_state), self.timeout + 1)
            if not outcome.get("subscribed"):
                status, error = outcome.get("failure", ("TIMED_OUT", None))
                if status == RealtimeSubscribeStates.CHANNEL_ERROR and not isinstance(
                    error, OSError | _connection_closed()
                ):
                    raise RealtimeRefused(f"Supabase Realtime refused the subscription: {error}")
                raise _Lost(f"subscription ended: {status} {error or ''}".strip())
            try:
                await asyncio.wait_for(started.wait(), self.timeout + 1)
            except TimeoutError as exc:
                raise _Lost("Realtime did not confirm the Postgres subscription") from exc
            if "refused" in outcome:
                raise RealtimeRefused(
                    f"Supabase Realtime cannot start the subscription: {outcome['refused']}"
                )
            # Subscribed: what changes from now on arrives as events; what changed while no
            # subscription was open is read back.
            since, self._mark = self._mark, datetime.now(timezone.utc)
            if since is not None:
                await self._catch_up(client, emit, since - self.catch_up_margin)
            self._ready.set()
            while not stop.is_set():
                if ended.is_set():
                    if "refused" in outcome:
                        raise RealtimeRefused(
                            f"Supabase Realtime stopped the subscription: {outcome['refused']}"
                        )
                    status, error = outcome["failure"]
                    raise _Lost(f"{status} {error or ''}".strip())
                await asyncio.sleep(0.1)
        finally:
            # Not subscribed any more: readers see the source as down until the next catch-up.
            self._ready.clear()
            try:
                await client.realtime.close()
            finally:
                await http.aclose()

    async def _catch_up(self, client: Any, emit: Callable[[Change], None], since: datetime) -> None:
        from postgrest.exceptions import APIError

        from mltrack_sdk.transports.supabase import api_error

        for table in self.tables:
            column = CHANGED_AT[table]
            rows: list[dict[str, Any]] = []
            # PostgREST returns at most max_rows rows a read: page, in a total order (a batch of
            # epochs shares one recorded_at, so the key breaks the ties).
            while True:
                query = client.table(table).select("*").gt(column, since.isoformat()).order(column)
                for key in _KEYS.get(table, ("id",)):
                    query = query.order(key)
                query = query.range(len(rows), len(rows) + self.page_size - 1)
                try:
                    page = (await query.execute()).data or []
                except APIError as exc:
                    raise api_error(exc) from exc
                rows += page
                if len(page) < self.page_size:
                    break
            for row in rows:
                emit(
                    Change(
                        table=table,
                        operation="UPDATE",
                        row=row,
                        ids=ids_of(table, row),
                        commit_time=_parse_time(row.get(column)),
                        catch_up=True,
                    )
                )


def _system_error(error: Exception | None) -> str | None:
    """The message of a Realtime ``system`` error that realtime-py relayed as CHANNEL_ERROR."""
    try:
        payload = json.loads(str(error)) if error is not None else None
    except ValueError:
        return None
    if isinstance(payload, dict) and payload.get("status") == "error" and "extension" in payload:
        return str(payload.get("message") or payload)
    return None


def _connection_closed() -> type[BaseException]:
    from websockets.exceptions import ConnectionClosed

    return ConnectionClosed


async def _sleep(stop: threading.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True as soon as ``stop`` is set."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not stop.is_set():
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return False
        await asyncio.sleep(min(left, 0.1))
    return True


__all__ = ["CHANGED_AT", "RealtimeRefused", "RealtimeSource", "change_of", "ids_of"]
