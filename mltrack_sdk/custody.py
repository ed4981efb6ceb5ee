"""Who holds a session's calls that are not sent yet, so that trouble never reorders or loses them.

A call the training thread made is, until it is sent or kept, in exactly one of these places, in
this order: the spool, held in memory (``_held``: the spool could not take it), in the writer's
hand (``_pending``: taken from the queue, the first one possibly on the wire, the second
possibly queued behind it on the sender), the batch being filled (``_rows``), the one item taken
from the queue that waits for them (``_stash``: a call or a flush marker met while draining
rows), or still queued. The writer changes ``_held``, ``_pending`` and - while a call is on the
wire, as it fills the next batch meanwhile - ``_rows`` and ``_stash`` under ``_lock`` while it
is *busy* (in an operation that may block: a send, a replay, a file write).

When ``finish()`` gives up waiting it calls :meth:`Custody.abandon`. If the writer is busy (a hung
socket, a spool file locked elsewhere), the session's hand-off thread takes every call not sent
and spools them itself, in that order; the writer never spools again - whenever its blocked call
returns, it just ends, and a batch queued behind that call may still be sent (a call sent twice
is harmless: replays are idempotent). If the writer is not busy it hands over the same way at
its next step (:meth:`Custody._check`).

Held in memory: while the spool cannot be written (disk full, read-only, I/O error) calls are kept
here, in order, up to :data:`MAX_HELD_ROWS` rows; more are dropped and counted in ``dropped``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mltrack_sdk.errors import MltrackError
from mltrack_sdk.spool import Spool, SpoolWriteError, merge_rows

#: Rows (a call other than log_epochs counts as one) held in memory while the spool cannot be
#: written; calls beyond it are dropped and counted.
MAX_HELD_ROWS = 100_000

#: What a spool write raises when nothing of it was kept (an OSError only from a spool that
#: is not mltrack's own, say a subclass in a test).
SPOOL_WRITE_ERRORS: tuple[type[Exception], ...] = (OSError, SpoolWriteError)

Row = dict[str, Any]
Call = dict[str, Any]


@dataclass(frozen=True)
class QueuedCall:
    """A call on the writer's queue (an epoch row is a plain ``dict``)."""

    function: str
    args: dict[str, Any]


#: Queue items: wake the writer (retry the spool, or hand over after abandon()).
WAKE = object()


class Abandoned(Exception):
    """finish() gave up and the calls were handed over: the writer ends, spooling nothing."""


@dataclass(frozen=True)
class Handoff:
    """What became of the calls not sent when finish() gave up: ``kept`` calls were written to the
    spool, ``lost`` could not be (``error`` says why)."""

    kept: int
    lost: int
    error: str | None = None


def describe(exc: BaseException) -> tuple[str, str | None]:
    """The message and SQLSTATE to keep for an error (a bug has no SQLSTATE)."""
    if isinstance(exc, MltrackError):
        return exc.message, getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}: {exc}", None


def _size(call: Call) -> int:
    return len(call["args"]["metrics"]) if call["function"] == "log_epochs" else 1


