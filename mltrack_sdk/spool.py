"""The durable local buffer: SQL API calls that could not be sent yet, and replaying them.

Layout under ``<mltrack_home>/spool/``:

- ``<session_id>.jsonl``: one JSON object per line, ``{"function": ..., "args": {...}}``, in the
  order the calls were made (``start_session`` with its client-made ``session_id`` first, then
  ``log_epochs`` batches, ..., ``finish_session``). Appends are fsync'd before they return.
- ``<session_id>.lock``: an ``flock`` lock, so a live run, ``mltrack sync`` and the next
  ``start_session`` never replay or append the same file at once.
- ``dead-letter.jsonl``: calls the database rejected for good, with its error message, and
  malformed spool records (``dead-letter.lock`` guards it). :meth:`Spool.retry_dead_letters`
  (``mltrack sync --dead-letters``) sends the calls again once the cause is fixed.

Replaying is safe to repeat: the SQL API is idempotent (upserts keyed by the client's ids).

Faults: :meth:`Spool.append` and :meth:`Spool.dead_letter` either return, and every record is
written and fsync'd, or raise :class:`SpoolWriteError`, and nothing of the call is in the file
(partial bytes are cut off again). A torn last line left by a crash mid-write is ended before
an append, so no later record is glued onto it. Reading never raises for bad content: a
malformed line is moved to the dead-letter file with the reason and its raw text, and the good
records are replayed in order. A rewrite that fails leaves the file as it was, and no ``.tmp``.

Example::

    sent = Spool().replay_all(transport).sent
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mltrack_sdk.batches import send_rows_isolating
from mltrack_sdk.config import mltrack_home
from mltrack_sdk.errors import DatabaseError, MltrackError
from mltrack_sdk.spool_records import (
    API_FUNCTIONS,
    DEAD_LETTER_LOCK,
    ENTRY_KEYS,
    REPLAY_BATCH_ROWS,
    Line,
    ReplayResult,
    SpoolError,
    SpoolWriteError,
    encode_record,
    merge_calls,
    merge_rows,
    parse_line,
)
from mltrack_sdk.spool_retry import DeadLetterRetry
from mltrack_sdk.transports.base import Transport, TransportUnavailable

__all__ = [
    "API_FUNCTIONS",
    "DEAD_LETTER",
    "REPLAY_BATCH_ROWS",
    "ReplayResult",
    "Spool",
    "SpoolError",
    "SpoolWriteError",
    "merge_rows",
]

try:
    import fcntl
except ImportError:  # Windows: no cross-process lock, the in-process order still holds
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("mltrack_sdk")

DEAD_LETTER = "dead-letter.jsonl"


def _encode_lines(path: Path, values: list[Any]) -> bytes:
    """JSON lines of ``values``; SpoolWriteError for a value JSON cannot hold (the one error
    that appending raises)."""
    try:
        return b"".join(encode_record(v) + b"\n" for v in values)
    except (TypeError, ValueError, RecursionError) as exc:
        raise SpoolWriteError(path, exc, "encode a record for", "; nothing was written") from exc


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written: a short write is not a written record."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "the disk accepted no bytes")
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    """Make a file's creation or rename durable (Windows cannot open directories)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:  # file systems that cannot fsync a directory need no such fsync
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EACCES, errno.EPERM):
            raise


