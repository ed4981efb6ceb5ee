"""Exceptions raised by mltrack.

One root, :class:`MltrackError`, whose docstring is the default message. The CLI
turns any of them into one red line and exit code 1; anything else is a bug and
keeps its traceback.

Driver errors are translated into :class:`DatabaseError` in exactly one place,
:meth:`DatabaseError.from_driver`, always with ``raise ... from exc``.
"""

from __future__ import annotations

import enum
from typing import Any


class MltrackError(Exception):
    """Unexpected mltrack error."""

    def __init__(self, message: str | None = None) -> None:
        if not message:
            message = (self.__doc__ or type(self).__name__).strip()
        super().__init__(message)

    @property
    def message(self) -> str:
        """The human-readable message (what the CLI prints)."""
        return str(self.args[0])


class DatabaseError(MltrackError):
    """The database refused the request."""

    def __init__(
        self,
        message: str | None = None,
        *,
        sqlstate: str | None = None,
        hint: str | None = None,
        detail: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.hint = hint
        self.detail = detail
        #: The field the database named (the error's ``column`` diagnostic), if any.
        self.field = field

    @classmethod
    def from_driver(cls, exc: BaseException, context: str | None = None) -> DatabaseError:
        """Build a DatabaseError from a psycopg exception (duck-typed, no import).

        ``context`` is prefixed to the message, e.g. ``"cannot connect"``.
        Use as ``raise DatabaseError.from_driver(exc) from exc``.
        """
        diag: Any = getattr(exc, "diag", None)
        sqlstate = getattr(exc, "sqlstate", None) or getattr(diag, "sqlstate", None)
        primary = " ".join((getattr(diag, "message_primary", None) or str(exc)).split())
        message = f"{context}: {primary}" if context else primary
        return database_error(
            sqlstate,
            message,
            hint=getattr(diag, "message_hint", None),
            detail=getattr(diag, "message_detail", None),
            field=getattr(diag, "column_name", None),
            default=cls,
        )


class InvalidValueError(DatabaseError):
    """A value is out of range, not finite, of the wrong type or not a known choice (MT001)."""


def invalid_value(
    field: str, rule: str, got: Any = None, hint: str | None = None
) -> InvalidValueError:
    """An MT001 error as the database would raise it: ``field``, the ``rule`` it breaks and
    what it got (``invalid_value("map50", "must be between 0 and 1", 1.5)``)."""
    got_text = "" if got is None else f" (got {got!r})"
    return InvalidValueError(f"{field} {rule}{got_text}", sqlstate="MT001", hint=hint, field=field)


class MissingValueError(DatabaseError):
    """A required value is missing or blank (MT002)."""


class ValueTooLargeError(DatabaseError):
    """A text, JSON document or batch is over its size limit (MT003)."""


class InvalidTransitionError(DatabaseError):
    """The session's status cannot change this way (MT004)."""


class NotFoundError(DatabaseError):
    """No such session, dataset or hyperparameter run (MT005)."""


class NotOwnerError(DatabaseError):
    """The row belongs to another user: it may be read but not written (MT006)."""


class PermissionDeniedError(DatabaseError):
    """The role may not do this (SQLSTATE 42501: no privilege, or row-level security)."""


class TokenExpiredError(DatabaseError):
    """The access token has expired (PostgREST PGRST303): pass ``access_token=`` a function that
    returns the current token (e.g. from supabase-py's auth session), so it is refreshed."""


#: SQLSTATE -> exception class; the codes are documented in the README ("Error codes").
SQLSTATE_ERRORS: dict[str, type[DatabaseError]] = {
    "MT001": InvalidValueError,
    "MT002": MissingValueError,
    "MT003": ValueTooLargeError,
    "MT004": InvalidTransitionError,
    "MT005": NotFoundError,
    "MT006": NotOwnerError,
    "42501": PermissionDeniedError,
    "PGRST303": TokenExpiredError,
}


def database_error(
    sqlstate: str | None,
    message: str,
    *,
    hint: str | None = None,
    detail: str | None = None,
    field: str | None = None,
    default: type[DatabaseError] = DatabaseError,
) -> DatabaseError:
    """The typed exception for an error the database (or PostgREST relaying it) reported.

    Both transports build their errors here, so a caller sees the same class whichever
    transport ran::

        err = database_error("MT001", "map50 must be between 0 and 1 (got 1.5)", field="map50")
        assert isinstance(err, InvalidValueError) and err.field == "map50"
    """
    cls = SQLSTATE_ERRORS.get(sqlstate or "", default)
    return cls(message, sqlstate=sqlstate, hint=hint, detail=detail, field=field)


class MigrationError(MltrackError):
    """A migration could not be applied; nothing of it was kept."""

    def __init__(
        self,
        message: str | None = None,
        *,
        file: str | None = None,
        statement: str | None = None,
        sqlstate: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.statement = statement
        self.sqlstate = sqlstate


class LocalDatabaseError(MltrackError):
    """The local embedded Postgres could not be started or stopped."""


class NotConfiguredError(MltrackError):
    """No database is configured: pass database_url=, set MLTRACK_DATABASE_URL or
    SUPABASE_URL + SUPABASE_KEY, or start the local database with `mltrack up`."""


class DatabaseUnreachableError(MltrackError):
    """The database cannot be reached, and this request cannot be answered without it."""

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        #: The argument that needed the database (e.g. ``resume`` given a session name).
        self.field = field


class SessionClosedError(MltrackError):
    """The session has finished: start or resume a session to log more."""


class MltrackWarning(UserWarning):
    """Infrastructure trouble during a run (backend unreachable, a batch rejected).

    Training goes on; what could not be sent is kept in the local spool (``mltrack sync``
    sends it) or, when the database rejected it for good, in the dead-letter file.
    """


#: SQLSTATE classes of errors that repeating the same request cannot fix: mltrack's own rules
#: (MT), data exceptions (22), integrity violations (23) and syntax/permission errors (42).
PERMANENT_SQLSTATE_PREFIXES = ("MT", "22", "23", "42")


#: SQLSTATE classes of a connection that can never work as configured: invalid authorization
#: (wrong user or password) and a database that does not exist.
MISCONFIGURED_SQLSTATE_PREFIXES = ("28", "3D")


def is_misconfigured(exc: DatabaseError) -> bool:
    """True when the connection settings themselves are wrong (user, password, database name).

    ``start_session`` raises these at once; during a run they are retried, since settings can be
    fixed while the spool keeps what was logged.
    """
    return (exc.sqlstate or "")[:2] in MISCONFIGURED_SQLSTATE_PREFIXES


#: PostgREST's refusals of the credentials (invalid, missing, expired JWT): sending the same
#: request again with them fails the same way, so it is never an outage to wait out.
AUTH_CODES = frozenset({"PGRST301", "PGRST302", "PGRST303"})


def is_permanent(exc: DatabaseError) -> bool:
    """True when the database rejected the request for good (retrying would fail the same way)."""
    code = exc.sqlstate or ""
    return code[:2] in PERMANENT_SQLSTATE_PREFIXES or code in AUTH_CODES


def is_connection_failure(exc: BaseException) -> bool:
    """True when the connection itself failed: the backend unreachable, or settings that cannot
    work (wrong password, user or database name), or a connection refused before any SQLSTATE.
    (What a failed call then becomes is :func:`classify`'s answer.)"""
    if isinstance(exc, DatabaseUnreachableError):
        return True
    return isinstance(exc, DatabaseError) and (
        is_misconfigured(exc) or exc.message.startswith("cannot connect")
    )


class Outcome(enum.Enum):
    """What the SDK does with a call that failed (see :func:`classify`)."""

    #: An outage: keep the call (spool or memory) and send it when the backend is back.
    SEND_LATER = "send later"
    #: Rejected for good: set it aside in the dead-letter file, report it, go on with the rest.
    SET_ASIDE = "set aside"
    #: Raise it to the caller.
    RAISE = "raise"


def classify(exc: BaseException, *, starting: bool = False) -> Outcome:
    """The one rule for a failed call, used by every sender (writer, heartbeat, spool replay,
    batch isolation, session start).

    - the backend unreachable, or an answer that may change on retry: :attr:`Outcome.SEND_LATER`;
    - connection settings that cannot work (wrong password, no such database): raised when a
      run starts (``starting=True``), sent later during a run (settings can be fixed while the
      spool keeps what was logged);
    - rejected for good (:func:`is_permanent`), or a value the driver cannot send at all: raised
      when a run starts, :attr:`Outcome.SET_ASIDE` during a run;
    - anything that is not an ``Exception`` (``KeyboardInterrupt``): always raised.
    """
    if not isinstance(exc, Exception):
        return Outcome.RAISE
    if isinstance(exc, DatabaseUnreachableError):
        return Outcome.SEND_LATER
    if isinstance(exc, DatabaseError) and not is_permanent(exc):
        if starting and is_misconfigured(exc):
            return Outcome.RAISE
        return Outcome.SEND_LATER
    return Outcome.RAISE if starting else Outcome.SET_ASIDE