class Custody:
    """The writer's part that keeps its calls (see the module docstring); the writer thread
    subclasses it. ``held``: calls start_session() could not spool, which go first."""

    def __init__(
        self, session_id: str, spool: Spool, note: Callable[[str], None], held: list[Call] | None
    ) -> None:
        self.session_id = session_id
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._spool = spool
        self._note = note
        self._noted: set[str] = {"spool"} if held else set()  # start_session() reported it
        #: Calls dropped because more than MAX_HELD_ROWS rows were held in memory.
        self.dropped = 0
        self._rows: list[Row] = []  # the batch being filled: read by others only while busy
        self._stash: Any = None  # a queue item (not a row) that waits for the rows before it
        self._lock = threading.Lock()  # guards everything below
        #: Set once finish() gave up waiting: from then on the writer spools nothing itself.
        self.abandoned = False
        self._taken = False  # the calls were handed over (by the session or the writer)
        self._busy = False
        self._pending: list[Call] = []  # taken from the queue, not sent or kept yet
        self._held: list[Call] = list(held or [])
        self._held_rows = sum(map(_size, self._held))
        self._handed = threading.Event()
        #: What became of the calls taken over (set before _handed).
        self.handoff: Handoff | None = None

    @property
    def held(self) -> int:
        """Calls held in memory because the spool could not be written (lost at exit)."""
        return len(self._held)

    def _running(self) -> bool:
        """Whether the writer thread is alive (to act on a hand-over request)."""
        return True

    def _epochs_call(self, rows: list[Row]) -> Call:
        return {
            "function": "log_epochs",
            "args": {"session_id": self.session_id, "metrics": merge_rows(rows)},
        }

    def _note_once(self, kind: str, message: str) -> None:
        if kind not in self._noted:
            self._noted.add(kind)
            self._note(message)

    # -- finish() gave up -------------------------------------------------------------------

    def abandon(self, wait: float) -> Handoff | None:
        """Take every call not sent yet and spool it, in order. Returns what became of them, or
        None when that is not done within ``wait`` seconds (a spool file or the writer's lock is
        busy: they are spooled when it frees, or lost if the process ends first)."""
        threading.Thread(
            target=self._take_over, name=f"mltrack-handoff-{self.session_id[:8]}", daemon=True
        ).start()
        return self.handoff if self._handed.wait(wait) else None

    def _take_over(self) -> None:
        with self._lock:
            self.abandoned = True
            if not self._busy and self._running():
                self.queue.put(WAKE)  # not blocked: the writer hands over at its next step
                return
            self._taken = True
            calls = self._everything()
        self._spool_handoff(calls)

    def _everything(self) -> list[Call]:
        """Every call not sent, in the order made: held, pending, the batch being filled, the
        queue (whose flush markers are released). Under the lock."""
        calls, rows = [*self._held, *self._pending], self._rows
        self._held, self._held_rows, self._pending, self._rows = [], 0, [], []
        stash, self._stash = self._stash, None
        while True:
            if stash is not None:
                item, stash = stash, None
            else:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
            if type(item) is dict:
                rows.append(item)
            elif isinstance(item, QueuedCall):
                if rows:
                    calls.append(self._epochs_call(rows))
                    rows = []
                calls.append({"function": item.function, "args": item.args})
            elif isinstance(item, threading.Event):
                item.set()
        if rows:
            calls.append(self._epochs_call(rows))
        return calls

    def _spool_handoff(self, calls: list[Call]) -> None:
        try:
            self._spool.append(self.session_id, calls)
            self.handoff = Handoff(len(calls), 0)
        except Exception as exc:  # the spool's contract: nothing of a failed append was kept
            self.handoff = Handoff(0, len(calls), describe(exc)[0])
        self._handed.set()

    # -- the writer's side --------------------------------------------------------------------

    def _check(self) -> None:
        """Raise Abandoned once finish() gave up, handing every call not sent over first unless
        the session took them already. Under the lock."""
        if self.abandoned:
            if not self._taken:
                self._taken = True
                self._spool_handoff(self._everything())
            raise Abandoned

    def _take(self, item: Any) -> None:
        """Put the writer's queue ``item`` in its hand (a call after the batch being filled)."""
        if type(item) is dict:
            self._rows.append(item)
        elif isinstance(item, QueuedCall):
            if self._rows:
                self._pending.append(self._epochs_call(self._rows))
                self._rows = []
            self._pending.append({"function": item.function, "args": item.args})
        elif isinstance(item, threading.Event):
            item.set()

    def _drain(self, limit: int) -> None:
        """Move queued epoch rows into the batch being filled, until it holds ``limit`` rows or
        the queue is empty; the first other item met is kept in ``_stash`` (handled next, after
        these rows). Under the lock: a takeover finds each row here or still queued."""
        get = self.queue.get_nowait
        with self._lock:
            self._check()
            rows = self._rows
            while self._stash is None and len(rows) < limit:
                try:
                    item = get()
                except queue.Empty:
                    return
                if type(item) is dict:
                    rows.append(item)
                else:
                    self._stash = item

    def _seal(self) -> Call:
        """The batch being filled becomes the last pending call (under the lock)."""
        with self._lock:
            self._check()
            call = self._epochs_call(self._rows)
            self._pending.append(call)
            self._rows = []
        return call

    def _begin(self) -> None:
        """Before an operation that may block on the network or a file."""
        with self._lock:
            self._check()
            self._busy = True

    def _end(self) -> None:
        with self._lock:
            self._busy = False
            self._check()

    def _done(self, calls: list[Call], rest: Call | None) -> None:
        """End the operation that sent the first of ``calls`` (``_pending`` or ``_held``);
        ``rest`` (the rows not sent yet) takes its place."""
        with self._lock:
            self._busy = False
            self._check()
            sent = calls.pop(0)
            if rest is not None:
                calls.insert(0, rest)
            if calls is self._held:
                self._held_rows += (_size(rest) if rest is not None else 0) - _size(sent)

    def _keep_pending(self) -> None:
        """Spool the pending calls (behind anything held in memory); hold them when the spool
        cannot be written. Under the lock, so that a takeover never comes between."""
        with self._lock:
            self._check()
            calls, self._pending = self._pending, []
            if self._held:
                self._hold(calls)  # behind the held ones, in order: the next retry writes them
                return
            try:
                self._spool.append(self.session_id, calls)
            except Exception as exc:  # disk full, read-only, I/O error: nothing was kept
                self._hold(calls)
                self._note_once(
                    "spool",
                    f"cannot write the spool {self._spool.path(self.session_id)}:"
                    f" {describe(exc)[0]}; {len(self._held)} call(s) held in memory (spooled or"
                    " sent at the next retry; lost if the process ends first)",
                )

    def _hold(self, calls: list[Call]) -> None:
        for call in calls:
            size = _size(call)
            if self._held_rows + size > MAX_HELD_ROWS:
                self.dropped += 1
                self._note_once(
                    "drop",
                    f"over {MAX_HELD_ROWS} rows of session {self.session_id} held in memory:"
                    " later calls are dropped until the spool or the backend takes them",
                )
                continue
            self._held.append(call)
            self._held_rows += size

    def _write_held(self) -> None:
        """Move the calls held in memory to the spool, if it takes them now."""
        with self._lock:
            self._check()
            if self._held:
                try:
                    self._spool.append(self.session_id, self._held)
                except SPOOL_WRITE_ERRORS:  # still failing: the retry sends them from memory
                    return
                self._held, self._held_rows = [], 0
