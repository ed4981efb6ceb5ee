"""Live change feeds: one :class:`ChangeFeed`, two sources.

A source watches the database and hands every change to ``emit`` as a :class:`Change`; the feed
runs it on a background thread and queues the changes for the reader::

    from mltrack_sdk.live import change_feed

    with change_feed("postgresql://postgres@localhost/postgres") as feed:
        for change in feed:                      # blocks; ends when the feed is closed
            if change.table == "training_metrics":
                print(change.ids["session_id"], change.ids.get("max_epoch"))

Sources:

- :class:`PostgresSource` (a database URL): ``LISTEN mltrack_changes``, fed by the triggers in
  the metrics-triggers migration. Payloads carry ids, not rows, so ``Change.row`` is ``None``.
- ``mltrack_sdk.live_realtime.RealtimeSource`` (a Supabase URL and key): Supabase Realtime
  ``postgres_changes``; imported only when used.

A source implements :class:`ChangeSource`: ``run(emit, stop)`` blocks until ``stop`` is set,
reconnects by itself, and raises only for trouble that retrying cannot fix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Protocol

from mltrack_sdk.errors import MltrackError

logger = logging.getLogger(__name__)

#: The pg_notify channel the triggers send on.
CHANNEL = "mltrack_changes"

#: Every table a feed can watch (the default).
TABLES: tuple[str, ...] = (
    "training_sessions",
    "training_metrics",
    "validation_results",
    "model_benchmarks",
    "training_datasets",
    "hyperparameter_runs",
)

Operation = Literal["INSERT", "UPDATE", "DELETE"]


@dataclass(frozen=True)
class Change:
    """One change of one table.

    ``ids`` names what changed: ``session_id`` (every table but datasets and hyperparameter
    runs), ``id`` (row tables), and for a batch of metrics ``min_epoch``, ``max_epoch`` and
    ``count``. ``row`` is the new row (old row for a DELETE) when the source has it - Supabase
    Realtime does, LISTEN/NOTIFY does not. ``catch_up`` marks a change synthesised after a
    reconnect (always an UPDATE, see :class:`PostgresSource`)::

        Change("training_sessions", "UPDATE", ids={"id": "...", "session_id": "..."})
    """

    table: str
    operation: Operation
    row: dict[str, Any] | None = None
    ids: dict[str, Any] = field(default_factory=dict)
    commit_time: datetime | None = None
    catch_up: bool = False

    @property
    def session_id(self) -> str | None:
        """The session the change belongs to, if any (as text)."""
        value = self.ids.get("session_id")
        return None if value is None else str(value)


Emit = Callable[[Change], None]


class ChangeSource(Protocol):
    """What a :class:`ChangeFeed` runs on its thread.

    ``run`` calls ``emit(change)`` for every change, returns soon (within about a second) after
    ``stop`` is set, retries connection trouble by itself, and raises only when retrying cannot
    help (the feed then re-raises the error to its reader).
    """

    def run(self, emit: Emit, stop: threading.Event) -> None: ...


class FeedClosed(MltrackError):
    """The change feed is closed."""


_END = object()


class ChangeFeed:
    """Runs a :class:`ChangeSource` on a daemon thread and queues its changes.

    Read with ``get(timeout)`` or by iterating; ``close()`` (or leaving the ``with`` block) stops
    the source and joins the thread. An error that stopped the source is raised by the next
    ``get``/``next`` once the changes queued before it are read::

        feed = ChangeFeed(PostgresSource(url))
        change = feed.get(timeout=5)   # None when nothing came in time
        feed.close()
    """

    def __init__(self, source: ChangeSource, *, join_timeout: float = 10.0) -> None:
        self.source = source
        self._queue: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._join_timeout = join_timeout
        self._thread = threading.Thread(target=self._run, name="mltrack-live", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.source.run(self._queue.put, self._stop)
        except BaseException as exc:
            self._error = exc
        finally:
            self._queue.put(_END)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the source receives changes; False on a timeout (or if the source cannot
        tell: it has neither ``wait_ready`` nor ``wait_subscribed``)::

            feed = change_feed(url)
            feed.wait_ready(10)   # changes made from now on are delivered
        """
        wait = getattr(self.source, "wait_ready", None) or getattr(
            self.source, "wait_subscribed", None
        )
        return bool(wait(timeout)) if wait is not None else False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._stop.is_set()

    def get(self, timeout: float | None = None) -> Change | None:
        """The next change; ``None`` if none came within ``timeout`` seconds (``None``: wait).

        Raises :class:`FeedClosed` when the feed is closed and drained, or the source's error.
        """
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self._queue.put(_END)  # every later get ends too
            if self._error is not None:
                raise self._error
            raise FeedClosed()
        assert isinstance(item, Change)
        return item

    def __iter__(self) -> Iterator[Change]:
        while True:
            try:
                change = self.get(timeout=0.5)
            except FeedClosed:
                return
            if change is not None:
                yield change

    def close(self) -> None:
        """Stop the source and wait for its thread (at most ``join_timeout`` seconds)."""
        self._stop.set()
        self._thread.join(self._join_timeout)

    def __enter__(self) -> ChangeFeed:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- Postgres: LISTEN/NOTIFY ------------------------------------------------------------------

