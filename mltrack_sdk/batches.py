"""Sending epoch rows so that one bad row cannot sink its batch.

Used by the writer for live batches and by the spool for replayed ones: a batch the database
rejects for good is split until the rejected rows are alone, so every good row lands and each bad
row is set aside with its own reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from mltrack_sdk.checks import METRIC_KINDS
from mltrack_sdk.errors import DatabaseError, Outcome, classify
from mltrack_sdk.transports.base import Transport

Row = dict[str, Any]
#: Errors about the session or the schema rather than a row: every row of a batch fails alike.
_BATCH_WIDE_SQLSTATES = ("42501", "42883", "42P01")
#: The fields of log_epoch_columns after ``epoch``, in its order.
_FIELDS = (*METRIC_KINDS, "extra")


@dataclass
class Isolated:
    """What :func:`send_rows_isolating` did. ``rejected``: (rows, error) pairs, each one row the
    database refused, or a whole batch for an error about the session itself; ``unsent``: rows not
    stored because sending stopped at ``error`` (the backend went away or failed transiently)."""

    rejected: list[tuple[list[Row], Exception]] = field(default_factory=list)
    unsent: list[Row] = field(default_factory=list)
    error: Exception | None = None


def _batch_wide(exc: Exception) -> bool:
    return isinstance(exc, DatabaseError) and (
        exc.field == "session_id" or exc.sqlstate in _BATCH_WIDE_SQLSTATES
    )


def send_rows_isolating(
    transport: Transport,
    session_id: str,
    rows: list[Row],
    *,
    columns: bool = False,
    prepared: dict[str, Any] | None = None,
) -> Isolated:
    """Send epoch rows (``log_epoch_columns`` when ``columns``, else ``log_epochs``) so that one bad
    row cannot sink the others: a batch the database rejects for good is split in halves and each
    half sent again, until the rejected rows are alone. Costs one call when every row is good,
    about ``2 * log2(len(rows))`` more per bad row. An error about the session (no such session,
    not the owner, no privilege) or the schema rejects the whole batch, without splitting.
    ``prepared``: :func:`epoch_columns` of all ``rows``, made ahead (while another call was on
    the wire).

    Never raises for the backend: sending stops at the first outage or transient error, and the
    result names the rows not stored yet. Example::

        done = send_rows_isolating(transport, sid, rows)
        for bad_rows, error in done.rejected: ...      # dead-letter them
        if done.error: ...                              # spool done.unsent, retry later
    """
    result = Isolated()
    todo = [rows]  # a stack: the first rows are sent first
    while todo:
        chunk = todo.pop()
        try:
            if columns:
                if prepared is None or chunk is not rows:
                    prepared = epoch_columns(session_id, chunk)
                transport.rpc("log_epoch_columns", prepared)
            else:
                transport.rpc("log_epochs", {"session_id": session_id, "metrics": chunk})
            continue
        except Exception as exc:  # a value the driver cannot send is as final as a rejection
            if classify(exc) is Outcome.SEND_LATER:
                result.unsent = [*chunk, *(row for rest in reversed(todo) for row in rest)]
                result.error = exc
                return result
            rejected: Exception = exc
        if len(chunk) == 1 or _batch_wide(rejected):
            result.rejected.append((chunk, rejected))
        else:
            half = len(chunk) // 2
            todo += [chunk[half:], chunk[:half]]
    return result


def epoch_columns(session_id: str, rows: list[Row]) -> dict[str, Any]:
    """The arguments of ``log_epoch_columns`` for epoch rows: one list per field that any row
    gives (a row without it gets None, which keeps the stored value, as in ``log_epochs``)."""
    present = set().union(*rows)
    names = [name for name in _FIELDS if name in present]
    try:  # every row gives every field (a live run logs the same metrics each epoch): in C
        get = itemgetter("epoch", *names, "epoch")  # always a tuple, even without names
        columns = list(map(list, zip(*map(get, rows), strict=True))) or [[]]  # [] if no rows
    except KeyError:
        columns = [[row.get(name) for row in rows] for name in ("epoch", *names)]
    args: dict[str, Any] = {"session_id": session_id, "epoch": columns[0]}
    for name, values in zip(names, columns[1 : 1 + len(names)], strict=True):
        if values.count(None) < len(values):  # a column of nulls changes nothing
            args[name] = values
    return args
