"""Starting a run: :func:`start_session`, a new session or ``resume=`` of an unfinished one.

A new session is checked here, on the caller's thread, and started on the backend; when the
backend cannot be reached (or fails for a reason that may pass) the start is spooled and the run
begins offline, so training never waits for the database::

    import mltrack_sdk as mlt

    run = mlt.start_session("YOLOv8n v1", model_type="yolov8n", epochs=100)
    again = mlt.start_session(resume="YOLOv8n v1")   # the latest unfinished run of that name

Resuming by id works offline too: logging goes into the spool under that id, and the session row
is updated when the spool is replayed (the database checks the id and the epochs then). Resuming
by name needs the database to look the name up.

When the backend is away *and* the spool cannot be written (read-only or full disk), the run
still starts: its calls are held in memory (a warning names the spool and the cause) and sent
when the backend is back; they are lost if the process ends first.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mltrack_sdk import checks
from mltrack_sdk.connect import resolve_transport
from mltrack_sdk.custody import SPOOL_WRITE_ERRORS, Call, describe
from mltrack_sdk.errors import (
    DatabaseError,
    DatabaseUnreachableError,
    InvalidTransitionError,
    NotFoundError,
    Outcome,
    classify,
)
from mltrack_sdk.session import TERMINAL_STATUSES, Session
from mltrack_sdk.spool import Spool, SpoolError
from mltrack_sdk.transports.base import Transport, TransportUnavailable

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def _resume(transport: Transport, resume: str) -> dict[str, Any]:
    if _UUID.match(str(resume)):
        rows = transport.select("training_sessions", filters={"id": str(resume)}, limit=1)
    else:
        rows = transport.select(
            "training_sessions",
            filters={"session_name": str(resume)},
            order=[("created_at", True)],
            limit=1,
        )
    if not rows:
        raise NotFoundError(
            f"resume does not match any training session (got {resume!r})",
            sqlstate="MT005",
            field="resume",
        )
    row = rows[0]
    if row["status"] in TERMINAL_STATUSES:
        raise InvalidTransitionError(
            f"status is already {row['status']}: session {row['id']} cannot be resumed",
            sqlstate="MT004",
            field="status",
        )
    return row


def _resume_offline(spool: Spool, resume: str, reason: str) -> tuple[str, int | None, Call]:
    """The id and planned epochs (None: unknown) of a run resumed while the database is away, and
    its first call: a heartbeat, so that the spool is replayed (and the row stamped) once the
    backend is back, even before anything else is logged."""
    if not _UUID.match(str(resume)):
        raise DatabaseUnreachableError(
            f"resume={resume!r} names a session, and looking the name up needs the database,"
            f" which is unreachable ({reason}); resume by the session's id to continue offline",
            field="resume",
        )
    session_id = str(uuid.UUID(str(resume)))
    try:
        started = spool.spooled_start(session_id)
    except SpoolError:  # an unreadable spool: the epochs stay unknown, the database checks them
        started = None
    heartbeat = {"function": "heartbeat", "args": {"session_id": session_id}}
    return session_id, None if started is None else int(started["epochs"]), heartbeat


def _spool_first(spool: Spool, session_id: str, call: Call) -> tuple[list[Call], str]:
    """Spool the first call of a run that starts offline. Returns the calls for the writer to hold
    in memory (this one, when the spool cannot be written) and where the run is kept, for the
    warning."""
    try:
        spool.append(session_id, [call])
    except SPOOL_WRITE_ERRORS as exc:
        return [call], (
            f"held in memory (cannot write the spool {spool.path(session_id)}:"
            f" {describe(exc)[0]}; lost if the process ends first)"
        )
    return [], f"kept in {spool.path(session_id)}"


def start_session(
    session_name: str | None = None,
    *,
    model_type: str | None = None,
    epochs: int | None = None,
    dataset_name: str | None = None,
    dataset_size: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    img_size: int | None = None,
    config: Mapping[str, Any] | None = None,
    hardware_info: Mapping[str, Any] | None = None,
    hyperparameter_run_id: str | None = None,
    resume: str | None = None,
    database_url: str | None = None,
    transport: Transport | None = None,
    heartbeat_interval: float = 10.0,
    finish_timeout: float = 30.0,
    flush_interval: float = 0.2,
    spool_dir: str | Path | None = None,
) -> Session:
    """Start a training session (status running), or continue one with ``resume=<id or name>``.

    The backend is ``transport=``, else ``database_url=``, else the environment (see
    :func:`mltrack_sdk.connect.resolve_transport`). When the backend cannot be reached the run
    still starts: everything is spooled locally (a :class:`MltrackWarning` says so) and sent later
    (held in memory when the spool cannot be written either; see the module docstring).
    That holds for ``resume=<id>`` too (the database checks the id when the spool is replayed);
    ``resume=<name>`` then raises :class:`~mltrack_sdk.errors.DatabaseUnreachableError`.

    Example::

        run = start_session("YOLOv8n v1", model_type="yolov8n", epochs=100, batch_size=16)
        run.log_epoch(0, box_loss=1.4)
        run.finish()
    """
    owns = transport is None
    backend = resolve_transport(database_url=database_url, transport=transport)
    spool = Spool(Path(spool_dir) if spool_dir is not None else None)
    notes: list[str] = []
    offline = False
    held: list[Call] = []
    planned: int | None
    try:
        if resume is not None:
            try:
                row = _resume(backend, resume)
                session_id, planned = str(row["id"]), int(row["epochs"])
            except (TransportUnavailable, DatabaseError) as exc:
                if classify(exc, starting=True) is not Outcome.SEND_LATER:
                    raise
                offline, reason = True, exc.message
            if offline:
                session_id, planned, first = _resume_offline(spool, resume, reason)
                held, kept = _spool_first(spool, session_id, first)
                notes.append(
                    f"backend unavailable ({reason}); session {session_id} resumes offline and is"
                    f" {kept} until the backend is back (or `mltrack sync`), which then checks it"
                )
        else:
            session_id = str(uuid.uuid4())
            planned = checks.check_positive_int("epochs", epochs, required=True) or 0
            args: dict[str, Any] = {
                "session_name": checks.check_name("session_name", session_name, 200),
                "model_type": checks.check_name("model_type", model_type, 100),
                "epochs": planned,
                "dataset_name": checks.check_text("dataset_name", dataset_name, 200),
                "dataset_size": checks.check_count("dataset_size", dataset_size),
                "batch_size": checks.check_positive_int("batch_size", batch_size),
                "learning_rate": checks.check_positive("learning_rate", learning_rate),
                "img_size": checks.check_positive_int("img_size", img_size),
                "config": checks.check_json_object("config", config, 65536),
                "hardware_info": checks.check_json_object("hardware_info", hardware_info, 16384),
                "hyperparameter_run_id": hyperparameter_run_id,
                "session_id": session_id,
            }
            args = {k: v for k, v in args.items() if v is not None}
            try:
                backend.rpc("start_session", args)
            except (TransportUnavailable, DatabaseError) as exc:
                if classify(exc, starting=True) is not Outcome.SEND_LATER:
                    raise
                offline, reason = True, exc.message
            if offline:
                held, kept = _spool_first(
                    spool, session_id, {"function": "start_session", "args": args}
                )
                notes.append(
                    f"backend unavailable ({reason}); session {session_id} starts offline and is"
                    f" {kept} until the backend is back (or `mltrack sync`)"
                )
    except BaseException:
        if owns:
            backend.close()
        raise
    session = Session(
        session_id,
        planned,
        backend,
        owns_transport=owns,
        spool=spool,
        offline=offline,
        heartbeat_interval=heartbeat_interval,
        finish_timeout=finish_timeout,
        flush_interval=flush_interval,
        notes=notes,
        held=held,
    )
    session._emit_notes()
    return session
