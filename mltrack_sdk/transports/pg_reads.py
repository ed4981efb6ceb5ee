"""The reads of :class:`~mltrack_sdk.transports.postgres.PostgresTransport`: rows of a table or
view as dicts (``select``), or only some columns, as lists or streamed in chunks of row tuples
decoded in binary (``select_columns``, ``stream_columns``, ``stream_rows``). A mixin: the
transport brings its connection, its lock and its error translation::

    t = PostgresTransport(url)
    cols = t.select_columns("training_metrics", ["epoch", "map50"], filters={"session_id": sid})
"""

from __future__ import annotations

import contextlib
import itertools
import json
import operator
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from mltrack_sdk.errors import database_error, invalid_value
from mltrack_sdk.transports.base import Columns, RowChunk

#: Rows per chunk of :meth:`PostgresTransport.stream_columns`: small enough that the server has
#: the next chunk ready (in the socket's buffer) while the client works on one, large enough
#: that a chunk's fixed costs (a JSON parse, a ``zip``) stay negligible. 250 was the fastest
#: of 250-2,000 for a 10,000-row read of ``training_metrics``.
STREAM_CHUNK_ROWS = 250

#: A text's bytes with each digit as "9", each "." kept, anything else a space: an integer part of
#: 19 digits or more (Postgres writes ``1e300`` with all its digits) is then " 999...", which
#: orjson would read as a float where json (psycopg's loader) reads an int. Fraction digits
#: follow a ".", so a float's long fraction does not look like one.
_DIGIT_RUNS = bytes(57 if 48 <= b <= 57 else 46 if b == 46 else 32 for b in range(256))
_LONG_INTEGER = b" " + b"9" * 19


def parse_json(text: str) -> Any:
    """``json.loads(text)`` for JSON as Postgres writes it, with the same result, through orjson
    (several times faster) unless the text holds a long integer or orjson refuses it."""
    data = text.encode("utf-8", "surrogatepass")
    if (b" " + data).translate(_DIGIT_RUNS).rfind(_LONG_INTEGER) < 0:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # nested deeper than orjson goes; a lone surrogate
            pass
    return json.loads(text)


def _array_literal(values: Any) -> str:
    """``'{"a","b",NULL}'``: a Postgres array literal of ``values`` (as text)."""
    items = (
        "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values
    )
    return "{" + ",".join(items) + "}"


