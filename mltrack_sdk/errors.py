"""Exceptions raised by mltrack.

One root, :class:`MltrackError`, whose docstring is the default message. The CLI
turns any of them into one red line and exit code 1; anything else is a bug and
keeps its traceback.

Driver errors are translated into :class:`DatabaseError` in exactly one place,
:meth:`DatabaseError.from_driver`, always with ``raise ... from exc``.
"""

from __future__ import annotations

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
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.hint = hint
        self.detail = detail

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
        return cls(
            message,
            sqlstate=sqlstate,
            hint=getattr(diag, "message_hint", None),
            detail=getattr(diag, "message_detail", None),
        )


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
