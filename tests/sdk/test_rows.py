"""Row models built from columns or row tuples equal what pydantic validation makes of the
same values (no database: the values are built here)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from mltrack_sdk.client import METRIC_FIELDS
from mltrack_sdk.models import EpochMetrics, TrainingSession
from mltrack_sdk.rows import build_models, build_models_from_rows, typed_columns


def test_columns_of_other_types_are_validated() -> None:
    """JSON values (as PostgREST sends them) or a type the model does not expect go through
    pydantic per column; a value the field refuses raises as ``model_validate`` would."""
    sid = uuid.uuid4()
    as_json = {
        "session_id": [str(sid)],
        "epoch": [2],
        "map50": [1],
        "recorded_at": ["2026-12-02T10:00:00+00:00"],
    }
    typed = typed_columns(EpochMetrics, as_json, None)
    assert typed["session_id"] == [sid]
    assert typed["map50"] == [1.0] and type(typed["map50"][0]) is float
    assert isinstance(typed["recorded_at"][0], datetime)
    # A numeric column (Decimal values) is not taken as float as it is.
    from decimal import Decimal

    assert typed_columns(EpochMetrics, {"map50": [Decimal("0.5")]}, {"map50": "numeric"}) == {
        "map50": [0.5]
    }
    with pytest.raises(ValidationError):
        typed_columns(EpochMetrics, {"epoch": [1, None]}, {"epoch": "integer"})
    with pytest.raises(ValidationError):
        typed_columns(TrainingSession, {"id": [sid, None]}, {"id": "uuid"})
    with pytest.raises(ValidationError):
        typed_columns(TrainingSession, {"status": ["running", "paused"]}, {"status": "text"})
    with pytest.raises(ValidationError):
        typed_columns(EpochMetrics, {"extra": [{}, [1]]}, {"extra": "jsonb"})
    # Some fields only: the others get their defaults, as model_construct gives them.
    (one,) = build_models(EpochMetrics, {"session_id": [sid], "epoch": [4]})
    assert one == EpochMetrics(session_id=sid, epoch=4)


def test_models_from_rows_equal_models_from_columns() -> None:
    """build_models_from_rows (what Client.metrics uses over Postgres) makes the models that
    typed_columns + build_models make of the same values; a column that needs validation goes
    that way, with pydantic's verdict."""
    from datetime import timezone
    from decimal import Decimal

    sid = uuid.uuid4()
    names = [f for f in METRIC_FIELDS if f != "session_id"]
    types = {n: "double precision" for n in names}
    types.update(epoch="integer", extra="jsonb", recorded_at="timestamp with time zone")
    at = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
    values = {"epoch": 0, "extra": "(text)", "recorded_at": at}
    rows = [
        tuple(e if n == "epoch" else values.get(n, None if e % 2 else e / 10) for n in names)
        for e in range(4)
    ]
    extras = [{"e": e} for e in range(4)]
    columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    columns["extra"] = extras
    reference = build_models(
        EpochMetrics, {"session_id": [sid] * 4, **typed_columns(EpochMetrics, columns, types)}
    )

    def from_rows(rows: list[Any], types: dict[str, str], extras: list[Any] = extras) -> Any:
        return build_models_from_rows(
            EpochMetrics,
            names,
            rows,
            types,
            parsed={"extra": extras},
            constants={"session_id": sid},
        )

    got = from_rows(rows, types)
    assert got == reference and [repr(m) for m in got] == [repr(m) for m in reference]
    assert from_rows([], types, []) == []
    # A numeric column holds Decimals: validated, as model_validate would.
    as_numeric = [(*r[:1], Decimal("0.5"), *r[2:]) for r in rows]
    by_columns = from_rows(as_numeric, {**types, "box_loss": "numeric"})
    assert by_columns == [m.model_copy(update={"box_loss": 0.5}) for m in reference]
    assert all(type(m.box_loss) is float for m in by_columns)
    with pytest.raises(ValidationError):
        from_rows([(None, *rows[0][1:])], types, extras[:1])  # epoch takes no None
    with pytest.raises(ValidationError):
        from_rows(rows[:1], types, [[1]])  # extra is an object
    with pytest.raises(ValueError, match="other lengths"):
        from_rows(rows, types, extras[:2])
    # Some fields only: the others get their defaults, as model_construct gives them.
    (one,) = build_models_from_rows(EpochMetrics, ["epoch"], [(4,)], {"epoch": "integer"})
    assert one == EpochMetrics.model_construct(epoch=4)
