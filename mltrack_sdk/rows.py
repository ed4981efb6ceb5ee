"""Row models from columns, with validation per column instead of a pydantic model per row.

A read of 10,000 epochs spent more time validating 10,000 models than the database spent on the
query. Here a column is checked once: when the transport says its values are already the Python
values of a Postgres type that fits the field (``double precision`` -> ``float``, ``uuid`` ->
``UUID``; see :class:`~mltrack_sdk.transports.base.Columns`), a cheap scan (no ``None`` where the
field takes none, a ``Literal``'s values, JSON objects for a ``dict``) stands in for validation;
any other column is validated as one list by pydantic. The models are then built without a
second validation, so they equal what ``model_validate`` of each row gives::

    data = typed_columns(EpochMetrics, columns.data, columns.types)
    rows = build_models(EpochMetrics, data)     # == [EpochMetrics.model_validate(r) for r in ...]
"""

from __future__ import annotations

import contextlib
import functools
import gc
import types
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel, TypeAdapter

M = TypeVar("M", bound=BaseModel)

#: Python type of a field -> the Postgres types whose psycopg value already is one.
_NATIVE: dict[Any, frozenset[str]] = {
    UUID: frozenset({"uuid"}),
    int: frozenset({"smallint", "integer", "bigint"}),
    float: frozenset({"double precision", "real"}),
    str: frozenset({"text", "character varying"}),
    bool: frozenset({"boolean"}),
    datetime: frozenset({"timestamp with time zone"}),
}
_JSON = frozenset({"json", "jsonb"})


def _split_optional(annotation: Any) -> tuple[Any, bool]:
    """``float | None`` -> ``(float, True)``; ``int`` -> ``(int, False)``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(get_args(annotation))
    return annotation, False


def _already_valid(annotation: Any, pg_type: str, values: list[Any]) -> bool:
    """True when ``values`` (native values of ``pg_type``) are what the field would hold."""
    base, nullable = _split_optional(annotation)
    if not nullable and None in values:
        return False
    if base in _NATIVE:
        return pg_type in _NATIVE[base]
    if get_origin(base) is Literal:
        allowed = set(get_args(base)) | ({None} if nullable else set())
        return pg_type in _NATIVE[str] and set(values) <= allowed
    if get_origin(base) is dict and pg_type in _JSON:
        return all(type(v) is dict or (v is None and nullable) for v in values)
    return False


@functools.cache
def _list_adapter(annotation: Any) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[annotation])  # type: ignore[valid-type]


def typed_columns(
    model: type[BaseModel],
    data: Mapping[str, list[Any]],
    pg_types: Mapping[str, str] | None = None,
) -> dict[str, list[Any]]:
    """``data`` (columns named as ``model``'s fields) with every value as the field holds it.

    Columns that ``pg_types`` shows to be valid already are returned as they are; the others are
    validated as one list (raises pydantic's ``ValidationError`` for a value the field refuses)::

        typed_columns(EpochMetrics, {"epoch": ["3"]})  # {"epoch": [3]}
    """
    out: dict[str, list[Any]] = {}
    for name, values in data.items():
        annotation = model.model_fields[name].annotation
        pg_type = pg_types.get(name) if pg_types is not None else None
        if pg_type is not None and _already_valid(annotation, pg_type, values):
            out[name] = values
        else:
            out[name] = _list_adapter(annotation).validate_python(values)
    return out


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Cyclic garbage collection paused while a read makes thousands of containers at once
    (rows, dicts, models): none of them is garbage, yet each collection would walk them all
    again - a third of the CPU of a 10,000-row read. Only whoever paused it resumes it, so
    nested and concurrent reads are fine, and a program that turned it off keeps it off::

        with gc_paused():
            models = build_models(EpochMetrics, columns)
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


#: BaseModel's four slots, in the order :func:`build_models` fills them.
_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def _slot_setters(model: type[BaseModel]) -> tuple[Any, ...] | None:
    """The setters of BaseModel's slots when ``model``'s instances are nothing but their field
    values (no private attributes, no extra fields kept, no post-init hook); None for any other
    model, or a pydantic without these slots, which :func:`build_models` leaves to
    ``model_construct``. A slot's own descriptor skips ``object.__setattr__``'s type lookup."""
    if (
        model.__private_attributes__
        or model.model_config.get("extra") == "allow"
        or model.__pydantic_post_init__ is not None
    ):
        return None
    try:
        return tuple(BaseModel.__dict__[name].__set__ for name in _SLOTS)
    except (KeyError, AttributeError):
        return None


def build_models(model: type[M], data: Mapping[str, list[Any]]) -> list[M]:
    """One ``model`` per row of ``data``, whose columns are valid already (see
    :func:`typed_columns`). With every field present, in the model's order, the instances are
    made as ``model_construct`` makes them, without its per-field work; otherwise by
    ``model_construct`` itself (missing fields get their defaults).
    """
    names = list(data)
    # Columns of one length (strict), so each row tuple has one value per name.
    rows = zip(*data.values(), strict=True)
    setters = _slot_setters(model)
    if setters is None or names != list(model.model_fields):
        return [model.model_construct(**dict(zip(names, r, strict=True))) for r in rows]
    set_dict, set_fields, set_extra, set_private = setters
    new = model.__new__
    # Every field is set, so one set serves all rows: pydantic only ever adds field names to
    # it (and copies it for model_copy), which leaves a set of all of them unchanged.
    fields_set = set(names)
    out: list[M] = []
    append = out.append
    for values in rows:
        instance = new(model)
        # What model_construct sets; pydantic reads the fields from __dict__.
        # No strict= here: the keyword alone costs a quarter of this line; the rows come
        # from one strict zip above.
        set_dict(instance, dict(zip(names, values)))  # noqa: B905
        set_fields(instance, fields_set)
        set_extra(instance, None)
        set_private(instance, None)
        append(instance)
    return out


__all__ = ["build_models", "gc_paused", "typed_columns"]
