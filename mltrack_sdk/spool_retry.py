"""Reading and retrying the dead-letter file, and sending one spooled call: the part of
:class:`mltrack_sdk.spool.Spool` that talks to the backend about calls it once rejected."""

from __future__ import annotations

from typing import Any

from mltrack_sdk.errors import DatabaseError, Outcome, classify
from mltrack_sdk.spool_records import DEAD_LETTER_LOCK, ENTRY_KEYS, ReplayResult, encode_record
from mltrack_sdk.transports.base import Transport, TransportUnavailable


class DeadLetterRetry:
    """Mixed into :class:`~mltrack_sdk.spool.Spool`, which provides the file handling it uses
    (``dead_letter_path``, ``_locked``, ``_read``, ``_keep``, ``_dead_entry``)."""

    # Provided by Spool.
    dead_letter_path: Any
    _locked: Any
    _read: Any
    _keep: Any
    _dead_entry: Any

    def dead_letters(self) -> list[dict[str, Any]]:
        """The rejected calls, oldest first: ``function``, ``args``, ``error``, ``sqlstate``,
        ``at`` (None where missing). A malformed spool record has ``raw``, its text, and its
        reason as ``error``; so has a line of this file that is no JSON object."""
        path = self.dead_letter_path
        if not path.exists():
            return []
        with self._locked(DEAD_LETTER_LOCK):
            lines = self._read(path)
        blank = dict.fromkeys(ENTRY_KEYS)
        return [
            {**blank, **x.record}
            if x.record is not None
            else {**blank, "error": f"malformed dead-letter entry: {x.problem}", "raw": x.text}
            for x in lines
        ]

    def retry_dead_letters(self, transport: Transport) -> ReplayResult:
        """Send the rejected calls again, in order, once their cause is fixed (say, a session's
        epochs raised after its out-of-range epochs were rejected).

        A call that goes through leaves the dead-letter file; one rejected again stays in it,
        with the database's new message; a malformed entry stays as it is (counted in
        ``malformed``, reported in ``errors``). Raises :class:`TransportUnavailable` (or a
        non-permanent :class:`DatabaseError`) when the backend fails mid-way; the calls not
        tried yet stay as they were.

        Example::

            result = Spool().retry_dead_letters(transport)   # result.sent, result.dead
        """
        result = ReplayResult()
        path = self.dead_letter_path
        if not path.exists():
            return result
        with self._locked(DEAD_LETTER_LOCK):
            lines = self._read(path)
            kept: list[bytes] = []
            for done, line in enumerate(lines):
                if line.problem or line.record is None:
                    kept.append(line.data)
                    result.malformed += 1
                    error = (line.record or {}).get("error")
                    why = f"{line.problem}: {error}" if isinstance(error, str) else line.problem
                    result.note(f"dead letter on line {line.number} cannot be retried ({why})")
                    continue
                try:
                    rejected = self._send(transport, line.record)
                except (TransportUnavailable, DatabaseError):
                    self._keep(path, kept + [x.data for x in lines[done:]], result)
                    raise
                if rejected is None:
                    result.sent += 1
                    continue
                kept.append(encode_record(self._dead_entry(line.record, *rejected)))
                result.dead += 1
                result.note(rejected[0])
            self._keep(path, kept, result)
        return result

    @staticmethod
    def _send(transport: Transport, call: dict[str, Any]) -> tuple[str, str | None] | None:
        """Send ``call``: None when it went, ``(message, sqlstate)`` when rejected for good.
        Raises on an outage (TransportUnavailable, a non-permanent DatabaseError)."""
        try:
            transport.rpc(call["function"], call["args"])
            return None
        except Exception as exc:  # a value the transport cannot send must not stop the replay
            if classify(exc) is Outcome.SEND_LATER:
                raise
            if isinstance(exc, DatabaseError):
                return exc.message, exc.sqlstate
            return f"{type(exc).__name__}: {exc}", None