#: Catch-up queries, per table: rows changed since ``%(since)s`` as (row json, ids json, time).
_CATCH_UP: Mapping[str, str] = {
    "training_sessions": """
        select to_jsonb(s) as row, jsonb_build_object('id', s.id, 'session_id', s.id) as ids,
               s.updated_at as at
          from public.training_sessions s where s.updated_at > %(since)s order by s.updated_at""",
    # A metrics write always touches its session (current epoch, heartbeat), and an upsert
    # stamps recorded_at, so the epochs written since then are found through both.
    "training_metrics": """
        select null::jsonb as row,
               jsonb_build_object('session_id', m.session_id, 'count', count(*),
                                  'min_epoch', min(m.epoch), 'max_epoch', max(m.epoch)) as ids,
               max(m.recorded_at) as at
          from public.training_metrics m
          join public.training_sessions s on s.id = m.session_id and s.updated_at > %(since)s
         where m.recorded_at > %(since)s
         group by m.session_id order by at""",
    "validation_results": """
        select null::jsonb as row,
               jsonb_build_object('session_id', v.session_id, 'count', count(*)) as ids,
               max(v.recorded_at) as at
          from public.validation_results v where v.recorded_at > %(since)s
         group by v.session_id order by at""",
    "model_benchmarks": """
        select to_jsonb(b) as row,
               jsonb_build_object('id', b.id, 'session_id', b.session_id) as ids, b.created_at as at
          from public.model_benchmarks b where b.created_at > %(since)s order by b.created_at""",
    "training_datasets": """
        select to_jsonb(d) as row, jsonb_build_object('id', d.id, 'session_id', null) as ids,
               d.updated_at as at
          from public.training_datasets d where d.updated_at > %(since)s order by d.updated_at""",
    "hyperparameter_runs": """
        select to_jsonb(h) as row, jsonb_build_object('id', h.id, 'session_id', null) as ids,
               h.updated_at as at
          from public.hyperparameter_runs h where h.updated_at > %(since)s order by h.updated_at""",
}


class _Watermark:
    """Server time when the listening connection was last known alive (None: never)."""

    value: datetime | None = None


