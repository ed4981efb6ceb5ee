"""The durable local buffer: SQL API calls that could not be sent yet, and replaying them.

Layout under ``<mltrack_home>/spool/``:

- ``<session_id>.jsonl``: one JSON object per line, ``{"function": ..., "args": {...}}``, in the
  order the calls were made (``start_session`` with its client-made ``session_id`` first, then
  ``log_epochs`` batches, ..., ``finish_session``). Appends are fsync'd before they return.
- ``<session_id>.lock``: an ``flock`` lock, so a live run, ``mltrack sync`` and the next
  ``start_session`` never replay or append the same file at once.
- ``dead-letter.jsonl``: calls the database rejected for good, with its error message
  (``dead-letter.lock`` guards it). :meth:`Spool.retry_dead_letters` (``mltrack sync
  --dead-letters``) sends them again once the cause is fixed.

Replaying is safe to repeat: the SQL API is idempotent (upserts keyed by the client's ids).

Example::

    sent = Spool().replay_all(transport).sent
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltrack_sdk.config import mltrack_home
from mltrack_sdk.errors import DatabaseError, is_permanent
from mltrack_sdk.transports.base import Transport, TransportUnavailable

try:
    import fcntl
except ImportError:  # Windows: no cross-process lock, the in-process order still holds
    fcntl = None  # type: ignore[assignment]

DEAD_LETTER = "dead-letter.jsonl"
_DEAD_LETTER_LOCK = "dead-letter"
#: Consecutive spooled log_epochs batches are merged into calls of at most this many rows.
REPLAY_BATCH_ROWS = 1000


@dataclass
class ReplayResult:
    """What a replay did: calls sent, calls moved to the dead-letter file, their messages."""

    sent: int = 0
    dead: int = 0
    errors: list[str] | None = None

    def add(self, other: ReplayResult) -> None:
        self.sent += other.sent
        self.dead += other.dead
        if other.errors:
            self.errors = [*(self.errors or []), *other.errors]


def merge_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per epoch: an epoch logged twice is merged (later values win, ``extra`` merged),
    as two separate calls would be. (log_epochs keeps only the last row of an epoch in a batch.)"""
    by_epoch: dict[Any, dict[str, Any]] = {}
    for row in rows:
        seen = by_epoch.get(row["epoch"])
        if seen is None:
            by_epoch[row["epoch"]] = row
            continue
        merged = {**seen, **{k: v for k, v in row.items() if v is not None}}
        if "extra" in seen and "extra" in row:
            merged["extra"] = {**seen["extra"], **row["extra"]}
        by_epoch[row["epoch"]] = merged
    return list(by_epoch.values()) if len(by_epoch) < len(rows) else rows


