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
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mltrack_sdk.client import METRIC_FIELDS, Client
from mltrack_sdk.errors import DatabaseError, InvalidValueError
from mltrack_sdk.models import (
    ActiveSession,
    HyperparameterRun,
    LeaderboardEntry,
    ModelBenchmark,
    SessionSummary,
    TrainingDataset,
    TrainingSession,
    ValidationResult,
)
from mltrack_sdk.rows import gc_paused
from mltrack_sdk.transports.postgres import PostgresTransport
from mltrack_sdk.transports.supabase import SupabaseTransport
from tests.fakes.fake_supabase import RunningFake, make_key

from .data import call, epochs, start
from .reads import start_run, validated

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


@settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=epoch_rows())
def test_fast_path_equals_per_row_validation(pg_client: Client, rows: list[dict[str, Any]]) -> None:
    sid = start_run(pg_client)
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


def test_columns_are_the_same_over_supabase(pg_client: Client, direct_db_url: str) -> None:
    sid = start_run(pg_client)
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
    sid = start_run(pg_client)
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
    sid = start_run(pg_client)
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
