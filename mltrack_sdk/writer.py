"""The session's writer thread: queue -> batches -> SQL API, or the spool when the backend is away.

The training thread only puts items on a :class:`queue.SimpleQueue`: an epoch row (a ``dict``), a
call (:class:`~mltrack_sdk.custody.QueuedCall`) or a flush marker (``threading.Event``). The
writer sends epoch rows in batches of up to ``max_batch`` rows, waiting at most
``flush_interval`` seconds for a batch to fill, and other calls in the order they were made.
While a batch is on the wire (on a helper thread, :mod:`mltrack_sdk.inflight`), the writer takes
the next one from the queue, encodes it and queues it behind the first on that thread, which
sends it as soon as the database answered the one before, and only if that one stored all its
rows: a session's calls still reach the database one at a time, in order, and the database does
not wait for Python between two batches. On
the direct transport a batch goes as ``log_epoch_columns`` (one typed array per field);
otherwise, and in the spool, it is a ``log_epochs`` call. A batch the database rejects for good
is split until the bad rows are alone (:func:`send_rows_isolating`): the good rows land, and
each bad row goes to the dead-letter file with its own reason.

When the backend cannot be reached (or fails transiently) the writer goes *offline*: every call
is appended to the durable spool instead, in order, and the spool is replayed with backoff. When
the spool cannot be written (disk full, read-only, I/O error) calls are held in memory, in order,
and spooled or sent at each retry. Where a call not sent yet is, and how finish() takes the calls
over from a writer blocked on a hung link without breaking their order: :mod:`mltrack_sdk.custody`.

The thread never raises into training and never dies of trouble: it leaves notes (one per kind of
trouble) that the session raises as warnings on the training thread (a warning raised in a
background thread would be lost, or fatal under ``-W error``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from mltrack_sdk.batches import epoch_columns, send_rows_isolating
from mltrack_sdk.custody import WAKE, Abandoned, Call, Custody, QueuedCall, describe
from mltrack_sdk.errors import DatabaseError, Outcome, classify
from mltrack_sdk.heartbeat import Outage
from mltrack_sdk.inflight import InFlight, Job
from mltrack_sdk.spool import Spool
from mltrack_sdk.transports.base import Transport, TransportUnavailable

log = logging.getLogger("mltrack_sdk")

_MIN_BACKOFF = 0.2
_MAX_BACKOFF = 5.0
_STOP = object()


class Writer(Custody, threading.Thread):
    """Sends one session's queued writes; see the module docstring.

    ``held``: calls start_session() could not spool (they go first); ``on_finished``: called
    with the row ``finish_session`` returned, when the writer sent it.
    """

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
        held: list[Call] | None = None,
        on_finished: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        threading.Thread.__init__(self, name=f"mltrack-writer-{session_id[:8]}", daemon=True)
        Custody.__init__(self, session_id, spool, note, held)
        self._transport = transport
        self._on_finished = on_finished
        self.offline = offline or bool(held)
        self._flush_interval = flush_interval
        self._max_batch = max_batch
        self._replay_others = replay_others
        # The backend says how it takes a batch; a transport of someone else's sends JSON.
        self._columns = getattr(transport, "batch_encoding", "json") == "columns"
        self._sender = InFlight(f"mltrack-send-{session_id[:8]}")
        #: The next batch, encoded and queued on the sender behind the call on the wire.
        self._next: tuple[Call, Job] | None = None
        #: Batches taken and encoded while the one before was on the wire.
        self.overlapped = 0
        self._backoff = _MIN_BACKOFF
        self._retry_at = time.monotonic() if self.offline else float("inf")
        self._deadline = float("inf")
        #: Shared with the heartbeat; an offline start was already reported by start_session().
        self.outage = Outage(
            note,
            lambda reason: (
                f"backend unavailable ({reason}); logging continues into the spool"
                f" {spool.path(session_id)} and is sent when it is back (or by `mltrack sync`)"
            ),
            down=self.offline,
        )

    # -- called from the training thread ----------------------------------------------------

    def call(self, function: str, args: dict[str, Any]) -> None:
        self.queue.put(QueuedCall(function, args))

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is sent or kept; False on timeout."""
        done = threading.Event()
        self.queue.put(done)
        return done.wait(timeout)

    def stop(self) -> None:
        self.queue.put(_STOP)

    def wake(self) -> None:
        """Retry the spool now (the heartbeat got an answer: the database is back)."""
        self.queue.put(WAKE)

    # -- the thread -------------------------------------------------------------------------

    def _running(self) -> bool:
        return self.is_alive()

    def run(self) -> None:
        try:
            if self._replay_others:
                self._replay_other_sessions()
            while True:
                timeout = min(self._deadline, self._retry_at) - time.monotonic()
                try:
                    if self._stash is not None:  # met while draining rows: it comes next
                        item, self._stash = self._stash, None
                    elif timeout < 1e9:
                        item = self.queue.get(timeout=max(0.0, timeout))
                    else:
                        item = self.queue.get()
                except queue.Empty:
                    item = None
                if self.abandoned:
                    self._take(item)
                    with self._lock:
                        self._check()
                if item is _STOP:
                    return
                try:
                    self._step(item)
                except Abandoned:
                    raise
                except Exception as exc:  # a bug must not end the writer: later calls still go
                    log.exception("mltrack writer of session %s: internal error", self.session_id)
                    self._note_once(
                        "bug", f"the writer of session {self.session_id} hit a bug: {exc!r}"
                    )
                    self._after_bug()
        except Abandoned:
            return
        finally:
            self._sender.stop()

    def _after_bug(self) -> None:
        """Spool the calls in hand, so that one the bug is about cannot hold up the others."""
        with self._lock:
            self._busy = False
        try:
            self._keep_pending()
        except Abandoned:
            raise
        except Exception:
            log.exception("mltrack writer: %d call(s) lost", len(self._pending))
            self._pending.clear()

    def _step(self, item: Any) -> None:
        if type(item) is dict:
            self._rows.append(item)
            if len(self._rows) == 1:
                self._deadline = time.monotonic() + self._flush_interval
            self._drain(self._max_batch)  # the rows queued behind it, in one go
            if len(self._rows) >= self._max_batch or time.monotonic() >= self._deadline:
                self._send_rows(fill=True)
        elif item is None:  # a timeout: the batch is due, or a retry
            if self._rows and time.monotonic() >= self._deadline:
                self._send_rows()
            if self.offline and time.monotonic() >= self._retry_at:
                self._retry()
        elif item is WAKE:
            if self.offline:
                self._retry()
        elif isinstance(item, threading.Event):  # a flush marker: everything before it first
            if self._rows:
                self._send_rows()
            if self.offline:
                self._retry()
            item.set()
        else:  # a call: the rows before it go first
            self._deadline = float("inf")
            self._take(item)
            self._process()

    def _send_rows(self, *, fill: bool = False) -> None:
        self._seal()
        self._deadline = float("inf")
        self._process(fill=fill)

    def _process(self, *, fill: bool = False) -> None:
        """Send the pending calls in order; dead-letter what the database rejects for good; spool
        the rest (and go offline) when the backend is away. A call leaves ``_pending`` only once
        it is sent or kept, so a takeover while it is on the wire spools it (custody module).

        ``fill`` (rows are due, no call or flush marker waits): while a call is on the wire, take
        the next batch from the queue, encode it and queue it behind that call on the sender
        (:meth:`_fill_next`), so that the database starts on it as soon as it answered."""
        while self._pending:
            if self.offline:
                self._keep_pending()
                return
            self._begin()
            call = self._pending[0]
            job, self._next = self._next, None
            if job is None or job[0] is not call:
                job = (call, self._sender.start(self._deliver, call))
            if fill and len(self._pending) == 1:
                self._fill_next(job[1])
            result = job[1].result()
            if result is None:  # (never: a call is queued behind another only if it can go)
                raise RuntimeError("a batch queued behind a failed call was awaited")
            dead, rest, error = result
            self._done(self._pending, rest if error is not None else None)
            self._dead_letter(dead)
            if error is not None:
                self.offline = True
                self._next = None  # its job does not send it: it is spooled with the rest
                self._backoff = _MIN_BACKOFF
                self._retry_at = time.monotonic() + self._backoff
                self.outage.begin(describe(error)[0])

    def _fill_next(self, before: Job) -> None:
        """While ``before`` is on the wire: the next full batch, sealed, encoded and queued behind
        it on the sender, which sends it only if ``before`` stored all its rows. Rows that do not
        fill a batch stay in the batch being filled (sent at its deadline, as ever)."""
        self._drain(self._max_batch)
        if len(self._rows) < self._max_batch:
            if self._rows and self._deadline == float("inf"):
                self._deadline = time.monotonic() + self._flush_interval
            return
        call = self._seal()
        self._deadline = float("inf")
        self.overlapped += 1
        prepared = None
        if self._columns:
            args = call["args"]
            prepared = epoch_columns(args["session_id"], args["metrics"])
            prepare = getattr(self._transport, "prepare", None)
            if prepare is not None:
                prepared = prepare("log_epoch_columns", prepared) or prepared
        self._next = (call, self._sender.start(self._deliver_after, before, call, prepared))

    def _deliver_after(
        self, before: Job, call: Call, prepared: dict[str, Any] | None
    ) -> tuple[list[tuple[Call, Exception]], Call | None, Exception | None] | None:
        """On the sender, right after ``before`` (it runs its calls in order): send ``call`` if
        ``before`` stored all its rows; else nothing (None), and the writer keeps it in the
        spool with the rows of ``before`` not stored, in order."""
        try:
            result = before.result()
        except BaseException:
            return None
        if result is None or result[2] is not None:
            return None
        return self._deliver(call, prepared)

    def _deliver(
        self, call: Call, prepared: dict[str, Any] | None = None
    ) -> tuple[list[tuple[Call, Exception]], Call | None, Exception | None]:
        """Send one call (``prepared``: its log_epoch_columns arguments, if made ahead). Returns
        the calls rejected for good (with their errors), what is left to send and the outage
        (or transient error) that stopped it."""
        function, args = call["function"], call["args"]
        if function == "log_epochs":
            done = send_rows_isolating(
                self._transport,
                args["session_id"],
                args["metrics"],
                columns=self._columns,
                prepared=prepared,
            )
            dead = [({**call, "args": {**args, "metrics": r}}, e) for r, e in done.rejected]
            rest = {**call, "args": {**args, "metrics": done.unsent}} if done.unsent else None
            return dead, rest, done.error
        try:
            result = self._transport.rpc(function, args)
        except Exception as exc:
            if classify(exc) is Outcome.SEND_LATER:
                return [], call, exc
            if not isinstance(exc, DatabaseError):  # an unencodable value must not kill the writer
                log.exception("mltrack writer: %s() failed", function)
            return [(call, exc)], None, None
        if function == "finish_session" and isinstance(result, dict) and self._on_finished:
            self._on_finished(result)
        return [], None, None

    def _dead_letter(self, dead: list[tuple[Call, Exception]]) -> None:
        """Keep rejected calls in the dead-letter file and report them (five per batch at most).
        Written even after a takeover: the order of the spool does not depend on them."""
        if not dead:
            return
        with self._lock:  # not _check(): these are written even after a takeover
            self._busy = True  # a dead-letter file locked by `mltrack sync` must not hold finish()
        path = self._spool.dead_letter_path
        for n, (call, exc) in enumerate(dead):
            message, sqlstate = describe(exc)
            try:
                self._spool.dead_letter(call, message, sqlstate)
                where = f"kept in {path}"
            except Exception as problem:  # disk full, read-only: the rejection is still reported
                where = f"lost: cannot write {path}: {describe(problem)[0]}"
            rows = call["args"].get("metrics") if call["function"] == "log_epochs" else None
            what = f"{call['function']}()"
            if rows is not None and len(rows) == 1:
                what += f" for epoch {rows[0].get('epoch')}"
            if n < 5:
                self._note(
                    f"the database rejected {what} of session {self.session_id}: {message}"
                    f" ({where})"
                )
        if len(dead) > 5:
            self._note(f"... and {len(dead) - 5} more rejected calls of session {self.session_id}")
        self._end()

    def _later(self, reason: object) -> None:
        self._backoff = min(self._backoff * 2, _MAX_BACKOFF)
        self._retry_at = time.monotonic() + self._backoff
        log.info("mltrack writer: backend still unavailable (%s)", reason)

    def _retry(self) -> None:
        """Replay the spool, then send what is held in memory; online again once both are done."""
        self._write_held()
        self._begin()
        result = None
        try:
            result = self._spool.replay(self._transport, self.session_id)
        except (TransportUnavailable, DatabaseError) as exc:
            self._end()
            self._later(exc)
            return
        except Exception as exc:  # unreadable or malformed: later calls are not held up by it
            log.exception("mltrack writer: cannot replay the spool of %s", self.session_id)
            self._note_once(
                "replay",
                f"cannot replay the spool {self._spool.path(self.session_id)}: {describe(exc)[0]};"
                " run `mltrack sync` once that is fixed",
            )
        self._end()
        while self._held:  # the spool cannot take them: straight from memory, in order
            self._begin()  # the call stays held until sent: a takeover spools it from there
            dead, rest, error = self._deliver(self._held[0])
            self._done(self._held, rest if error is not None else None)
            self._dead_letter(dead)
            if error is not None:
                self._later(error)
                return
        self.offline = False
        self._retry_at = float("inf")
        self.outage.end()
        log.info(
            "mltrack writer: back online (%d spooled call(s) sent)", result.sent if result else 0
        )
        for message in (result.errors if result else None) or []:
            self._note(f"replaying the spool of session {self.session_id}: {message}")

    def _replay_other_sessions(self) -> None:
        """Send what earlier runs spooled (a crash, an outage that outlasted them), file by file:
        a file that cannot be read or replayed is reported and skipped."""
        self._begin()
        sent = 0
        try:
            for other in self._spool.pending():
                if other == self.session_id:
                    continue
                try:
                    sent += self._spool.replay(self._transport, other).sent
                except (TransportUnavailable, DatabaseError) as exc:
                    log.info("mltrack writer: spooled calls of earlier runs not sent yet (%s)", exc)
                    break
                except Exception as exc:
                    log.exception("mltrack writer: cannot replay the spool of %s", other)
                    self._note_once(
                        "others",
                        f"cannot replay the spool {self._spool.path(other)} of an earlier run:"
                        f" {describe(exc)[0]}; `mltrack sync` retries it",
                    )
        except Exception as exc:  # the spool directory itself cannot be read
            self._note_once("others", f"cannot read the spool {self._spool.root}: {exc}")
        self._end()
        if sent:
            log.info("mltrack writer: sent %d call(s) spooled by earlier runs", sent)