class Spool(DeadLetterRetry):
    """The spool directory (``<mltrack_home>/spool`` unless ``root`` is given)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or mltrack_home() / "spool"

    def path(self, session_id: str) -> Path:
        """The JSONL file of one session."""
        return self.root / f"{session_id}.jsonl"

    @property
    def dead_letter_path(self) -> Path:
        return self.root / DEAD_LETTER

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        lock = self.root / f"{name}.lock"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            try:  # a read-only spool can still be read under its lock; writes fail on their own
                fd = os.open(lock, os.O_RDONLY)
            except OSError:
                raise SpoolWriteError(Path(exc.filename or lock), exc, "lock the spool at") from exc
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except OSError as exc:
                    raise SpoolWriteError(lock, exc, "lock") from exc
            yield
        finally:
            os.close(fd)  # releases the lock

    def _append_bytes(self, path: Path, data: bytes) -> None:
        """Append ``data`` and fsync it, or raise SpoolWriteError with the file as it was."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolWriteError(path, exc, "open", "; nothing was written") from exc
        try:
            size = os.fstat(fd).st_size
            try:
                # End a torn last line (a crash mid-write) first, or this record would be glued
                # onto it and lost with it; replay reports the torn line as malformed.
                torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
                _write_all(fd, b"\n" + data if torn else data)
                os.fsync(fd)
                if size == 0:
                    _fsync_dir(path.parent)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)  # never leave a partial record behind
                    os.fsync(fd)
                if size == 0:
                    with contextlib.suppress(OSError):
                        os.unlink(path)  # an empty file would count as pending
                raise
        except OSError as exc:
            raise SpoolWriteError(path, exc, "append to", "; nothing of it was kept") from exc
        finally:
            with contextlib.suppress(OSError):  # after the fsync the data is kept regardless
                os.close(fd)

    def append(self, session_id: str, calls: list[dict[str, Any]]) -> None:
        """Append calls (``{"function", "args"}``) durably: written and fsync'd on return.
        Raises :class:`SpoolWriteError` when they cannot be kept; then none of them is."""
        if not calls:
            return
        path = self.path(session_id)
        data = _encode_lines(path, calls)
        with self._locked(session_id):
            self._append_bytes(path, data)

    def pending(self) -> list[str]:
        """Session ids that have spooled calls, oldest file first."""
        if not self.root.is_dir():
            return []
        files = []
        for p in self.root.glob("*.jsonl"):
            with contextlib.suppress(OSError):  # replayed and removed meanwhile
                if p.name != DEAD_LETTER:
                    files.append((p.stat().st_mtime, p.stem))
        return [stem for _, stem in sorted(files)]

    def has_pending(self, session_id: str) -> bool:
        return self.path(session_id).exists()

    @staticmethod
    def _read(path: Path) -> list[Line]:
        """The non-blank lines of ``path`` (read under its lock); raises SpoolError only when
        the file cannot be read."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SpoolError(path, exc, "read") from exc
        chunks = data.split(b"\n")
        tail = chunks.pop()  # b"" after a final newline, else a torn last line
        lines = [parse_line(n, c, torn=False) for n, c in enumerate(chunks, 1) if c.strip()]
        return lines + ([parse_line(len(chunks) + 1, tail, torn=True)] if tail.strip() else [])

    def spooled_start(self, session_id: str) -> dict[str, Any] | None:
        """The arguments of the session's spooled ``start_session`` call, if it has one."""
        path = self.path(session_id)
        if not path.exists():
            return None
        with self._locked(session_id):
            lines = self._read(path)
        return next(
            (
                x.record["args"]
                for x in lines
                if x.record and not x.problem and x.record["function"] == "start_session"
            ),
            None,
        )

    @staticmethod
    def _dead_entry(call: dict[str, Any], error: str, sqlstate: str | None) -> dict[str, Any]:
        return {
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "error": error,
            "sqlstate": sqlstate,
            "function": call["function"],
            "args": call["args"],
        }

    def _append_entry(self, entry: dict[str, Any]) -> None:
        data = _encode_lines(self.dead_letter_path, [entry])
        with self._locked(DEAD_LETTER_LOCK):
            self._append_bytes(self.dead_letter_path, data)

    def dead_letter(self, call: dict[str, Any], error: str, sqlstate: str | None = None) -> None:
        """Keep a call the database rejected for good, with the database's message. Raises
        :class:`SpoolWriteError` (and keeps nothing) as :meth:`append` does."""
        self._append_entry(self._dead_entry(call, error, sqlstate))

    def _isolate(self, transport: Transport, call: dict[str, Any], result: ReplayResult) -> bool:
        """Send a log_epochs batch, split until its bad rows are alone when the database rejects
        it; each bad row goes to the dead-letter file with its own reason. False when a bad row
        could not be dead-lettered (the batch's lines stay in the spool). Raises on an outage, as
        a send does (the good rows already stored are sent again next time: upserts)."""
        session_id = call["args"]["session_id"]
        done = send_rows_isolating(transport, session_id, call["args"]["metrics"])
        if done.error is not None:
            raise done.error
        kept = True
        for rows, exc in done.rejected:
            message = (
                exc.message if isinstance(exc, MltrackError) else f"{type(exc).__name__}: {exc}"
            )
            bad = {"function": "log_epochs", "args": {"session_id": session_id, "metrics": rows}}
            epochs = ", ".join(str(r.get("epoch")) for r in rows)
            note = f"epoch {epochs} of session {session_id}: {message}"
            if self._move(
                self._dead_entry(bad, message, getattr(exc, "sqlstate", None)), note, result
            ):
                result.dead += 1
            else:
                kept = False
        return kept

    def _move(self, entry: dict[str, Any], note: str, result: ReplayResult) -> bool:
        """Append ``entry`` to the dead-letter file and report ``note``; when that fails, say
        so and return False: the line then stays in the spool."""
        try:
            self._append_entry(entry)
        except SpoolWriteError as exc:
            result.note(f"{note}; it stays in the spool: {exc.message}")
            return False
        result.note(note)
        return True

    def replay(self, transport: Transport, session_id: str) -> ReplayResult:
        """Send the spooled calls of one session in order; the file is removed when all went.

        Malformed records go to the dead-letter file first (``malformed``), then calls the
        database rejects for good (``dead``). Raises :class:`TransportUnavailable` (or a
        non-permanent :class:`DatabaseError`) when the backend fails mid-way; what was not sent
        stays in the file. Never raises for the file's content, and raises :class:`SpoolError`
        only when it cannot be locked or read; a spool that cannot be written (a full disk)
        leaves the file as it was and is reported in ``errors``.
        """
        result = ReplayResult()
        path = self.path(session_id)
        if not path.exists():
            return result
        with self._locked(session_id):
            lines = self._read(path)
            stay: set[int] = set()  # line numbers that stay in the file
            for x in lines:
                if x.problem is None:
                    continue
                entry = {**dict.fromkeys(ENTRY_KEYS), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                entry |= {"error": f"malformed spool record: {x.problem}", "raw": x.text}
                where = f"malformed spool record ({path.name}, line {x.number}): {x.problem}"
                if self._move({**entry, "file": path.name, "line": x.number}, where, result):
                    result.malformed += 1
                else:
                    stay.add(x.number)
            good = [x for x in lines if x.problem is None]
            done = 0
            try:
                for call, count in merge_calls([x.record for x in good if x.record is not None]):
                    if call["function"] == "log_epochs" and len(call["args"]["metrics"]) > 1:
                        # Sent whole when it can be; else split, so one bad row does not sink
                        # the rows spooled with it.
                        if self._isolate(transport, call, result):
                            result.sent += count
                        else:
                            stay.update(x.number for x in good[done : done + count])
                    elif (rejected := self._send(transport, call)) is None:
                        result.sent += count
                    elif self._move(self._dead_entry(call, *rejected), rejected[0], result):
                        result.dead += count
                    else:
                        stay.update(x.number for x in good[done : done + count])
                    done += count
            except (TransportUnavailable, DatabaseError):
                stay.update(x.number for x in good[done:])
                self._keep(path, [x.data for x in lines if x.number in stay], result)
                raise
            # Nothing stays: the file goes. The lock file stays: removing it while another
            # process waits on it would let a third one lock a new file of that name.
            self._keep(path, [x.data for x in lines if x.number in stay], result)
        return result

    def _keep(self, path: Path, lines: list[bytes], result: ReplayResult) -> None:
        """Leave only ``lines`` in ``path``. When that fails the file stays as it was (its calls
        are sent again next time, which the idempotent SQL API allows) and it is reported."""
        try:
            self._rewrite(path, lines)
        except SpoolWriteError as exc:
            message = f"{exc.message}; its calls are kept and sent again next time"
            log.warning("mltrack spool: %s", message)
            result.note(message)

    def _rewrite(self, path: Path, lines: list[bytes]) -> None:
        """Replace ``path`` by ``lines`` atomically (remove it when there are none); raises
        SpoolWriteError with the file unchanged and no ``.tmp`` left behind."""
        tmp = path.with_suffix(".tmp")
        try:
            if not lines:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                return
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, b"".join(line + b"\n" for line in lines))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise SpoolWriteError(path, exc, "rewrite", "; the file is unchanged") from exc
        with contextlib.suppress(OSError):  # lost in a power cut: the old lines are sent again
            _fsync_dir(path.parent)

    def replay_all(self, transport: Transport, skip: set[str] | None = None) -> ReplayResult:
        """Replay every spooled session (``mltrack sync``); stops at the first outage. A file
        that cannot be locked or read is reported in ``errors``, and the others go on."""
        total = ReplayResult()
        for session_id in self.pending():
            if skip and session_id in skip:
                continue
            try:
                total.add(self.replay(transport, session_id))
            except SpoolError as exc:
                total.note(exc.message)
        return total
