"""The background threads of a session: the writer (queue -> batches -> SQL API) and the heartbeat.

The training thread only puts items on a :class:`queue.SimpleQueue`: an epoch row (a ``dict``), a
call (``_Call``) or a flush marker (``threading.Event``). The writer sends epoch rows in batches of
up to ``max_batch`` rows, waiting at most ``flush_interval`` seconds for a batch to fill, and other
calls in the order they were made. On the direct transport a batch goes as ``log_epoch_columns``
(one typed array per field: no JSON to encode here or to walk in the database); otherwise, and
in the spool, it is a ``log_epochs`` call with a JSON array of rows.

When the backend cannot be reached (or fails transiently) the writer goes *offline*: every call is
appended to the durable spool instead, in order, and the spool is replayed with backoff until it
is empty. A call the database rejects for good goes to the dead-letter file. Neither thread ever
raises into training: they leave notes that the session turns into warnings on the training
thread (a warning raised in a background thread would be lost, or fatal under ``-W error``).

The heartbeat keeps trying through an outage (every ``min(interval, 1 s)`` until one gets through)
and wakes the offline writer as soon as the database answers, so a run that survives a short
outage is not taken for dead. Whichever thread notices an outage first warns, once per outage
(:class:`Outage`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mltrack_sdk.checks import METRIC_KINDS
from mltrack_sdk.errors import DatabaseError, is_permanent
from mltrack_sdk.spool import Spool, merge_rows
from mltrack_sdk.transports.base import Transport, TransportUnavailable

log = logging.getLogger("mltrack_sdk")

_MIN_BACKOFF = 0.2
_MAX_BACKOFF = 5.0
#: How often the heartbeat retries while it cannot get through (at most its interval).
_HEARTBEAT_RETRY = 1.0


@dataclass(frozen=True)
class _Call:
    function: str
    args: dict[str, Any]


_STOP = object()
_WAKE = object()


class Outage:
    """One warning per outage, from whichever thread (writer or heartbeat) notices it first.

    ``begin(reason)`` notes the outage unless one is already under way; ``end()`` closes it.
    """

    def __init__(
        self, note: Callable[[str], None], message: Callable[[str], str], *, down: bool
    ) -> None:
        self._note = note
        self._message = message
        self._lock = threading.Lock()
        self.down = down

    def begin(self, reason: str) -> None:
        with self._lock:
            if self.down:
                return
            self.down = True
        self._note(self._message(reason))

    def end(self) -> None:
        self.down = False


class Writer(threading.Thread):
    """Sends one session's queued writes; see the module docstring."""

    def __init__(
        self,
        session_id: str,
        transport: Transport,
        spool: Spool,
        note: Callable[[str], None],
        *,
        offline: bool = False,
        flush_interval: float = 0.2,
        max_batch: int = 1000,
        replay_others: bool = True,
    ) -> None:
        super().__init__(name=f"mltrack-writer-{session_id[:8]}", daemon=True)
        self.session_id = session_id
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._transport = transport
        self._spool = spool
        self._note = note
        self.offline = offline
        self._flush_interval = flush_interval
        self._max_batch = max_batch
        self._replay_others = replay_others
        # psycopg sends Python lists as Postgres arrays; PostgREST (supabase) keeps the JSON call.
        self._columns = transport.name == "postgres"
        self._backoff = _MIN_BACKOFF
        self._retry_at = time.monotonic() if offline else float("inf")
        #: Shared with the heartbeat; an offline start was already reported by start_session().
        self.outage = Outage(
            note,
            lambda reason: (
                f"backend unavailable ({reason}); logging continues into the spool"
                f" {spool.path(session_id)} and is sent when it is back (or by `mltrack sync`)"
            ),
            down=offline,
        )
        #: Set by the session when finish() gave up waiting: the writer stops sending.
        self.abandoned = False

    # -- called from the training thread ----------------------------------------------------

    def call(self, function: str, args: dict[str, Any]) -> None:
        self.queue.put(_Call(function, args))

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is sent or spooled; False on timeout."""
        done = threading.Event()
        self.queue.put(done)
        return done.wait(timeout)

    def stop(self) -> None:
        self.queue.put(_STOP)

    def wake(self) -> None:
        """Retry the spool now (the heartbeat got an answer: the database is back)."""
        self.queue.put(_WAKE)

    def drain_to_spool(self) -> int:
        """Spool what is still queued (after finish() timed out); returns the number of calls."""
        rows: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if type(item) is dict:
                rows.append(item)
            elif isinstance(item, _Call):
                if rows:
                    calls.append(self._epochs_call(rows))
                    rows = []
                calls.append({"function": item.function, "args": item.args})
            elif isinstance(item, threading.Event):
                item.set()
        if rows:
            calls.append(self._epochs_call(rows))
        self._spool.append(self.session_id, calls)
        return len(calls)

    # -- the thread -------------------------------------------------------------------------

    def _epochs_call(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "function": "log_epochs",
            "args": {"session_id": self.session_id, "metrics": merge_rows(rows)},
        }

    def run(self) -> None:
        if self._replay_others:
            self._replay_other_sessions()
        rows: list[dict[str, Any]] = []
        deadline = float("inf")
        while True:
            now = time.monotonic()
            timeout = min(deadline, self._retry_at) - now
            try:
                item = (
                    self.queue.get(timeout=max(0.0, timeout)) if timeout < 1e9 else self.queue.get()
                )
            except queue.Empty:
                item = None
            if self.abandoned:
                # finish() gave up waiting and spooled the queue; keep the batch in hand too.
                held = [*([self._epochs_call(rows)] if rows else [])]
                if isinstance(item, _Call):
                    held.append({"function": item.function, "args": item.args})
                elif type(item) is dict:
                    held.append(self._epochs_call([item]))
                self._spool.append(self.session_id, held)
                return
            if item is _WAKE:
                if self.offline:
                    self._retry()
                continue
            if type(item) is dict:
                rows.append(item)
                if len(rows) == 1:
                    deadline = time.monotonic() + self._flush_interval
                if len(rows) < self._max_batch and time.monotonic() < deadline:
                    continue
                self._send_rows(rows)
                rows, deadline = [], float("inf")
                continue
            if item is None:  # a timeout: the batch is due, or a retry
                if rows and time.monotonic() >= deadline:
                    self._send_rows(rows)
                    rows, deadline = [], float("inf")
                if self.offline and time.monotonic() >= self._retry_at:
                    self._retry()
                continue
            # A call, a flush marker or stop: everything before it goes first.
            if rows:
                self._send_rows(rows)
                rows, deadline = [], float("inf")
            if isinstance(item, _Call):
                self._send({"function": item.function, "args": item.args})
            elif isinstance(item, threading.Event):
                if self.offline:
                    self._retry()
                item.set()
            elif item is _STOP:
                return

    def _send_rows(self, rows: list[dict[str, Any]]) -> None:
        call = self._epochs_call(rows)
        if self._columns and not self.offline:
            columns = _columns(self.session_id, call["args"]["metrics"])
            self._send(call, ("log_epoch_columns", columns))
        else:
            self._send(call)

    def _send(self, call: dict[str, Any], wire: tuple[str, dict[str, Any]] | None = None) -> None:
        """Send ``call`` (as ``wire``, an equivalent call, when given); spool or dead-letter
        ``call`` itself when that fails."""
        if self.offline:
            self._spool.append(self.session_id, [call])
            return
        function, args = wire or (call["function"], call["args"])
        try:
            self._transport.rpc(function, args)
        except TransportUnavailable as exc:
            self._go_offline(call, exc.message)
        except DatabaseError as exc:
            if is_permanent(exc):
                self._dead_letter(call, exc.message, exc.sqlstate)
            else:
                self._go_offline(call, exc.message)
        except Exception as exc:  # a bug or unencodable value must not kill the writer
            log.exception("mltrack writer: %s() failed", call["function"])
            self._dead_letter(call, f"{type(exc).__name__}: {exc}", None)

    def _dead_letter(self, call: dict[str, Any], message: str, sqlstate: str | None) -> None:
        self._spool.dead_letter(call, message, sqlstate)
        self._note(
            f"the database rejected {call['function']}() of session {self.session_id}: {message}"
            f" (kept in {self._spool.dead_letter_path})"
        )

    def _go_offline(self, call: dict[str, Any], reason: str) -> None:
        self._spool.append(self.session_id, [call])
        self.offline = True
        self._backoff = _MIN_BACKOFF
        self._retry_at = time.monotonic() + self._backoff
        if self.abandoned:
            return  # finish() gave up on the backend and reports what is spooled
        self.outage.begin(reason)

    def _retry(self) -> None:
        try:
            result = self._spool.replay(self._transport, self.session_id)
        except (TransportUnavailable, DatabaseError) as exc:
            self._backoff = min(self._backoff * 2, _MAX_BACKOFF)
            self._retry_at = time.monotonic() + self._backoff
            log.info("mltrack writer: backend still unavailable (%s)", exc)
            return
        self.offline = False
        self._retry_at = float("inf")
        self.outage.end()
        log.info("mltrack writer: back online, replayed %d spooled call(s)", result.sent)
        for message in result.errors or []:
            self._note(
                f"the database rejected a spooled call of session {self.session_id}: {message}"
            )

    def _replay_other_sessions(self) -> None:
        """Send what earlier runs spooled (a crash, an outage that outlasted them)."""
        try:
            result = self._spool.replay_all(self._transport, skip={self.session_id})
        except (TransportUnavailable, DatabaseError) as exc:
            log.info("mltrack writer: spooled calls of earlier runs not sent yet (%s)", exc)
            return
        except OSError as exc:
            self._note(f"cannot read the spool {self._spool.root}: {exc}")
            return
        if result.sent:
            log.info("mltrack writer: sent %d call(s) spooled by earlier runs", result.sent)


def _columns(session_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The arguments of ``log_epoch_columns`` for epoch rows: one list per field that any row
    gives (a row without it gets None, which keeps the stored value, as in ``log_epochs``)."""
    present = set().union(*rows)
    args: dict[str, Any] = {"session_id": session_id, "epoch": [row["epoch"] for row in rows]}
    for field in (*METRIC_KINDS, "extra"):
        if field in present:
            values = [row.get(field) for row in rows]
            if values.count(None) < len(values):  # a column of nulls changes nothing
                args[field] = values
    return args


