"""A training run: the :class:`Session` that ``start_session()`` returns.

Example::

    import mltrack_sdk as mlt

    with mlt.start_session("YOLOv8n Mastomys v1", model_type="yolov8n", epochs=100) as run:
        for epoch in range(100):
            run.log_epoch(epoch, box_loss=1.2, map50=0.61, map50_95=0.42)
            if run.stop_requested:
                break
    # completed (final metrics from the best epoch); an exception inside: failed, with reason

The log calls check their input on the calling thread (a mistake raises a typed error at once)
and only enqueue; the background writer sends, or spools when the backend is away. Trouble with
the backend is reported as :class:`~mltrack_sdk.errors.MltrackWarning`, never raised.
Starting (or resuming) a run is :mod:`mltrack_sdk.session_start`'s part.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from mltrack_sdk import checks
from mltrack_sdk.custody import Call
from mltrack_sdk.heartbeat import Heartbeat
from mltrack_sdk.session_logging import RunLogging
from mltrack_sdk.session_notes import offline_note, timeout_note
from mltrack_sdk.spool import Spool
from mltrack_sdk.transports.base import Transport
from mltrack_sdk.writer import Writer

log = logging.getLogger("mltrack_sdk")

#: The statuses a run ends in (``finish(status)``); a run in one of them cannot be resumed.
TERMINAL_STATUSES = ("completed", "failed", "cancelled")
_FINALS = ("final_map50", "final_map50_95", "final_precision", "final_recall")
_LIVE: weakref.WeakSet[Session] = weakref.WeakSet()
#: The epoch bound of a run resumed offline whose epochs are unknown: the database checks them.
_NO_EPOCH_LIMIT = 2**31 - 1
#: What finish() may take beyond its timeout when the backend hangs: handing the calls not sent
#: over to the spool, then the heartbeat and the transport's close (each in bounded waits).
_HANDOFF_WAIT = 0.8
_JOIN_WAIT = 0.3


class Session(RunLogging):
    """A running training session; made by :func:`~mltrack_sdk.session_start.start_session`.

    ``id`` is the session's uuid (as text), ``epochs`` its planned epochs (``None`` when unknown:
    a run resumed by id while the database was unreachable; the database checks them on replay).

    End it with ``finish()`` or a ``with`` block. A process that exits without either gets at
    most 5 s at exit to send (or spool) what it logged; anything still queued then is lost, and
    the run stays ``running`` until the stale-heartbeat check marks it failed.
    """

    def __init__(
        self,
        session_id: str,
        epochs: int | None,
        transport: Transport,
        *,
        owns_transport: bool,
        spool: Spool,
        offline: bool,
        heartbeat_interval: float,
        finish_timeout: float,
        flush_interval: float,
        notes: list[str] | None = None,
        held: list[Call] | None = None,
    ) -> None:
        self.id = session_id
        self.epochs = epochs
        self._max_epoch = _NO_EPOCH_LIMIT if epochs is None else epochs
        self.finish_timeout = finish_timeout
        self.status: str = "running"
        self._transport = transport
        self._owns_transport = owns_transport
        self._spool = spool
        self._notes: list[str] = list(notes or [])
        self._stop_requested = False
        self._closed = False
        self._finish_lock = threading.Lock()
        self._lost_reported: set[str] = set()
        self._writer = Writer(
            session_id,
            transport,
            spool,
            self._notes.append,
            offline=offline,
            flush_interval=flush_interval,
            held=held,
            on_finished=self._note_heartbeat_lost,
        )
        self._put = self._writer.queue.put
        self._heartbeat = Heartbeat(
            session_id,
            transport,
            heartbeat_interval,
            self._set_stop,
            self._writer,
            on_lost=self._note_heartbeat_lost,
        )
        self._writer.start()
        self._heartbeat.start()
        _LIVE.add(self)

    # -- state --------------------------------------------------------------------------------

    def _set_stop(self) -> None:
        self._stop_requested = True

    @property
    def stop_requested(self) -> bool:
        """True once someone asked this run to stop (``request_stop``), seen by the heartbeat."""
        return self._stop_requested

    def _note_heartbeat_lost(self, row: Mapping[str, Any]) -> None:
        """Tell the user that the stale check had marked this run failed (from the heartbeat
        thread after a long gap, or the writer with the row finish_session returned)."""
        lost_at = row.get("heartbeat_lost_at")
        if lost_at is None or str(lost_at) in self._lost_reported:
            return
        self._lost_reported.add(str(lost_at))
        status = row.get("status")
        if status == "running":
            now = "its heartbeat came back and it is running again"
        else:
            now = f"it ended {status}"
        self._notes.append(
            f"session {self.id} was marked failed at {lost_at} (heartbeat lost while the database"
            f" was unreachable); {now}"
        )

    def heartbeat(self) -> bool:
        """Send a heartbeat now (the background thread sends one every ``heartbeat_interval``);
        returns :attr:`stop_requested`."""
        self._emit_notes()
        self._heartbeat.beat()
        return self._stop_requested

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far is sent to the database, or kept in the spool
        when it is unreachable (at most ``timeout`` s, default ``finish_timeout``); False when
        the wait timed out. The run stays open. Useful before a checkpoint, or before ranks of a
        job that share one session agree to finish it.

        Example::

            run.log_epoch(9, map50_95=0.61)
            run.flush()      # epoch 9 is in the database (or the spool)
        """
        self._check_open()
        done = self._writer.flush(self.finish_timeout if timeout is None else timeout)
        self._emit_notes()
        return done

    # -- ending -------------------------------------------------------------------------------

    def finish(
        self,
        status: str = "completed",
        *,
        status_reason: str | None = None,
        timeout: float | None = None,
        **finals: Any,
    ) -> None:
        """End the run as completed, failed or cancelled, and wait (at most ``timeout``, default
        ``finish_timeout``) until everything logged is sent or spooled. Final metrics left out
        come from the best epoch. Calling it again does nothing.

        Example::

            run.finish("completed", final_map50=0.91, model_path="runs/best.pt")
        """
        checks.check_choice("status", status, TERMINAL_STATUSES)
        args: dict[str, Any] = {"session_id": self.id, "status": status}
        for key in _FINALS:
            if key in finals:
                args[key] = checks.check_fraction(key, finals.pop(key))
        if "final_loss" in finals:
            args["final_loss"] = checks.check_non_negative("final_loss", finals.pop("final_loss"))
        if "model_path" in finals:
            args["model_path"] = checks.check_text("model_path", finals.pop("model_path"), 1000)
        if finals:
            raise checks.invalid(sorted(finals)[0], "is not a known final result")
        if status_reason is not None:
            args["status_reason"] = str(status_reason)[:4000]
        with self._finish_lock:
            if self._closed:
                return
            self._closed = True
            self.status = status
            self._writer.call("finish_session", args)
            self._close(self.finish_timeout if timeout is None else timeout)
        self._emit_notes()

    def _close(self, timeout: float) -> None:
        """Stop the heartbeat, drain the writer within ``timeout``; spool what is left. Returns
        within ``timeout`` + about 1.4 s whatever the network does: nothing here waits on a
        socket without a bound (see :mod:`mltrack_sdk.custody` for the hand-over)."""
        self._heartbeat.stopped.set()
        writer = self._writer
        if writer.flush(timeout):
            if writer.offline or writer.held or writer.dropped:
                self._notes.append(offline_note(self.id, self._spool.path(self.id), writer))
            writer.stop()
            writer.join(_JOIN_WAIT)
        else:
            handoff = writer.abandon(_HANDOFF_WAIT)
            self._notes.append(
                timeout_note(self.id, self._spool.path(self.id), writer, timeout, handoff)
            )
        self._heartbeat.join(0.1 if writer.abandoned else _JOIN_WAIT)
        if self._owns_transport:
            # close() may wait on a hanging socket (it cancels the call in flight): a daemon
            # thread, waited for only briefly, keeps finish() within its bound.
            closer = threading.Thread(
                target=self._close_transport, name=f"mltrack-close-{self.id[:8]}", daemon=True
            )
            closer.start()
            closer.join(_JOIN_WAIT)
        _LIVE.discard(self)

    def _close_transport(self) -> None:
        try:
            self._transport.close()
        except Exception:  # nothing left to report it to: the run is over
            log.exception("mltrack: closing the transport of session %s failed", self.id)

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.finish("completed")
        elif isinstance(exc, KeyboardInterrupt):
            self.finish("cancelled", status_reason="KeyboardInterrupt: interrupted by the user")
        else:
            self.finish("failed", status_reason=f"{type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return f"<Session {self.id} {self.status}>"


@atexit.register
def _flush_at_exit() -> None:
    # A run that was never finished: send or spool what it logged (the stale check ends it later).
    for session in list(_LIVE):
        if not session._closed:
            session._writer.flush(5.0)
