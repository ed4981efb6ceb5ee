"""The interface both transports implement.

Every write is a call of one of the SQL API functions (``rpc``), every read a query of a table or
view (``select``). The two transports behave identically from the caller's side; errors the
database reports become :func:`mltrack_sdk.errors.database_error` exceptions, and trouble reaching
the backend becomes :class:`TransportUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mltrack_sdk.errors import DatabaseUnreachableError

if TYPE_CHECKING:
    from mltrack_sdk.connect import Target
    from mltrack_sdk.live import ChangeSource


class TransportUnavailable(DatabaseUnreachableError):
    """The backend cannot be reached right now; the request may succeed later.

    A :class:`~mltrack_sdk.errors.DatabaseUnreachableError`, the one exported error for "the
    database is unreachable": ``except mlt.DatabaseUnreachableError`` catches it from a read."""


@dataclass(frozen=True)
class Columns:
    """What :meth:`Transport.select_columns` returns: one list per column, rows in order.

    ``types`` names each column's Postgres type (``format_type``) when the values are already
    the Python values of those types (psycopg's loaders: ``uuid`` -> ``UUID``, ``timestamp with
    time zone`` -> aware ``datetime``, ``jsonb`` -> decoded JSON); it is None when they are
    JSON values that still need parsing (PostgREST sends uuids and timestamps as strings)::

        Columns(data={"epoch": [0, 1], "map50": [0.1, None]}, types={"epoch": "integer", ...})
    """

    data: dict[str, list[Any]]
    types: dict[str, str] | None = None


@dataclass(frozen=True)
class RowChunk:
    """A chunk of rows as :meth:`ColumnStream.stream_rows` hands it over: ``rows`` one tuple per
    row, a value per column of ``types`` in that order (native values, as in :class:`Columns`),
    except that a JSON column's place holds its text and its parsed values are in ``json``, one
    list per JSON column::

        RowChunk(rows=[(0, '{"k": 1}')], types={"epoch": "integer", "extra": "jsonb"},
                 json={"extra": [{"k": 1}]}).columns().data  # {"epoch": [0], "extra": [{"k": 1}]}
    """

    rows: list[tuple[Any, ...]]
    types: dict[str, str]
    json: dict[str, list[Any]]

    def columns(self) -> Columns:
        """The same values as one list per column."""
        values = zip(*self.rows, strict=True) if self.rows else ([] for _ in self.types)
        data = {
            name: self.json[name] if name in self.json else list(column)
            for name, column in zip(self.types, values, strict=True)
        }
        return Columns(data, self.types)


class Transport(Protocol):
    """What the SDK needs from a backend."""

    #: "postgres" or "supabase".
    name: str
    #: How this backend takes a batch of epochs: ``"columns"`` (``log_epoch_columns``, one typed
    #: array per field) or ``"json"`` (``log_epochs`` with a JSON array of rows).
    batch_encoding: str

    def rpc(self, function: str, args: Mapping[str, Any]) -> Any:
        """Call SQL API ``function`` with named ``args``.

        Returns a dict for a function returning one row, a list for ``setof``, a scalar otherwise
        (JSON-like values: uuids and timestamps may come back as ``str`` or native types).
        """
        ...

    def select(
        self,
        relation: str,
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of a table or view. ``filters`` are equalities (a list value means IN);
        ``order`` is ``(column, descending)`` pairs."""
        ...

    def select_columns(
        self,
        relation: str,
        columns: Sequence[str],
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> Columns:
        """Only ``columns`` of the rows :meth:`select` would return, one list per column (in
        the order of ``columns``) - what a chart draws, without a dict per row. A column the
        relation lacks raises :class:`~mltrack_sdk.errors.DatabaseError` (SQLSTATE 42703)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class ColumnStream(Protocol):
    """A transport that can also hand over :meth:`Transport.select_columns` in chunks of rows
    (the Postgres transport): a caller building something per row (models) then works on one
    chunk while the next ones are on their way, and a long read costs about the caller's own
    work. The Supabase transport has no such methods: callers fall back to ``select_columns``::

        stream = getattr(transport, "stream_columns", None)
        if stream is not None:
            stream("training_metrics", ["epoch", "map50"], chunks.append, filters=filters)
    """

    def stream_columns(
        self,
        relation: str,
        columns: Sequence[str],
        consume: Callable[[Columns], object],
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> None:
        """Call ``consume`` with each chunk, in order, of what :meth:`select_columns` returns
        (the same values and types; at least one call: an empty chunk when no row matches)."""
        ...

    def stream_rows(
        self,
        relation: str,
        columns: Sequence[str],
        consume: Callable[[RowChunk], object],
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> None:
        """The same chunks as :meth:`stream_columns`, as the rows came (:class:`RowChunk`):
        for a caller that builds one thing per row, without turning rows into columns."""
        ...


class Backend(Protocol):
    """A backend module (:mod:`~mltrack_sdk.transports.postgres`,
    :mod:`~mltrack_sdk.transports.supabase`): everything the SDK needs from one place - its
    transport (which says its ``batch_encoding``) and its change source for the live feed."""

    def open_transport(self, target: Target) -> Transport:
        """The transport to ``target``."""
        ...

    def open_change_source(
        self, target: Target, tables: Collection[str] | None, **options: Any
    ) -> ChangeSource:
        """The live changes of ``tables`` (all watched tables when None) at ``target``."""
        ...