class Heartbeat(threading.Thread):
    """Calls ``heartbeat(session_id)`` every ``interval`` seconds; its answer sets
    stop_requested. Through an outage it retries every ``min(interval, 1 s)`` (see the module
    docstring)."""

    def __init__(
        self,
        session_id: str,
        transport: Transport,
        interval: float,
        on_stop: Callable[[], None],
        writer: Writer,
    ) -> None:
        super().__init__(name=f"mltrack-heartbeat-{session_id[:8]}", daemon=True)
        self.session_id = session_id
        self._transport = transport
        self._interval = interval
        self._on_stop = on_stop
        self._writer = writer
        self.stopped = threading.Event()

    def beat(self) -> bool | None:
        """One heartbeat (from the training thread); None when it was not delivered. While the
        writer is offline nothing is sent: the training thread never waits on a dead backend."""
        if self._writer.offline:
            return None
        return self._beat()[1]

    def _beat(self) -> tuple[bool, bool | None]:
        """Send one heartbeat; returns (retry soon, the answer or None)."""
        try:
            stop = bool(self._transport.rpc("heartbeat", {"session_id": self.session_id}))
        except TransportUnavailable as exc:
            log.info("mltrack heartbeat of %s not delivered: %s", self.session_id, exc)
            self._writer.outage.begin(exc.message)
            return True, None
        except DatabaseError as exc:
            log.info("mltrack heartbeat of %s not delivered: %s", self.session_id, exc)
            if not is_permanent(exc):
                self._writer.outage.begin(exc.message)
                return True, None
            # The database answered, so it is back; a run that started offline is not in it
            # until the writer has replayed its spool: wake the writer and try again soon.
            if self._writer.offline:
                self._writer.wake()
                return True, None
            return False, None
        self._writer.outage.end()
        if self._writer.offline:
            self._writer.wake()
        if stop:
            self._on_stop()
        return False, stop

    def run(self) -> None:
        while not self.stopped.is_set():
            retry, _ = self._beat()
            self.stopped.wait(min(self._interval, _HEARTBEAT_RETRY) if retry else self._interval)
