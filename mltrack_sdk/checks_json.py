"""Checks of JSON objects (``extra``, ``hardware_info``, ``metadata``...) against the size
Postgres measures, cheap for the flat dicts a training loop sends. Part of
:mod:`mltrack_sdk.checks`, which re-exports these names."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mltrack_sdk.errors import ValueTooLargeError
from mltrack_sdk.errors import invalid_value as invalid

#: Where json.dumps' text may differ in length from the jsonb text Postgres measures: a float
#: in exponent notation (jsonb writes every digit), a negative zero, or a NUL escape.
_JSON_SLOW = re.compile(r"\de[+-]\d|-0\.0(?![0-9])|\\u0000")

#: An upper bound of the jsonb text of any finite double: ``-5e-324`` is "-0.000...5" (327
#: characters), ``-1.8e308`` 310; json.dumps' repr is at most 24.
_FLOAT_BOUND = 330
#: Integers below this in magnitude have at most 18 digits (and a sign).
_INT_BOUND = 10**18
#: What :func:`flat_json_bound` returns for a dict it cannot bound cheaply.
NOT_FLAT = 1 << 62


def flat_json_bound(value: dict[Any, Any]) -> int:
    """An upper bound, in bytes, of the jsonb text (and of json.dumps' text) of ``value``, or
    :data:`NOT_FLAT` unless every key is printable ASCII text and every value a finite float, an
    integer below 10**18 in magnitude, printable ASCII text, a bool or None - values that both
    JSON and jsonb take as they are, so nothing needs encoding to know the dict is good. Costs
    about 50 ns a key: ``flat_json_bound({"lr_pg1": 0.01}) == 350``."""
    size = 2 + 6 * len(value)  # braces; per key its quotes, ": " and ", " (one too many)
    for key, item in value.items():
        if type(key) is not str or not (key.isascii() and key.isprintable()):
            return NOT_FLAT
        size += 2 * len(key)  # a '"' or a '\\' is escaped as two characters
        kind = type(item)
        if kind is float:
            if item - item != 0.0:  # NaN or infinity
                return NOT_FLAT
            size += _FLOAT_BOUND
        elif kind is int:
            if not -_INT_BOUND < item < _INT_BOUND:
                return NOT_FLAT
            size += 19
        elif kind is str:
            if not (item.isascii() and item.isprintable()):
                return NOT_FLAT
            size += 2 * len(item) + 2
        elif item is None or kind is bool:
            size += 5
        else:
            return NOT_FLAT
    return size


def check_json_object(field: str, value: Any, max_bytes: int) -> dict[str, Any]:
    """A JSON-encodable dict (finite numbers only, text Postgres can store) whose jsonb text is
    at most ``max_bytes`` bytes: the size the database measures, not json.dumps' (jsonb writes
    ``1e300`` with all its digits and non-ASCII text as UTF-8).

    A flat dict of plain values whose :func:`flat_json_bound` fits is taken without encoding it
    (the writer encodes it once, to send it); anything else is encoded here to check it, with
    the same result and errors (:func:`check_json_object_encoded`)."""
    if type(value) is dict and flat_json_bound(value) <= max_bytes:
        return dict(value)
    return check_json_object_encoded(field, value, max_bytes)


def check_json_object_encoded(field: str, value: Any, max_bytes: int) -> dict[str, Any]:
    """:func:`check_json_object` by encoding ``value`` with json.dumps (the full check)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid(field, "must be a JSON object (a dict)", type(value).__name__)
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except RecursionError:
        raise invalid(field, "is nested too deeply to encode as JSON") from None
    except (TypeError, ValueError) as exc:
        raise invalid(field, f"must be JSON-encodable with finite numbers: {exc}") from exc
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise invalid(
                field, "must hold valid Unicode text (it has a lone surrogate)", text[exc.start]
            ) from None
    if _JSON_SLOW.search(text):
        size = jsonb_size(field, value)
    if size > max_bytes:
        raise ValueTooLargeError(
            f"{field} must be at most {max_bytes} bytes of JSON (got {size} bytes)",
            sqlstate="MT003",
            field=field,
        )
    return dict(value)


def _json_key(key: Any) -> str:
    """The text json.dumps makes of a non-text dict key (1 -> "1", True -> "true")."""
    return str(next(iter(json.loads(json.dumps({key: 0})))))


def jsonb_size(field: str, value: Any) -> int:
    """The length in bytes of Postgres' text of ``value`` as jsonb (``octet_length(v::text)``),
    raising for a NUL character, which jsonb cannot hold. The slow path of
    :func:`check_json_object`, for values whose json.dumps length differs."""
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid(field, "must not hold the NUL character (\\x00) in its text")
        return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    if value is None or isinstance(value, bool):
        return 4 if value is not False else 5
    if isinstance(value, int):
        return len(str(int(value)))
    if isinstance(value, float):
        if value == 0:
            return len(repr(abs(value)))  # numeric has no negative zero: -0.0 is "0.0"
        return len(format(Decimal(repr(value)), "f"))
    if isinstance(value, Mapping):
        # jsonb keeps one entry per key (the last), after json.dumps' conversion of the key.
        entries = {k if isinstance(k, str) else _json_key(k): v for k, v in value.items()}
        if not entries:
            return 2
        parts = [jsonb_size(field, k) + 2 + jsonb_size(field, v) for k, v in entries.items()]
        return 2 + sum(parts) + 2 * (len(parts) - 1)
    items = list(value)
    if not items:
        return 2
    return 2 + sum(jsonb_size(field, v) for v in items) + 2 * (len(items) - 1)


__all__ = [
    "NOT_FLAT",
    "check_json_object",
    "check_json_object_encoded",
    "flat_json_bound",
    "jsonb_size",
]
