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
import itertools
import operator
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
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


def _always(values: list[Any]) -> bool:
    return True


def _no_none(values: list[Any]) -> bool:
    # By identity: ``None in values`` compares with ==, which is a Python call per value for
    # a UUID (190 ns; 34 this way), the id column of every session read.
    return not any(map(operator.is_, values, itertools.repeat(None)))


@functools.cache
def _column_check(annotation: Any, pg_type: str) -> Callable[[list[Any]], bool] | None:
    """The check that tells whether a column of native ``pg_type`` values is what a field of
    ``annotation`` would hold (made once per field and type: a read in chunks checks each
    chunk); None when such values always need validation."""
    base, nullable = _split_optional(annotation)
    if base in _NATIVE:
        if pg_type not in _NATIVE[base]:
            return None
        return _always if nullable else _no_none
    if get_origin(base) is Literal:
        if pg_type not in _NATIVE[str]:
            return None
        allowed = frozenset(get_args(base)) | ({None} if nullable else set())
        return lambda values: set(values) <= allowed
    if get_origin(base) is dict and pg_type in _JSON:
        kinds = frozenset({dict, type(None)} if nullable else {dict})
        return lambda values: set(map(type, values)) <= kinds
    return None


def _already_valid(annotation: Any, pg_type: str, values: list[Any]) -> bool:
    """True when ``values`` (native values of ``pg_type``) are what the field would hold."""
    check = _column_check(annotation, pg_type)
    return check is not None and check(values)


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


def _compile(
    model: type[BaseModel], setters: tuple[Any, ...], params: str, prelude: str, label: str
) -> Callable[..., Any]:
    """``def make(<params>)``: runs ``prelude``, then makes the ``model`` instance whose field
    ``i`` is the variable ``v<i>`` (see :func:`_maker`)."""
    fields = tuple(model.model_fields)
    stores = "".join(f"    d[{name!r}] = v{i}\n" for i, name in enumerate(fields))
    source = (
        f"def make({params}):\n"
        f"{prelude}"
        "    d = template.copy()\n"
        f"{stores}"
        "    instance = new(model)\n"
        "    set_dict(instance, d)\n"
        "    set_fields(instance, fields_set)\n"
        "    set_extra(instance, None)\n"
        "    set_private(instance, None)\n"
        "    return instance\n"
    )
    set_dict, set_fields, set_extra, set_private = setters
    namespace: dict[str, Any] = {
        "template": dict.fromkeys(fields),
        "new": model.__new__,
        "model": model,
        "set_dict": set_dict,
        "set_fields": set_fields,
        "set_extra": set_extra,
        "set_private": set_private,
    }
    exec(compile(source, f"<{label} {model.__qualname__}>", "exec"), namespace)
    return namespace["make"]  # type: ignore[no-any-return]


@functools.cache
def _maker(model: type[BaseModel], names: tuple[str, ...]) -> Callable[..., Any] | None:
    """A function of a fields-set and one value per field of ``names`` (every field of
    ``model``, in its order) that returns the ``model`` instance ``model_construct`` would make
    of them; None for a model :func:`_slot_setters` leaves to ``model_construct``.

    Made once per model, from source as :mod:`dataclasses` makes ``__init__``: the new
    ``__dict__`` is a copy of a dict of the field names (a copy of a dict's key table, cheaper
    than inserting the keys) whose values are then stored by constant keys, and ``map`` hands it
    the values of each row straight from the columns, without a tuple per row. The names only
    appear as string constants (``repr``) and the values as positional parameters ``v0...``, so
    no field name becomes code.
    """
    setters = _slot_setters(model)
    if setters is None or names != tuple(model.model_fields):
        return None
    params = ", ".join(["fields_set", *(f"v{i}" for i in range(len(names)))])
    return _compile(model, setters, params, "", "build_models")


def build_models(model: type[M], data: Mapping[str, list[Any]]) -> list[M]:
    """One ``model`` per row of ``data``, whose columns are valid already (see
    :func:`typed_columns`). With every field present, in the model's order, the instances are
    made as ``model_construct`` makes them, without its per-field work; otherwise by
    ``model_construct`` itself (missing fields get their defaults).
    """
    names = tuple(data)
    columns = list(data.values())
    if len({len(c) for c in columns}) > 1:
        raise ValueError(f"build_models: columns of different lengths ({', '.join(names)})")
    make = _maker(model, names)
    if make is None:
        rows = zip(*columns, strict=True)
        return [model.model_construct(**dict(zip(names, r, strict=True))) for r in rows]
    # Every field is set, so one set serves the rows of this read: pydantic only ever adds
    # field names to it (and copies it for model_copy), which leaves it unchanged.
    return list(map(make, itertools.repeat(set(names)), *columns))


