"""Changes from a Postgres database through ``LISTEN mltrack_changes``: :class:`PostgresSource`.

The triggers of the metrics-triggers migration ``pg_notify`` a JSON payload of ids (not rows) on
:data:`CHANNEL`; :func:`parse_notification` turns one into a :class:`~mltrack_sdk.live.Change`.
After a reconnect the source catches up on what it missed from the tables themselves::

    from mltrack_sdk.live import ChangeFeed
    from mltrack_sdk.live_postgres import PostgresSource

    with ChangeFeed(PostgresSource(url, tables={"training_sessions"})) as feed:
        change = feed.get(timeout=5)
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from mltrack_sdk.errors import MltrackError, database_error
from mltrack_sdk.live import TABLES, Change, Emit
from mltrack_sdk.transports.postgres import is_transaction_pooler, permanent_connect_error

logger = logging.getLogger(__name__)

#: The pg_notify channel the triggers send on.
CHANNEL = "mltrack_changes"

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
    seconds, then reconnects, doubling the wait after each failure up to ``backoff_max``. What
    retrying cannot fix is raised (to the feed's reader) instead: an invalid URL
    (:class:`MltrackError`), a failed authentication or a database that does not exist
    (:class:`DatabaseError` with SQLSTATE 28P01, 28000 or 3D000).

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

        if is_transaction_pooler(self.database_url):
            raise MltrackError(
                "live feed: the URL is Supabase's transaction pooler (port 6543), where LISTEN"
                " gets no notifications; use the session connection (port 5432), or"
                " SUPABASE_URL + SUPABASE_KEY for Realtime"
            )
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
                    prepare_threshold=None,
                )
            except psycopg.OperationalError as exc:
                permanent = permanent_connect_error(exc)
                if permanent is not None:
                    raise database_error(
                        permanent.sqlstate, f"live feed {permanent.message}"
                    ) from exc
                logger.warning("live feed: cannot connect (retrying in %.1fs): %s", backoff, exc)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            except psycopg.ProgrammingError as exc:  # a URL libpq cannot parse
                raise MltrackError(
                    f"live feed: invalid database URL: {' '.join(str(exc).split())}"
                ) from exc
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


__all__ = ["CHANNEL", "PostgresSource", "parse_notification"]
