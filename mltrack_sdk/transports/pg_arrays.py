"""Typed Postgres arrays in binary, made in a few C-level calls instead of psycopg's per-element
Python loop: the columns of an epoch batch (``log_epoch_columns``) are sent this way.

psycopg dumps a list element by element in Python, and a ``jsonb[]`` of JSON texts through a
regular expression per element: for a 1,000-row batch of 16 fields that cost as much as the
database's own work. Here a ``double precision[]`` or ``integer[]`` is one ``struct.pack`` and a
``jsonb[]`` a join of the rows' JSON texts (orjson's, where it writes what json would).
:func:`encode_array` returns None for anything it does not cover (a value of another type, an
integer out of range, text that is not valid Unicode): the caller then sends the plain list
through psycopg, which behaves (and fails) as before.

Example::

    conn.adapters.register_dumper(BinaryArray, BinaryArrayDumper)
    value = encode_array("double precision[]", [0.5, None, 1.0]) or [0.5, None, 1.0]
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import orjson
from psycopg.adapt import Dumper
from psycopg.pq import Format

#: Element type oids, and the array type oid of each element type.
_FLOAT8, _INT4, _JSONB = 701, 23, 3802
_ARRAY_OIDS = {_FLOAT8: 1022, _INT4: 1007, _JSONB: 3807}
#: ``format_type`` names of the arrays encoded here -> (element oid, struct code, size, types).
_ELEMENTS = {
    "double precision[]": (_FLOAT8, "d", 8, {float, type(None)}),
    "integer[]": (_INT4, "i", 4, {int, type(None)}),
}
_HEADER = struct.Struct(">iiIii")  # ndim, has nulls, element oid, length, lower bound
_LENGTH = struct.Struct(">i")
_NULL = _LENGTH.pack(-1)
#: JSON text as the SDK sends it (NaN is written as NaN: the database refuses it, with its error):
#: json.dumps' own C encoder, made once (json.dumps makes one per call). Without the circular
#: check: a cycle is a RecursionError here, and psycopg's path then reports it as before.
_c_encoder = json.encoder.c_make_encoder
if _c_encoder is not None:
    _chunks = _c_encoder(
        None, None, json.encoder.c_encode_basestring_ascii, None, ":", ",", False, False, True
    )

    def _encode_json(value: Any) -> str:
        return "".join(_chunks(value, 0))
else:  # a Python without the _json accelerator
    _encode_json = json.JSONEncoder(allow_nan=True, separators=(",", ":")).encode


class BinaryArray(bytes):
    """A Postgres array already in binary wire format; a subclass per array type (``oid``)."""

    oid = 0


_CLASSES = {
    oid: type(f"BinaryArray{oid}", (BinaryArray,), {"oid": oid, "__slots__": ()})
    for oid in _ARRAY_OIDS.values()
}


class BinaryArrayDumper(Dumper):
    """Hands a :class:`BinaryArray` to psycopg as it is (registered on each connection)."""

    format = Format.BINARY

    def __init__(self, cls: type, context: Any = None) -> None:
        super().__init__(cls, context)
        self.oid = getattr(cls, "oid", 0)

    def dump(self, obj: Any) -> bytes:
        return obj  # type: ignore[no-any-return]


_FORMATS: dict[tuple[str, int], str] = {}


def _format(code: str, n: int) -> str:
    """``">idid...`` for ``n`` non-null elements: a length prefix and a value each."""
    found = _FORMATS.get((code, n))
    if found is None:
        found = _FORMATS[(code, n)] = ">" + ("i" + code) * n
    return found


def _scalars(values: Sequence[Any], oid: int, code: str, size: int) -> bytes:
    n = len(values)
    if None not in values:
        flat: list[Any] = [size, 0] * n
        flat[1::2] = values
        return _HEADER.pack(1, 0, oid, n, 1) + struct.pack(_format(code, n), *flat)
    item = struct.Struct(">i" + code)
    body = b"".join(_NULL if v is None else item.pack(size, v) for v in values)
    return _HEADER.pack(1, 1, oid, n, 1) + body


def _json_bytes(value: Any) -> bytes:
    """``value`` as JSON text in UTF-8, through orjson where it writes what json would mean:
    anything orjson refuses (an integer beyond 64 bits, a key that is not text, a lone
    surrogate) and any text with a null - orjson writes NaN and infinities as null, where json
    writes NaN, which the database refuses with its error - goes through json."""
    try:
        data = orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _encode_json(value).encode("utf-8")
    return data if b"null" not in data else _encode_json(value).encode("utf-8")


def _jsonb(values: Sequence[Any]) -> bytes:
    parts = []
    nulls = 0
    for value in values:
        if value is None:
            parts.append(_NULL)
            nulls = 1
            continue
        text = b"\x01" + _json_bytes(value)  # jsonb's binary format: version 1
        parts.append(_LENGTH.pack(len(text)) + text)
    return _HEADER.pack(1, nulls, _JSONB, len(values), 1) + b"".join(parts)


def encode_array(type_name: str, values: Sequence[Any]) -> BinaryArray | None:
    """``values`` (a non-empty list) as the binary array ``type_name``, or None when this module
    does not cover it (psycopg then sends the list itself)."""
    if not isinstance(values, list) or not values:
        return None
    try:
        if type_name == "jsonb[]":
            return _CLASSES[_ARRAY_OIDS[_JSONB]](_jsonb(values))
        element = _ELEMENTS.get(type_name)
        if element is None:
            return None
        oid, code, size, kinds = element
        # Exactly these types (struct would take a bool, or an int as a double): anything else
        # goes through psycopg, as before.
        if not set(map(type, values)) <= kinds:
            return None
        return _CLASSES[_ARRAY_OIDS[oid]](_scalars(values, oid, code, size))
    except (struct.error, TypeError, ValueError, OverflowError, RecursionError):
        return None  # UnicodeEncodeError is a ValueError: a lone surrogate in extra