def _merge(records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Group consecutive log_epochs records of one session into bigger calls.

    Returns ``(call, n_records)`` pairs; ``n_records`` is how many spooled lines a call covers.
    """
    calls: list[tuple[dict[str, Any], int]] = []
    for record in records:
        if record.get("function") == "log_epochs" and calls:
            last, count = calls[-1]
            if (
                last.get("function") == "log_epochs"
                and last["args"].get("session_id") == record["args"].get("session_id")
                and len(last["args"]["metrics"]) + len(record["args"]["metrics"])
                <= REPLAY_BATCH_ROWS
            ):
                merged = {
                    "function": "log_epochs",
                    "args": {
                        "session_id": last["args"]["session_id"],
                        "metrics": merge_rows(
                            [*last["args"]["metrics"], *record["args"]["metrics"]]
                        ),
                    },
                }
                calls[-1] = (merged, count + 1)
                continue
        calls.append((record, 1))
    return calls


class Spool:
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
    def _locked(self, session_id: str) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{session_id}.lock", "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def append(self, session_id: str, calls: list[dict[str, Any]]) -> None:
        """Append calls (``{"function", "args"}``) durably: written and fsync'd on return."""
        if not calls:
            return
        data = "".join(json.dumps(c, separators=(",", ":")) + "\n" for c in calls).encode()
        with self._locked(session_id):
            fd = os.open(self.path(session_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def pending(self) -> list[str]:
        """Session ids that have spooled calls, oldest file first."""
        if not self.root.is_dir():
            return []
        files = [p for p in self.root.glob("*.jsonl") if p.name != DEAD_LETTER]
        files.sort(key=lambda p: p.stat().st_mtime)
        return [p.stem for p in files]

    def has_pending(self, session_id: str) -> bool:
        return self.path(session_id).exists()

    def spooled_start(self, session_id: str) -> dict[str, Any] | None:
        """The arguments of the session's spooled ``start_session`` call, if it has one."""
        with self._locked(session_id):
            path = self.path(session_id)
            records = self._read(path) if path.exists() else []
        return next((r["args"] for r in records if r.get("function") == "start_session"), None)

    @staticmethod
    def _dead_entry(call: dict[str, Any], error: str, sqlstate: str | None) -> dict[str, Any]:
        return {
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "error": error,
            "sqlstate": sqlstate,
            "function": call["function"],
            "args": call["args"],
        }

    def dead_letter(self, call: dict[str, Any], error: str, sqlstate: str | None = None) -> None:
        """Keep a call the database rejected for good, with the database's message."""
        entry = self._dead_entry(call, error, sqlstate)
        with self._locked(_DEAD_LETTER_LOCK):
            fd = os.open(self.dead_letter_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (json.dumps(entry, separators=(",", ":")) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def dead_letters(self) -> list[dict[str, Any]]:
        """The rejected calls, oldest first: ``function``, ``args``, ``error``, ``sqlstate``,
        ``at``."""
        with self._locked(_DEAD_LETTER_LOCK):
            path = self.dead_letter_path
            return self._read(path) if path.exists() else []

    def retry_dead_letters(self, transport: Transport) -> ReplayResult:
        """Send the rejected calls again, in order, once their cause is fixed (say, a session's
        epochs raised after its out-of-range epochs were rejected).

        A call that goes through leaves the dead-letter file; one rejected again stays in it,
        with the database's new message. Raises :class:`TransportUnavailable` (or a
        non-permanent :class:`DatabaseError`) when the backend fails mid-way; the calls not
        tried yet stay as they were.

        Example::

            result = Spool().retry_dead_letters(transport)   # result.sent, result.dead
        """
        result = ReplayResult()
        with self._locked(_DEAD_LETTER_LOCK):
            path = self.dead_letter_path
            if not path.exists():
                return result
            entries = self._read(path)
            kept: list[dict[str, Any]] = []
            for done, entry in enumerate(entries):
                try:
                    transport.rpc(entry["function"], entry["args"])
                    result.sent += 1
                except DatabaseError as exc:
                    if not is_permanent(exc):
                        self._rewrite(path, kept + entries[done:])
                        raise
                    kept.append(self._dead_entry(entry, exc.message, exc.sqlstate))
                    result.dead += 1
                    result.errors = [*(result.errors or []), exc.message]
                except TransportUnavailable:
                    self._rewrite(path, kept + entries[done:])
                    raise
            if kept:
                self._rewrite(path, kept)
            else:
                path.unlink()
        return result

    def _read(self, path: Path) -> list[dict[str, Any]]:
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash mid-write: it was never acknowledged
        return records

    def replay(self, transport: Transport, session_id: str) -> ReplayResult:
        """Send the spooled calls of one session in order; the file is removed when all went.

        Raises :class:`TransportUnavailable` (or a non-permanent :class:`DatabaseError`) when
        the backend fails mid-way; what was not sent stays in the file.
        """
        result = ReplayResult()
        with self._locked(session_id):
            path = self.path(session_id)
            if not path.exists():
                return result
            records = self._read(path)
            done = 0
            try:
                for call, count in _merge(records):
                    try:
                        transport.rpc(call["function"], call["args"])
                        result.sent += count
                    except DatabaseError as exc:
                        if not is_permanent(exc):
                            raise
                        self.dead_letter(call, exc.message, exc.sqlstate)
                        result.dead += count
                        result.errors = [*(result.errors or []), exc.message]
                    done += count
            except (TransportUnavailable, DatabaseError):
                self._rewrite(path, records[done:])
                raise
            # The lock file stays: removing it while another process waits on it would let a
            # third one lock a new file with the same name.
            path.unlink()
        return result

    def _rewrite(self, path: Path, rest: list[dict[str, Any]]) -> None:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(c, separators=(",", ":")) + "\n" for c in rest)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def replay_all(self, transport: Transport, skip: set[str] | None = None) -> ReplayResult:
        """Replay every spooled session (``mltrack sync``); stops at the first outage."""
        total = ReplayResult()
        for session_id in self.pending():
            if skip and session_id in skip:
                continue
            total.add(self.replay(transport, session_id))
        return total
