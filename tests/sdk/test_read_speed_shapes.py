"""The fast read paths return exactly what per-row validation returns.

``Client.metrics()`` builds its models from typed columns (psycopg's binary loaders, one JSON
parse per column, no pydantic model validated per row), and ``Client.metrics_columns()`` hands
the columns out as lists. For any rows the database accepts, both must equal what
``EpochMetrics.model_validate`` of each ``select *`` row gives - values, types, time zones and
field order - over the real Postgres transport, and over Supabase (the FAKE PostgREST in front of
the same REAL database) the columns must be the same as over Postgres.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mltrack_sdk.client import METRIC_FIELDS, Client
from mltrack_sdk.errors import DatabaseError, InvalidValueError
from mltrack_sdk.models import (
    ActiveSession,
    EpochMetrics,
    HyperparameterRun,
    LeaderboardEntry,
    ModelBenchmark,
    SessionSummary,
    TrainingDataset,
    TrainingSession,
    ValidationResult,
)
from mltrack_sdk.rows import build_models, build_models_from_rows, gc_paused, typed_columns
from mltrack_sdk.transports.postgres import PostgresTransport
from mltrack_sdk.transports.supabase import SupabaseTransport
from tests.fakes.fake_supabase import RunningFake, make_key

from .data import call, epochs, start

FRACTIONS = ("precision", "recall", "map50", "map50_95")
NON_NEGATIVE = tuple(
    f for f in METRIC_FIELDS if f not in (*FRACTIONS, "session_id", "epoch", "extra", "recorded_at")
)

text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=8)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def epoch_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    epochs = draw(st.lists(st.integers(0, 5000), min_size=0, max_size=12, unique=True))
    rows = []
    for epoch in epochs:
        row: dict[str, Any] = {"epoch": epoch}
        for name in FRACTIONS:
            row[name] = draw(st.none() | st.floats(0, 1))
        for name in NON_NEGATIVE:
            row[name] = draw(st.none() | st.floats(0, 1e300) | st.integers(0, 10**6))
        row["extra"] = draw(st.dictionaries(text, json_values, max_size=4))
        rows.append(row)
    return rows


def validated(transport: Any, sid: str) -> list[EpochMetrics]:
    """The reference: ``select *`` rows, each validated by pydantic."""
    rows = transport.select(
        "training_metrics", filters={"session_id": sid}, order=[("epoch", False)]
    )
    return [EpochMetrics.model_validate(r) for r in rows]


@pytest.fixture
def pg_client(db_url: str) -> Iterator[Client]:
    transport = PostgresTransport(db_url)
    try:
        yield Client(transport)
    finally:
        transport.close()


def _start(client: Client, name: str = "r") -> str:
    row = client.transport.rpc(
        "start_session", {"session_name": name, "model_type": "yolov8n", "epochs": 5001}
    )
    return str(row["id"])


@settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=epoch_rows())
def test_fast_path_equals_per_row_validation(pg_client: Client, rows: list[dict[str, Any]]) -> None:
    sid = _start(pg_client)
    if rows:
        pg_client.transport.rpc("log_epochs", {"session_id": sid, "metrics": rows})
    expected = validated(pg_client.transport, sid)
    assert len(expected) == len(rows)

    got = pg_client.metrics(sid)
    assert got == expected
    # Equal models can still differ in what users see: field order, time zone, int vs float.
    assert [repr(m) for m in got] == [repr(m) for m in expected]
    assert [m.model_dump_json() for m in got] == [m.model_dump_json() for m in expected]
    assert all(m.model_fields_set == set(METRIC_FIELDS) for m in got)

    columns = pg_client.metrics_columns(sid)
    assert list(columns) == ["epoch", *(f for f in METRIC_FIELDS if f != "epoch")]
    for name, values in columns.items():
        assert values == [getattr(m, name) for m in expected], name
        assert [type(v) for v in values] == [type(getattr(m, name)) for m in expected], name

    picked = sorted({r["epoch"] for r in rows})[1::2]
    assert pg_client.metrics(sid, epochs=picked) == [m for m in expected if m.epoch in picked]

    # The same columns in chunks of 3 rows (the client's reads take chunks of 250).
    where: dict[str, Any] = {"filters": {"session_id": sid}, "order": [("epoch", False)]}
    names = [f for f in METRIC_FIELDS if f != "session_id"]
    chunks: list[Any] = []
    pg_client.transport.stream_columns(
        "training_metrics", names, chunks.append, chunk_rows=3, **where
    )
    whole = pg_client.transport.select_columns("training_metrics", names, **where)
    n = len(rows)
    assert [len(c.data["epoch"]) for c in chunks] == ([3] * (n // 3) + [n % 3] * (n % 3 > 0) or [0])
    assert {n: [v for c in chunks for v in c.data[n]] for n in names} == whole.data


def test_a_long_read_streams_in_chunks_with_the_same_models(pg_client: Client) -> None:
    """600 epochs: the client's reads cross chunk boundaries (250, 250, 100 rows)."""
    sid = _start(pg_client)
    rows = [
        {"epoch": e, "map50_95": e / 600, "box_loss": None if e % 7 else 1.0, "extra": {"e": e}}
        for e in range(600)
    ]
    pg_client.transport.rpc("log_epochs", {"session_id": sid, "metrics": rows})
    expected = validated(pg_client.transport, sid)
    got = pg_client.metrics(sid)
    assert got == expected and [repr(m) for m in got] == [repr(m) for m in expected]
    columns = pg_client.metrics_columns(sid, ["box_loss", "extra"])
    assert columns == {
        "epoch": list(range(600)),
        "box_loss": [m.box_loss for m in expected],
        "extra": [{"e": e} for e in range(600)],
    }
    assert pg_client.metrics(sid, epochs=range(240, 260)) == expected[240:260]


