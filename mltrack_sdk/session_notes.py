"""What ``Session.finish()`` tells the user (as a warning) when not everything reached the
database: where the calls not sent are kept, what was lost, and how to send them later.
Only what the spool really holds is claimed::

    offline_note(session_id, spool.path(session_id), writer)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mltrack_sdk.custody import Handoff
    from mltrack_sdk.writer import Writer


def offline_note(session_id: str, path: Path, writer: Writer) -> str:
    """The note when the backend was away at finish() and the writer spooled (or held)."""
    if not (writer.held or writer.dropped):
        return (
            f"the backend is unavailable: session {session_id} is kept in {path};"
            " it is sent by the next start_session() or by `mltrack sync`"
        )
    return (
        f"the spool {path} could not be written: {writer.held + writer.dropped} call(s) of"
        f" session {session_id} are lost ({writer.held} held in memory until this process"
        f" exits, {writer.dropped} dropped for want of room); anything spooled before stays"
        " there and is sent by the next start_session() or by `mltrack sync`"
    )


def timeout_note(
    session_id: str, path: Path, writer: Writer, timeout: float, handoff: Handoff | None
) -> str:
    """The note when the backend did not take everything within finish()'s ``timeout`` and
    the calls were handed over to the spool (``handoff``; None: the spool was busy)."""
    note = f"the backend did not take everything within {timeout:g} s;"
    if handoff is None:
        return (
            f"{note} the calls of session {session_id} not sent yet are still being written to"
            f" {path} (the spool is busy); they are lost if the process exits first"
        )
    if handoff.lost:
        note += (
            f" {handoff.lost} call(s) of session {session_id} could not be kept: cannot write"
            f" {path}: {handoff.error}"
        )
    else:
        note += f" {handoff.kept} call(s) of session {session_id} were kept in {path}"
    if writer.dropped:
        note += f" ({writer.dropped} more were dropped earlier: no room in memory)"
    return note + ": run `mltrack sync` to send what is kept"


__all__ = ["offline_note", "timeout_note"]
