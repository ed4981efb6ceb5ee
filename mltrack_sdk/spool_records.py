"""Spool records: what a spooled line may hold, parsing it, merging epoch batches for replay,
and what a replay reports (its result and the spool's errors).

A line is a call of the SQL API, ``{"function": ..., "args": {...}}``. :func:`parse_line` tells
why a line is not one (not UTF-8, not JSON, not an object, an unknown function, arguments that
could never be sent); :mod:`mltrack_sdk.spool` moves such lines to the dead-letter file.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltrack_sdk.errors import MltrackError

#: The dead-letter file's lock name, and the keys every entry of it has.
DEAD_LETTER_LOCK = "dead-letter"
ENTRY_KEYS = ("at", "error", "sqlstate", "function", "args")


def encode_record(value: Any) -> bytes:
    """One spool or dead-letter line (without its newline). The epoch rows of a log_epochs call
    leave out the metrics not given: ``log_epoch`` passes each metric along, None when not given,
    and a null means the same as a missing key (the stored value is kept)."""
    if isinstance(value, dict) and value.get("function") == "log_epochs":
        args = value.get("args")
        rows = args.get("metrics") if isinstance(args, dict) else None
        if isinstance(rows, list):
            compact = [
                {k: v for k, v in row.items() if v is not None} if isinstance(row, dict) else row
                for row in rows
            ]
            value = {**value, "args": {**args, "metrics": compact}}
    return json.dumps(value, separators=(",", ":")).encode()


#: Consecutive spooled log_epochs batches are merged into calls of at most this many rows.
REPLAY_BATCH_ROWS = 1000
#: The SQL API (supabase/migrations). A spooled call of any other function is malformed:
#: PostgREST answers PGRST202, not a permanent error, and the replay would stop there for good.
API_FUNCTIONS = frozenset(
    {
        *("create_hyperparameter_run", "finish_hyperparameter_run", "finish_session"),
        *("heartbeat", "log_epoch"),
        *("log_epoch_columns", "log_epochs", "mark_stale_sessions", "record_benchmark"),
        *("record_validation", "request_stop", "schedule_stale_check", "start_session"),
        *("upsert_dataset",),
    }
)
#: The jsonb arguments of the SQL API, the only ones that may hold JSON objects. psycopg cannot
#: send an object (or a NUL character) elsewhere, an error without SQLSTATE that looks transient.
JSON_ARGS = frozenset(
    {"config", "extra", "hardware_info", "metadata", "metrics", "results", "search_space"}
)


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
        if isinstance(seen.get("extra"), dict) and isinstance(row.get("extra"), dict):
            merged["extra"] = {**seen["extra"], **row["extra"]}
        by_epoch[row["epoch"]] = merged
    return list(by_epoch.values()) if len(by_epoch) < len(rows) else rows


def merge_calls(records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Group consecutive log_epochs records of one session into bigger calls.

    Returns ``(call, n_records)`` pairs; ``n_records`` is how many spooled lines a call covers.
    """
    calls: list[tuple[dict[str, Any], int]] = []
    for record in records:
        last, count = calls[-1] if calls else ({}, 0)
        if (
            record["function"] == last.get("function") == "log_epochs"
            and last["args"].get("session_id") == record["args"].get("session_id")
            and len(last["args"]["metrics"]) + len(record["args"]["metrics"]) <= REPLAY_BATCH_ROWS
        ):
            metrics = merge_rows([*last["args"]["metrics"], *record["args"]["metrics"]])
            args = {"session_id": last["args"].get("session_id"), "metrics": metrics}
            calls[-1] = ({"function": "log_epochs", "args": args}, count + 1)
        else:
            calls.append((record, 1))
    return calls


def json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def unsendable(value: Any) -> str | None:
    """What in a non-jsonb argument cannot be sent at all (iterative: nesting may be deep)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            return "a JSON object"
        if isinstance(item, str) and "\x00" in item:
            return "a NUL character"
        if isinstance(item, list):
            stack.extend(item)
    return None


def call_problem(record: dict[str, Any]) -> str | None:
    """Why ``record`` is no call that can be sent to the SQL API; None when it is one."""
    function, args = record.get("function"), record.get("args")
    if not isinstance(function, str):
        return f'"function" must be a string, got {json_type(function)}'
    if function not in API_FUNCTIONS:
        return f"unknown function {function!r}"
    if not isinstance(args, dict):
        return f'"args" of {function}() must be a JSON object, got {json_type(args)}'
    for name, value in args.items():
        found = None if name in JSON_ARGS else unsendable(value)
        if found:
            return f"argument {name} of {function}() must not hold {found}"
    metrics = args.get("metrics") if function == "log_epochs" else []
    if not isinstance(metrics, list):
        return f"metrics of log_epochs() must be a JSON array, got {json_type(metrics)}"
    for i, row in enumerate(metrics):
        if not isinstance(row, dict):
            return f"metrics[{i}] of log_epochs() must be a JSON object, got {json_type(row)}"
        if type(row.get("epoch")) is not int:  # merge_rows keys on it; a bool is no epoch
            return f"metrics[{i}].epoch must be an integer, got {json_type(row.get('epoch'))}"
        if not isinstance(row.get("extra", {}), dict | None):  # merge_rows merges it
            return f"metrics[{i}].extra must be a JSON object, got {json_type(row['extra'])}"
    return None


@dataclass
class Line:
    """One non-blank line of a spool or dead-letter file: its JSON object, if it is one, and why
    it is not a call that can be sent (None when it is)."""

    number: int
    data: bytes
    record: dict[str, Any] | None
    problem: str | None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="backslashreplace")


def parse_line(number: int, data: bytes, torn: bool) -> Line:
    record, problem = None, None
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 ({exc.reason} at byte {exc.start})"
    except (ValueError, RecursionError) as exc:
        problem = f"not JSON ({exc})"
    else:
        record = value if isinstance(value, dict) else None
        problem = (
            call_problem(record)
            if record is not None
            else f"expected a JSON object, got {json_type(value)}"
        )
    if torn and record is None:
        problem = f"torn last line, a write cut short by a crash (never acknowledged): {problem}"
    return Line(number, data, record, problem)


class SpoolError(MltrackError):
    """The local spool could not be read or written: ``path`` is the file or directory, ``errno``
    the OS error code (None when the cause was no OS error)."""

    def __init__(self, path: Path, cause: BaseException, doing: str, outcome: str = "") -> None:
        code = getattr(cause, "errno", None)
        reason = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        name = f" ({errno.errorcode[code]})" if code in errno.errorcode else ""
        super().__init__(f"cannot {doing} {path}: {reason}{name}{outcome}")
        self.path = path
        self.errno = code


class SpoolWriteError(SpoolError):
    """The spool could not keep a write (disk full, I/O error, read-only or unusable directory);
    nothing of the write that raised it was kept."""


@dataclass
class ReplayResult:
    """What a replay did: calls sent, calls the database rejected (``dead``) and malformed
    records (``malformed``), both moved to the dead-letter file, and the messages of those and
    of any trouble with the spool itself (``errors``)."""

    sent: int = 0
    dead: int = 0
    errors: list[str] | None = None
    malformed: int = 0

    def note(self, message: str) -> None:
        self.errors = [*(self.errors or []), message]

    def add(self, other: ReplayResult) -> None:
        self.sent += other.sent
        self.dead += other.dead
        self.malformed += other.malformed
        for message in other.errors or []:
            self.note(message)
