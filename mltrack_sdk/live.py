"""Live change feeds: one :class:`ChangeFeed`, two sources.

A source watches the database and hands every change to ``emit`` as a :class:`Change`; the feed
runs it on a background thread and queues the changes for the reader::

    from mltrack_sdk.live import change_feed

    with change_feed("postgresql://postgres@localhost/postgres") as feed:
        for change in feed:                      # blocks; ends when the feed is closed
            if change.table == "training_metrics":
                print(change.ids["session_id"], change.ids.get("max_epoch"))

Sources:

- ``mltrack_sdk.live_postgres.PostgresSource`` (a database URL): ``LISTEN mltrack_changes``, fed
  by the triggers in the metrics-triggers migration. Payloads carry ids, not rows, so
  ``Change.row`` is ``None``. Re-exported here, with ``parse_notification`` and ``CHANNEL``.
- ``mltrack_sdk.live_realtime.RealtimeSource`` (a Supabase URL and key): Supabase Realtime
  ``postgres_changes``; imported only when used.

A source implements :class:`ChangeSource`: ``run(emit, stop)`` blocks until ``stop`` is set,
reconnects by itself, and raises only for trouble that retrying cannot fix.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mltrack_sdk.errors import MltrackError

if TYPE_CHECKING:
    from mltrack_sdk.live_postgres import CHANNEL, PostgresSource, parse_notification

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
    help (the feed then re-raises the error to its reader). A source may also have
    ``wait_ready(timeout) -> bool`` (see :meth:`ChangeFeed.wait_ready`): True while it is
    connected and caught up, False while its connection is down.
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
        """Block until the source receives changes; False on a timeout, or if the source cannot
        tell (it has no ``wait_ready``). Both sources mean the same by it: connected, listening
        and caught up; it turns False again while their connection is down (a reader shows
        "reconnecting" then) and True once the catch-up after the reconnect is emitted::

            feed = change_feed(url)
            feed.wait_ready(10)   # changes made from now on are delivered
        """
        wait = getattr(self.source, "wait_ready", None)
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


def change_feed(
    database_url: str | None = None,
    *,
    supabase_url: str | None = None,
    supabase_key: str | None = None,
    access_token: str | Callable[[], str] | None = None,
    tables: Collection[str] | None = None,
    **options: Any,
) -> ChangeFeed:
    """A started :class:`ChangeFeed` over Postgres (``database_url``) or Supabase Realtime.

    With neither given, the SDK's configuration decides (:func:`mltrack_sdk.connect.resolve_target`:
    ``$MLTRACK_DATABASE_URL``, ``$SUPABASE_URL`` + ``$SUPABASE_KEY``, the ``mltrack up``
    database). ``options`` go to the source (e.g. ``backoff_initial`` for
    :class:`PostgresSource`)::

        with change_feed(supabase_url=url, supabase_key=anon_key, access_token=jwt) as feed:
            change = feed.get(timeout=10)
    """
    from mltrack_sdk.connect import backend_of, resolve_target

    # The same rule as writes and reads: arguments, $MLTRACK_DATABASE_URL, $SUPABASE_URL +
    # $SUPABASE_KEY, then the database of `mltrack up`.
    target = resolve_target(
        database_url,
        supabase_url=supabase_url,
        supabase_key=supabase_key,
        access_token=access_token,
    )
    return ChangeFeed(backend_of(target).open_change_source(target, tables, **options))


# live_postgres imports this module's types, so its names are loaded on first use (PEP 562).
_FROM_LIVE_POSTGRES = ("CHANNEL", "PostgresSource", "parse_notification")


def __getattr__(name: str) -> Any:
    if name in _FROM_LIVE_POSTGRES:
        from mltrack_sdk import live_postgres

        return getattr(live_postgres, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