def _chunk_sizes(transport: PostgresTransport, sid: str, **kwargs: Any) -> list[int]:
    chunks: list[Any] = []
    transport.stream_columns(
        "training_metrics",
        ["epoch", "extra"],
        chunks.append,
        filters={"session_id": sid},
        order=[("epoch", False)],
        **kwargs,
    )
    assert all(list(c.data) == ["epoch", "extra"] for c in chunks)
    assert [e for c in chunks for e in c.data["epoch"]] == sorted(
        e for c in chunks for e in c.data["epoch"]
    )
    return [len(c.data["epoch"]) for c in chunks]


def test_stream_columns_chunks_stops_and_bad_input(
    pg_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = pg_client.transport
    assert isinstance(transport, PostgresTransport)
    sid = _start(pg_client)
    assert _chunk_sizes(transport, sid, chunk_rows=4) == [0]  # no rows: one empty chunk
    rows = [{"epoch": e, "extra": {"k": e}} for e in range(10)]
    transport.rpc("log_epochs", {"session_id": sid, "metrics": rows})
    assert _chunk_sizes(transport, sid, chunk_rows=4) == [4, 4, 2]
    assert _chunk_sizes(transport, sid, chunk_rows=5) == [5, 5]  # no empty chunk at the end
    assert _chunk_sizes(transport, sid, chunk_rows=4, limit=3) == [3]
    # The same chunks as rows: a JSON column's place holds its text, its values are parsed.
    as_rows: list[Any] = []
    transport.stream_rows(
        "training_metrics",
        ["epoch", "extra"],
        as_rows.append,
        filters={"session_id": sid},
        order=[("epoch", True)],
        chunk_rows=4,
    )
    assert [r[0] for c in as_rows for r in c.rows] == list(range(9, -1, -1))
    assert as_rows[0].rows[0][1] == '{"k": 9}' and as_rows[0].json["extra"][0] == {"k": 9}
    assert [len(c.json["extra"]) for c in as_rows] == [4, 4, 2]

    # A consumer that fails ends the read: the query is cancelled, the connection stays usable.
    def refuse(chunk: Any) -> None:
        raise RuntimeError("chart closed")

    with pytest.raises(RuntimeError, match="chart closed"):
        transport.stream_columns(
            "training_metrics", ["epoch"], refuse, filters={"session_id": sid}, chunk_rows=2
        )
    assert pg_client.metrics_columns(sid, ["extra"])["extra"][9] == {"k": 9}

    for wrong in (0, -1, 2.5, True, "250"):
        with pytest.raises(InvalidValueError, match="chunk_rows must be a positive") as bad:
            transport.stream_columns("training_metrics", ["epoch"], print, chunk_rows=wrong)  # type: ignore[arg-type]
        assert bad.value.field == "chunk_rows"
    with pytest.raises(DatabaseError) as missing:
        transport.stream_columns("training_metrics", ["epoch", "nope"], print)
    assert missing.value.sqlstate == "42703"

    # A libpq before 17 cannot send rows in chunks (the same real database, read whole).
    monkeypatch.setattr(psycopg.capabilities, "has_stream_chunked", lambda check=False: False)
    assert _chunk_sizes(transport, sid, chunk_rows=4) == [10]
    assert pg_client.metrics(sid) == validated(transport, sid)


def test_columns_are_the_same_over_supabase(pg_client: Client, direct_db_url: str) -> None:
    sid = _start(pg_client)
    rows = [
        {"epoch": e, "map50": e / 10, "total_loss": 3 - e / 4, "extra": {"lr/pg1": e, "n": [e]}}
        for e in range(6)
    ]
    pg_client.transport.rpc("log_epochs", {"session_id": sid, "metrics": rows})
    fake = RunningFake(direct_db_url)
    supabase = Client(SupabaseTransport(fake.url, make_key("service_role")))
    try:
        for kwargs in ({}, {"columns": ["map50", "recorded_at"]}, {"epochs": [5, 1]}):
            over_rest = supabase.metrics_columns(sid, **kwargs)
            assert over_rest == pg_client.metrics_columns(sid, **kwargs)
        assert isinstance(over_rest["recorded_at"][0], datetime)
        assert over_rest["session_id"] == [uuid.UUID(sid)] * 2
        reference = validated(pg_client.transport, sid)
        assert supabase.metrics(sid) == pg_client.metrics(sid) == reference
    finally:
        supabase.transport.close()
        fake.stop()


def test_metrics_columns_shapes_and_bad_input(pg_client: Client) -> None:
    sid = _start(pg_client)
    pg_client.transport.rpc(
        "log_epochs",
        {"session_id": sid, "metrics": [{"epoch": e, "map50_95": e / 10} for e in (3, 0, 1)]},
    )
    chart = pg_client.metrics_columns(sid, ["map50_95", "epoch", "map50_95"])
    assert chart == {"epoch": [0, 1, 3], "map50_95": [0.0, 0.1, 0.3]}
    assert pg_client.metrics_columns(sid, ("recall",), epochs=range(1, 3)) == {
        "epoch": [1],
        "recall": [None],
    }
    assert pg_client.metrics_columns(sid, ["map50"], epochs=[]) == {"epoch": [], "map50": []}
    nobody = pg_client.metrics_columns(str(uuid.uuid4()))
    assert list(nobody) == ["epoch", *(f for f in METRIC_FIELDS if f != "epoch")]
    assert all(v == [] for v in nobody.values())
    assert pg_client.metrics(str(uuid.uuid4())) == []

    for wrong, rule in (
        (["map50", "mAP"], "'mAP' is not a metric column"),
        ("map50", "must be a list of column names"),
        ([1], "must be a list of column names"),
    ):
        with pytest.raises(InvalidValueError, match=rule) as bad:
            pg_client.metrics_columns(sid, wrong)  # type: ignore[arg-type]
        assert bad.value.field == "columns"
    with pytest.raises(InvalidValueError) as bad:
        pg_client.metrics_columns("nope", ["map50"])
    assert bad.value.field == "session_id"


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


def _world(conn: Any) -> str:
    """Sessions in every state with metrics, validation rows, benchmarks, a dataset and a
    search: a value of every column type the models hold. Returns a session's id."""
    call(conn, "upsert_dataset", name="coco8", class_names=["a", "b"], train_size=4, val_size=4)
    run = call(conn, "create_hyperparameter_run", name="sweep", search_space={"lr0": [0.1, 1]})
    sid = start(conn, "trial", hyperparameter_run_id=run["id"], config={"lr0": 0.1})["id"]
    epochs(conn, sid, {"epoch": 0, "map50_95": 0.2, "total_loss": 2.0, "extra": {"k": [1]}})
    call(conn, "record_validation", session_id=sid, results=[{"map50": 0.3, "images": 8}])
    call(conn, "record_benchmark", session_id=sid, avg_inference_ms=4.0, device="cuda:0")
    call(conn, "finish_session", session_id=sid, status="completed", final_map50_95=0.4)
    for name, status in (("live", "running"), ("queued", "pending")):
        live = start(conn, name, status=status)["id"]
        if status == "running":
            epochs(conn, live, {"epoch": 1, "recall": 0.5})
    broken = start(conn, "broken")["id"]
    call(conn, "finish_session", session_id=broken, status="failed", status_reason="OOM")
    return str(sid)


#: Columns of the active view that age with now(): two reads never agree on them.
AGEING = ("elapsed_seconds", "eta_seconds", "heartbeat_age_seconds")


def _timeless(row: Any) -> str:
    """``repr(row)`` with the ageing columns blanked (after checking they are floats)."""
    ageing = [name for name in AGEING if name in type(row).model_fields]
    assert all(type(getattr(row, name)) is float for name in ageing)
    return repr(row.model_copy(update=dict.fromkeys(ageing)))


#: Each Client read, and the ``select *`` it stood for before (relation, model, select args).
READS: list[tuple[str, Any, str, dict[str, Any]]] = [
    ("sessions", TrainingSession, "training_sessions", {"order": [("created_at", True)]}),
    ("active_sessions", ActiveSession, "active_training_sessions", {}),
    ("leaderboard", LeaderboardEntry, "models_leaderboard", {"order": [("rank", False)]}),
    ("performance_summary", SessionSummary, "training_performance_summary", {}),
    ("benchmarks", ModelBenchmark, "model_benchmarks", {}),
    ("datasets", TrainingDataset, "training_datasets", {}),
    ("hyperparameter_runs", HyperparameterRun, "hyperparameter_runs", {}),
]


@pytest.mark.parametrize("backend", ["postgres", "supabase"])
def test_every_read_equals_per_row_validation(
    backend: str, conn: Any, db_url: str, direct_db_url: str
) -> None:
    sid = _world(conn)
    fake = RunningFake(direct_db_url) if backend == "supabase" else None
    transport: Any = (
        SupabaseTransport(fake.url, make_key("service_role")) if fake else PostgresTransport(db_url)
    )
    client = Client(transport)
    try:
        for method, model, relation, args in READS:
            got = getattr(client, method)()
            reference = [model.model_validate(r) for r in transport.select(relation, **args)]
            assert sorted(map(_timeless, got)) == sorted(map(_timeless, reference)), method
            assert len(got) == len(reference) > 0, method
        detail = client.session(sid)
        rows = transport.select("validation_results", filters={"session_id": sid})
        assert list(detail.validation_results) == [ValidationResult.model_validate(r) for r in rows]
        assert detail.session == TrainingSession.model_validate(
            transport.select("training_sessions", filters={"id": sid})[0]
        )
    finally:
        transport.close()
        if fake is not None:
            fake.stop()


@pytest.mark.parametrize("backend", ["postgres", "supabase"])
def test_select_columns_refuses_a_column_the_relation_lacks(
    backend: str, conn: Any, db_url: str, direct_db_url: str
) -> None:
    start(conn, "one")
    fake = RunningFake(direct_db_url) if backend == "supabase" else None
    transport: Any = (
        SupabaseTransport(fake.url, make_key("service_role")) if fake else PostgresTransport(db_url)
    )
    try:
        got = transport.select_columns("training_sessions", ["session_name", "epochs"])
        assert got.data == {"session_name": ["one"], "epochs": [10]}
        with pytest.raises(DatabaseError) as bad:
            transport.select_columns("training_sessions", ["session_name", "nope"])
        assert bad.value.sqlstate == "42703" and "nope" in bad.value.message
    finally:
        transport.close()
        if fake is not None:
            fake.stop()


def test_gc_is_paused_for_a_read_and_left_as_it_was(pg_client: Client) -> None:
    import gc

    seen: list[bool] = []
    # Every read of the Postgres transport goes through stream_rows (select_columns too).
    real = pg_client.transport.stream_rows

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    pg_client.transport.stream_rows = spy  # type: ignore[method-assign]
    sid = _start(pg_client)
    assert gc.isenabled()
    pg_client.metrics(sid)
    pg_client.sessions()
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pg_client.metrics_columns(sid)
        assert not gc.isenabled()  # a program that turned it off keeps it off
    finally:
        gc.enable()
    with pytest.raises(InvalidValueError):
        pg_client.metrics_columns(sid, ["nope"])
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("a failed read")
    assert gc.isenabled()