@functools.cache
def _row_maker(
    model: type[BaseModel],
    names: tuple[str, ...],
    parsed: tuple[str, ...],
    constants: tuple[str, ...],
) -> Callable[..., Any] | None:
    """Like :func:`_maker`, for :func:`build_models_from_rows`: a function of a fields-set, one
    value per name of ``constants``, a row tuple (values in the order of ``names``; the places of
    ``parsed`` names are skipped) and one value per name of ``parsed``."""
    setters = _slot_setters(model)
    fields = tuple(model.model_fields)
    if setters is None or sorted((*names, *constants)) != sorted(fields):
        return None
    var = {name: f"v{i}" for i, name in enumerate(fields)}
    params = ", ".join(
        ["fields_set", *(var[n] for n in constants), "row", *(var[n] for n in parsed)]
    )
    unpacked = ", ".join("_" if n in parsed else var[n] for n in names)
    prelude = f"    {unpacked}{',' if len(names) == 1 else ''} = row\n"
    return _compile(model, setters, params, prelude, "build_models_from_rows")


def build_models_from_rows(
    model: type[M],
    names: Sequence[str],
    rows: list[tuple[Any, ...]],
    pg_types: Mapping[str, str],
    *,
    parsed: Mapping[str, list[Any]] | None = None,
    constants: Mapping[str, Any] | None = None,
) -> list[M]:
    """One ``model`` per row tuple: what :func:`build_models` makes of the same values after
    :func:`typed_columns`, without turning the rows into columns when no column needs
    validation (the values are then stored as they are).

    Each tuple holds one native value of ``pg_types`` per name of ``names``, in that order; the
    values of a name in ``parsed`` (a JSON column) come from there instead, one per row; each of
    ``constants`` (a value as the field holds it, e.g. the session id a read filtered on) is the
    same in every row. A column that needs validation, or names and constants that are not
    every field of ``model`` once, go by columns (raising pydantic's ``ValidationError`` for a
    value the field refuses, as ``model_validate`` would)::

        build_models_from_rows(EpochMetrics, ["epoch", ...], rows, types,
                               parsed={"extra": extras}, constants={"session_id": sid})
    """
    parsed = parsed or {}
    constants = constants or {}
    if any(len(values) != len(rows) for values in parsed.values()):
        raise ValueError("build_models_from_rows: parsed columns of other lengths than rows")
    make = _row_maker(model, tuple(names), tuple(parsed), tuple(constants))
    if make is not None and _rows_valid(model, names, rows, pg_types, parsed):
        repeated = [itertools.repeat(v) for v in constants.values()]
        columns = [parsed[name] for name in parsed]
        fields_set = set(model.model_fields)
        return list(map(make, itertools.repeat(fields_set), *repeated, rows, *columns))
    values = zip(*rows, strict=True) if rows else ([] for _ in names)
    data = {
        name: parsed[name] if name in parsed else list(column)
        for name, column in zip(names, values, strict=True)
    }
    typed = typed_columns(model, data, pg_types)
    typed.update({name: [value] * len(rows) for name, value in constants.items()})
    return build_models(model, {f: typed[f] for f in model.model_fields if f in typed})


def _rows_valid(
    model: type[BaseModel],
    names: Sequence[str],
    rows: list[tuple[Any, ...]],
    pg_types: Mapping[str, str],
    parsed: Mapping[str, list[Any]],
) -> bool:
    """True when every column of ``rows`` is what its field would hold (see
    :func:`_column_check`); only the columns whose check looks at values are read."""
    for i, name in enumerate(names):
        pg_type = pg_types.get(name)
        check = _column_check(model.model_fields[name].annotation, pg_type) if pg_type else None
        if check is None:
            return False
        if check is not _always:
            values = parsed[name] if name in parsed else list(map(operator.itemgetter(i), rows))
            if not check(values):
                return False
    return True


__all__ = ["build_models", "build_models_from_rows", "gc_paused", "typed_columns"]