class PostgresReads:
    """Reads over the transport's one connection (see the module docstring)."""

    _lock: threading.Lock
    _relation_types: dict[str, dict[str, str]]

    def _connection(self) -> psycopg.Connection[dict[str, Any]]:
        raise NotImplementedError

    def _translated(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def _execute(self, query: Any, params: Any = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _where_order_limit(
        self,
        filters: Mapping[str, Any] | None,
        order: Sequence[tuple[str, bool]],
        limit: int | None,
    ) -> tuple[sql.Composed, list[Any]]:
        query = sql.Composed([])
        params: list[Any] = []
        if filters:
            conditions = []
            for column, value in filters.items():
                # The same meaning as over PostgREST: a collection is IN, None is IS NULL.
                if isinstance(value, list | tuple | set | frozenset):
                    # An array literal of unknown type: Postgres types it as the column's array,
                    # as it types a plain value (a list would go as text[]: uuid = text fails).
                    conditions.append(
                        sql.SQL("{} = any({})").format(sql.Identifier(column), sql.Placeholder())
                    )
                    params.append(_array_literal(value))
                elif value is None:
                    conditions.append(sql.SQL("{} is null").format(sql.Identifier(column)))
                else:
                    conditions.append(
                        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder())
                    )
                    params.append(value)
            query += sql.SQL(" where ") + sql.SQL(" and ").join(conditions)
        if order:
            query += sql.SQL(" order by ") + sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL("desc" if d else "asc"))
                for c, d in order
            )
        if limit is not None:
            query += sql.SQL(" limit {}").format(sql.Literal(int(limit)))
        return query, params

    def select(
        self,
        relation: str,
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of ``public.<relation>`` (see the Transport protocol)."""
        rest, params = self._where_order_limit(filters, order, limit)
        query = sql.SQL("select * from public.{}").format(sql.Identifier(relation)) + rest
        return self._execute(query, params)

    def _column_types(self, relation: str) -> dict[str, str]:
        """Column -> type name of ``public.<relation>``, read from the catalog once."""
        found = self._relation_types.get(relation)
        if found is None:
            rows = self._execute(
                sql.SQL(
                    "select a.attname, format_type(a.atttypid, a.atttypmod) as type"
                    " from pg_attribute a"
                    " where a.attrelid = to_regclass(format('public.%%I', %s::text))"
                    " and a.attnum > 0 and not a.attisdropped order by a.attnum"
                ),
                (relation,),
            )
            if not rows:
                raise database_error("42P01", f'relation "public.{relation}" does not exist')
            found = {r["attname"]: r["type"] for r in rows}
            self._relation_types[relation] = found
        return found

    def select_columns(
        self,
        relation: str,
        columns: Sequence[str],
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> Columns:
        """Only ``columns`` of ``public.<relation>``, one list per column (see the protocol):
        the chunks of :meth:`stream_columns` joined."""
        chunks: list[Columns] = []
        self.stream_columns(
            relation, columns, chunks.append, filters=filters, order=order, limit=limit
        )
        if len(chunks) == 1:
            return chunks[0]
        data = {
            column: list(itertools.chain.from_iterable(c.data[column] for c in chunks))
            for column in chunks[0].data
        }
        return Columns(data, chunks[0].types)

    def stream_columns(
        self,
        relation: str,
        columns: Sequence[str],
        consume: Callable[[Columns], object],
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        chunk_rows: int = STREAM_CHUNK_ROWS,
    ) -> None:
        """The rows :meth:`select_columns` returns, handed to ``consume`` in order as chunks of
        ``chunk_rows`` rows, one list per column each (see :meth:`stream_rows`)."""
        self.stream_rows(
            relation,
            columns,
            lambda chunk: consume(chunk.columns()),
            filters=filters,
            order=order,
            limit=limit,
            chunk_rows=chunk_rows,
        )

    def stream_rows(
        self,
        relation: str,
        columns: Sequence[str],
        consume: Callable[[RowChunk], object],
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        chunk_rows: int = STREAM_CHUNK_ROWS,
    ) -> None:
        """The rows :meth:`select_columns` returns, handed to ``consume`` in order as chunks of
        ``chunk_rows`` rows (:class:`~mltrack_sdk.transports.base.RowChunk`; at least one
        call, an empty chunk when no row matches). See
        :class:`~mltrack_sdk.transports.base.ColumnStream`.

        The rows come in binary, as tuples, so psycopg's C loaders decode them; JSON columns
        come as text, parsed with one :func:`parse_json` per column of a chunk. With libpq 17 or
        later the server sends the rows in chunks (psycopg's ``stream``): while ``consume``
        works on one chunk, the server is already producing the next ones, so a long read
        costs about the client's own work rather than the server's plus the client's. Errors
        are the transport's (:class:`TransportUnavailable`, ``DatabaseError``); whatever
        ``consume`` raises ends the read (the query is cancelled) and propagates as it is.
        ``consume`` runs while this transport's lock is held: it must not call the transport.
        """
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise invalid_value("chunk_rows", "must be a positive integer", chunk_rows)
        known = self._column_types(relation)
        types: dict[str, str] = {}
        for column in columns:
            if column not in known:
                raise database_error(
                    "42703", f'{column}: column "{column}" of "{relation}" does not exist'
                )
            types[column] = known[column]
        json_places = [(i, c) for i, (c, t) in enumerate(types.items()) if t in ("json", "jsonb")]
        # A JSON column as its text, SQL NULL as JSON null (None either way, as psycopg loads
        # them): a chunk's texts join into one JSON array as they are.
        picked = [
            sql.SQL("coalesce({}::text, 'null')").format(sql.Identifier(c))
            if t in ("json", "jsonb")
            else sql.Identifier(c)
            for c, t in types.items()
        ]
        rest, params = self._where_order_limit(filters, order, limit)
        query = (
            sql.SQL("select {} from public.{}").format(
                sql.SQL(", ").join(picked), sql.Identifier(relation)
            )
            + rest
        )

        def chunk(rows: list[tuple[Any, ...]]) -> RowChunk:
            parsed = {
                column: parse_json("[" + ",".join(map(operator.itemgetter(i), rows)) + "]")
                for i, column in json_places
            }
            return RowChunk(rows, types, parsed)

        with self._lock:
            with self._translated():
                cursor = self._connection().cursor(binary=True, row_factory=tuple_row)
                if not psycopg.capabilities.has_stream_chunked():
                    # libpq before 17: one result, handed over as one chunk.
                    rows = cursor.execute(query, params).fetchall()
                    stream = None
                else:
                    stream = cursor.stream(query, params, binary=True, size=chunk_rows)
            if stream is None:
                consume(chunk(rows))
                return
            # Closed on any way out: psycopg then cancels a query whose rows are still coming,
            # which leaves the connection ready for the next call.
            with contextlib.closing(stream):
                first = True
                while True:
                    with self._translated():
                        batch = list(itertools.islice(stream, chunk_rows))
                    if batch or first:
                        consume(chunk(batch))
                    first = False
                    if len(batch) < chunk_rows:
                        return


__all__ = ["STREAM_CHUNK_ROWS", "PostgresReads"]