def _server_now(conn: Any) -> datetime:
    row = conn.execute("select now()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def parse_notification(payload: str) -> Change | None:
    """The :class:`Change` of one ``mltrack_changes`` payload; ``None`` if it is not one.

    Example::

        parse_notification('{"table": "training_sessions", "op": "INSERT", "id": "...", ...}')
    """
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    table, op = data.pop("table", None), data.pop("op", None)
    if not isinstance(table, str) or op not in ("INSERT", "UPDATE", "DELETE"):
        return None
    return Change(table=table, operation=op, ids=data)


class PostgresSource:
    """Changes from a Postgres database through ``LISTEN mltrack_changes``.

    Uses its own autocommit connection. When the connection drops, it waits ``backoff_initial``
    seconds, then reconnects, doubling the wait after each failure up to ``backoff_max``.

    Catch-up: notifications sent while no one listened are lost, so after a reconnect the source
    asks the tables what changed since it last knew the connection alive (server time, checked
    every ``ping_interval`` seconds) minus ``catch_up_margin``, and emits each such row as a
    synthetic ``UPDATE`` with ``catch_up=True``: sessions, datasets and hyperparameter runs by
    ``updated_at``, metrics and validation results per session by ``recorded_at``, benchmarks by
    ``created_at``. A row may thus be reported twice (harmless: readers refetch what changed);
    deletes made while disconnected are not reported. The margin covers transactions that began
    before the watermark (``updated_at`` is the transaction's start) and committed after it::

        source = PostgresSource(url, tables={"training_sessions"}, backoff_initial=0.5)
        feed = ChangeFeed(source)
    """

    def __init__(
        self,
        database_url: str,
        *,
        tables: Collection[str] | None = None,
        poll_interval: float = 0.5,
        ping_interval: float = 5.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        catch_up_margin: timedelta = timedelta(seconds=10),
        connect_timeout: int = 5,
    ) -> None:
        self.database_url = database_url
        self.tables = frozenset(TABLES if tables is None else tables)
        unknown = self.tables - set(TABLES)
        if unknown:
            raise MltrackError(f"cannot watch unknown tables: {', '.join(sorted(unknown))}")
        self.poll_interval = poll_interval
        self.ping_interval = ping_interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.catch_up_margin = catch_up_margin
        self.connect_timeout = connect_timeout
        self._listening = threading.Event()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the source listens (and has caught up after a reconnect); False on a
        timeout. Cleared while the connection is down::

            assert source.wait_ready(10)
        """
        return self._listening.wait(timeout)

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Listen until ``stop`` is set; see the class docstring."""
        import psycopg

        mark = _Watermark()
        backoff = self.backoff_initial
        first = True
        while not stop.is_set():
            if not first and stop.wait(backoff):
                return
            first = False
            try:
                conn = psycopg.connect(
                    self.database_url,
                    autocommit=True,
                    connect_timeout=self.connect_timeout,
                    application_name="mltrack-live",
                )
            except psycopg.OperationalError as exc:
                logger.warning("live feed: cannot connect (retrying in %.1fs): %s", backoff, exc)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            try:
                self._listen(conn, emit, stop, mark)
                return
            except psycopg.OperationalError as exc:
                self._listening.clear()
                # This connection worked, so the next attempt starts from the shortest wait.
                backoff = self.backoff_initial
                logger.warning("live feed: connection lost (reconnecting): %s", exc)
            finally:
                with contextlib.suppress(psycopg.Error):
                    conn.close()

    def _listen(self, conn: Any, emit: Emit, stop: threading.Event, mark: _Watermark) -> None:
        conn.execute(f"listen {CHANNEL}")
        # Listening from here on: what changed before now and after the mark is caught up.
        now = _server_now(conn)
        if mark.value is not None:
            self._catch_up(conn, emit, mark.value - self.catch_up_margin)
        mark.value = now
        self._listening.set()
        next_ping = time.monotonic() + self.ping_interval
        while not stop.is_set():
            for notify in conn.notifies(timeout=self.poll_interval):
                change = parse_notification(notify.payload)
                if change is not None and change.table in self.tables:
                    emit(change)
                if stop.is_set():
                    return
            # A ping notices a dead connection that a quiet socket hides, and moves the mark.
            if time.monotonic() >= next_ping:
                mark.value = _server_now(conn)
                next_ping = time.monotonic() + self.ping_interval

    def _catch_up(self, conn: Any, emit: Emit, since: datetime) -> None:
        for table in TABLES:
            if table not in self.tables:
                continue
            for row, ids, at in conn.execute(_CATCH_UP[table], {"since": since}).fetchall():
                emit(
                    Change(
                        table=table,
                        operation="UPDATE",
                        row=row,
                        ids={k: v for k, v in ids.items() if v is not None},
                        commit_time=at,
                        catch_up=True,
                    )
                )


def change_feed(
    database_url: str | None = None,
    *,
    supabase_url: str | None = None,
    supabase_key: str | None = None,
    access_token: str | None = None,
    tables: Collection[str] | None = None,
    **options: Any,
) -> ChangeFeed:
    """A started :class:`ChangeFeed` over Postgres (``database_url``) or Supabase Realtime.

    With neither given, ``$MLTRACK_DATABASE_URL`` is used. ``options`` go to the source (e.g.
    ``backoff_initial`` for :class:`PostgresSource`)::

        with change_feed(supabase_url=url, supabase_key=anon_key, access_token=jwt) as feed:
            change = feed.get(timeout=10)
    """
    source: ChangeSource
    if database_url is None and supabase_url is None:
        from mltrack_sdk.config import database_url_from_env

        database_url = database_url_from_env()
    if database_url is not None:
        source = PostgresSource(database_url, tables=tables, **options)
    elif supabase_url is not None:
        if not supabase_key:
            raise MltrackError("supabase_key is required with supabase_url")
        from mltrack_sdk.live_realtime import RealtimeSource  # type: ignore[import-untyped,unused-ignore]

        source = RealtimeSource(
            supabase_url, supabase_key, access_token=access_token, tables=tables, **options
        )
    else:
        raise MltrackError(
            "No database to watch: pass database_url, or supabase_url and supabase_key,"
            " or set MLTRACK_DATABASE_URL"
        )
    return ChangeFeed(source)


__all__ = [
    "CHANNEL",
    "TABLES",
    "Change",
    "ChangeFeed",
    "ChangeSource",
    "FeedClosed",
    "PostgresSource",
    "change_feed",
    "parse_notification",
]
