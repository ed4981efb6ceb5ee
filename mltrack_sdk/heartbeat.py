"""The session's heartbeat thread, and the one-warning-per-outage rule it shares with the writer.

The heartbeat keeps trying through an outage (every ``min(interval, 1 s)`` until one gets through)
and wakes the offline writer as soon as the database answers, so a run that survives a short
outage is not taken for dead. Whichever thread notices an outage first warns, once per outage
(:class:`Outage`).

A run whose heartbeats stopped for long (a hung or lost link) may have been marked ``failed`` by
the stale check (``mark_stale_sessions``, which stamps ``heartbeat_lost_at``); its next heartbeat
takes it back to ``running``. After such a gap the heartbeat reads the session row, and when it
finds ``heartbeat_lost_at`` it tells the session (``on_lost``), which tells the user.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mltrack_sdk.errors import DatabaseError, Outcome, classify
from mltrack_sdk.transports.base import Transport, TransportUnavailable

if TYPE_CHECKING:
    from mltrack_sdk.writer import Writer

log = logging.getLogger("mltrack_sdk")

#: How often the heartbeat retries while it cannot get through (at most its interval).
_HEARTBEAT_RETRY = 1.0


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


class Heartbeat(threading.Thread):
    """Calls ``heartbeat(session_id)`` every ``interval`` seconds; its answer sets
    stop_requested. Through an outage it retries every ``min(interval, 1 s)``; after a gap of
    more than two intervals it checks whether the stale check marked the run failed meanwhile
    and passes the session row to ``on_lost`` if so (see the module docstring)."""

    def __init__(
        self,
        session_id: str,
        transport: Transport,
        interval: float,
        on_stop: Callable[[], None],
        writer: Writer,
        on_lost: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(name=f"mltrack-heartbeat-{session_id[:8]}", daemon=True)
        self.session_id = session_id
        self._transport = transport
        self._interval = interval
        self._on_stop = on_stop
        self._on_lost = on_lost
        self._writer = writer
        self._last_ok = time.monotonic()
        self._recheck = False  # the last look at the row found the run failed: look again
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
        except (TransportUnavailable, DatabaseError) as exc:
            log.info("mltrack heartbeat of %s not delivered: %s", self.session_id, exc)
            if classify(exc) is Outcome.SEND_LATER:
                self._writer.outage.begin(exc.message)
                return True, None
            # The database answered, so it is back; a run that started offline is not in it
            # until the writer has replayed its spool: wake the writer and try again soon.
            if self._writer.offline:
                self._writer.wake()
                return True, None
            return False, None
        now = time.monotonic()
        gap, self._last_ok = now - self._last_ok, now
        self._writer.outage.end()
        if self._writer.offline:
            self._writer.wake()
        if self._on_lost is not None and (gap > 2 * self._interval or self._recheck):
            self._recheck = self._check_lost()
        if stop:
            self._on_stop()
        return False, stop

    def _check_lost(self) -> bool:
        """Read the session row: was the run marked failed while its heartbeats were away?
        Returns True to look again at the next beat: the row may have been read before the
        heartbeat that revives the run (a read held up in the same hung link, say)."""
        try:
            rows = self._transport.select(
                "training_sessions", filters={"id": self.session_id}, limit=1
            )
        except (TransportUnavailable, DatabaseError) as exc:
            log.info("mltrack heartbeat: cannot read session %s: %s", self.session_id, exc)
            return True
        if not rows or rows[0].get("heartbeat_lost_at") is None:
            return False
        if rows[0].get("status") == "failed":
            return True
        if self._on_lost is not None:
            self._on_lost(rows[0])
        return False

    def run(self) -> None:
        while not self.stopped.is_set():
            retry, _ = self._beat()
            self.stopped.wait(min(self._interval, _HEARTBEAT_RETRY) if retry else self._interval)
