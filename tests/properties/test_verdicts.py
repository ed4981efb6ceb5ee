"""For any value, the SDK's verdict equals the database's, on every path that carries it.

The SDK checks input on the training thread so a mistake raises where it was made; the database
checks it again. If the two disagree, a value accepted live is rejected later (a whole offline run
lost on replay) or a value the database would take is refused. Each case sends the same value
through every write path - ``log_epoch``, ``log_epochs`` (JSON), ``log_epoch_columns`` (typed
arrays) and a spool replay - and asserts: the SDK accepts it exactly when every path stores it,
and a rejected call writes nothing.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from mltrack_sdk import checks
from mltrack_sdk.errors import DatabaseError
from mltrack_sdk.spool import Spool
from mltrack_sdk.transports.postgres import PostgresTransport

from .conftest import count

Conn = psycopg.Connection[dict[str, Any]]

#: Characters that break naive checks: NUL, a lone surrogate, invisible and no-break spaces.
TRICKY = ["\x00", "\ud800", "\udfff", "\u200b", "\u00a0", "\ufeff", "\u2060", "\x01", " ", "\t"]
tricky_text = st.text(
    alphabet=st.one_of(st.sampled_from(TRICKY), st.characters(exclude_categories=())),
    max_size=12,
)
numbers = st.one_of(
    st.floats(),
    st.floats(min_value=-0.5, max_value=1.5),
    st.integers(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from(
        [0.0, -0.0, 1.0, 1e-320, 5e-324, 1e300, 1.5e300, 1.7976931348623157e308, 10**400, 2**63]
    ),
)
integers = st.one_of(
    st.integers(), st.integers(min_value=-2, max_value=3), st.sampled_from([2**31 - 1, 2**31])
)
# Numbers, null and booleans (the SDK refuses any other type outright; Postgres would cast "0").
metric_values = st.one_of(numbers, st.none(), st.booleans())
json_leaf = st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), tricky_text)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=16,
)
# Objects near the 16 KiB limit, where json.dumps' length and jsonb's differ.
near_limit = st.one_of(
    st.builds(
        lambda n, k, f: {"pad": "x" * n, "v": [f] * k},
        st.integers(16_250, 16_400),
        st.integers(0, 3),
        st.sampled_from([1e300, 1.5e-7, -0.0, 0.5, 12345]),
    ),
    st.builds(
        lambda k, f: {"v": [f] * k},
        st.integers(1, 80),
        st.sampled_from([1e300, -1e300, 1.5e-300, 1e-320, 123.456]),
    ),
    st.builds(lambda n: {"é": "é" * n}, st.integers(8_150, 8_200)),
)
extras = st.one_of(st.dictionaries(tricky_text, json_values, max_size=5), near_limit)


def sdk_verdict(check: Callable[[], Any]) -> bool:
    """True when the SDK's client-side check accepts; a rejection must be a typed error."""
    try:
        check()
    except DatabaseError as exc:
        assert exc.sqlstate and exc.field, exc  # it names the field and the rule
        return False
    return True


def db_accepts(send: Callable[[], Any]) -> bool:
    """True when the database took the call; any refusal (in the database, or by the driver
    before sending) counts as rejected."""
    try:
        send()
    except DatabaseError as exc:
        assert exc.sqlstate is not None, exc  # never taken for an outage
        return False
    return True


class Paths:
    """One session with room for every epoch; each case takes fresh epochs."""

    def __init__(self, db_url: str, spool_root: Path) -> None:
        self.transport = PostgresTransport(db_url)
        self.conn: Conn = psycopg.connect(db_url, autocommit=True, row_factory=dict_row)
        self.spool = Spool(spool_root)
        self.session = str(
            self.transport.rpc(
                "start_session",
                {"session_name": "properties", "model_type": "m", "epochs": 2**31 - 1},
            )["id"]
        )
        self.epochs = itertools.count()

    def rows(self, epochs: list[int]) -> dict[int, dict[str, Any]]:
        found = self.conn.execute(
            "select * from training_metrics where session_id = %s and epoch = any(%s)",
            (self.session, epochs),
        ).fetchall()
        return {r["epoch"]: r for r in found}

    def send_all(self, field: str, value: Any) -> dict[str, tuple[int, bool]]:
        """Send ``{field: value}`` through every path; returns path -> (epoch, accepted)."""
        t, sid = self.transport, self.session
        results: dict[str, tuple[int, bool]] = {}
        e = next(self.epochs)
        results["log_epoch"] = (
            e,
            db_accepts(lambda: t.rpc("log_epoch", {"session_id": sid, "epoch": e, field: value})),
        )
        e = next(self.epochs)
        results["log_epochs"] = (
            e,
            db_accepts(
                lambda: t.rpc(
                    "log_epochs", {"session_id": sid, "metrics": [{"epoch": e, field: value}]}
                )
            ),
        )
        e = next(self.epochs)
        results["log_epoch_columns"] = (
            e,
            db_accepts(
                lambda: t.rpc(
                    "log_epoch_columns", {"session_id": sid, "epoch": [e], field: [value]}
                )
            ),
        )
        e = next(self.epochs)
        call = {
            "function": "log_epochs",
            "args": {"session_id": sid, "metrics": [{"epoch": e, field: value}]},
        }
        self.spool.append(sid, [call])
        replayed = self.spool.replay(t, sid)
        results["spool replay"] = (e, replayed.sent == 1 and not replayed.dead)
        return results

    def close(self) -> None:
        self.transport.close()
        self.conn.close()


@pytest.fixture
def paths(db_url: str, tmp_path: Path) -> Iterator[Paths]:
    # In memory where the machine has it: the spool fsyncs every append, and the property is
    # about what the replay sends, not about the disk (the fault-injection tests cover that).
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path
    p = Paths(db_url, root / "spool")
    yield p
    summary = p.conn.execute(
        "select epochs_completed, (select count(*) from training_metrics m"
        " where m.session_id = s.id) as n from training_sessions s where id = %s",
        (p.session,),
    ).fetchone()
    assert summary is not None and summary["epochs_completed"] == summary["n"]
    p.close()
    shutil.rmtree(root, ignore_errors=True)


def assert_same_verdict(
    paths: Paths, field: str, value: Any, accepted: bool
) -> list[dict[str, Any]]:
    """Send through every path, compare with the SDK's verdict; returns the stored rows."""
    results = paths.send_all(field, value)
    stored = paths.rows([e for e, _ in results.values()])
    for path, (epoch, db_ok) in results.items():
        assert db_ok == accepted, f"{path}: SDK {'accepts' if accepted else 'rejects'} {value!r}"
        assert (epoch in stored) == accepted, f"{path}: a rejected call wrote a row"
    return list(stored.values())


@settings(max_examples=2500)
@given(field=st.sampled_from(sorted(checks.METRIC_KINDS)), value=metric_values)
def test_metric_values(paths: Paths, field: str, value: Any) -> None:
    count("metrics")
    metrics = {field: value}
    accepted = sdk_verdict(lambda: checks.check_metrics(metrics))
    for row in assert_same_verdict(paths, field, value, accepted):
        if value is not None:
            assert row[field] == float(value)
            assert math.copysign(1.0, row[field]) == 1.0  # -0 is stored as 0 on every path


@settings(max_examples=2000)
@given(value=extras)
def test_extra_objects(paths: Paths, value: dict[str, Any]) -> None:
    count("extra")
    accepted = sdk_verdict(lambda: checks.check_json_object("extra", value, 16384))
    assert_same_verdict(paths, "extra", value, accepted)


def start_verdict(transport: PostgresTransport, args: dict[str, Any]) -> bool:
    return db_accepts(lambda: transport.rpc("start_session", args))


@settings(max_examples=3000)
@given(
    field=st.sampled_from(["session_name", "model_type", "dataset_name"]),
    value=st.one_of(tricky_text, st.text(min_size=95, max_size=205), st.none()),
)
def test_session_texts(paths: Paths, field: str, value: Any) -> None:
    count("texts")
    limit = {"session_name": 200, "model_type": 100, "dataset_name": 200}[field]
    check = checks.check_text if field == "dataset_name" else checks.check_name
    accepted = sdk_verdict(lambda: check(field, value, limit))
    args = {"session_name": "s", "model_type": "m", "epochs": 3, field: value}
    before = paths.conn.execute("select count(*) as n from training_sessions").fetchone()
    assert start_verdict(paths.transport, args) == accepted, repr(value)
    after = paths.conn.execute("select count(*) as n from training_sessions").fetchone()
    assert before is not None and after is not None
    assert after["n"] - before["n"] == (1 if accepted else 0)


@settings(max_examples=1500)
@given(
    field=st.sampled_from(["epochs", "batch_size", "img_size", "dataset_size", "learning_rate"]),
    data=st.data(),
)
def test_session_numbers(paths: Paths, field: str, data: st.DataObject) -> None:
    """Integers of any size for the integer columns, any number for the float one (Postgres
    casts 2.5 or "5" to an integer; the SDK refuses those types outright, never sends them)."""
    count("session numbers")
    value = data.draw(numbers if field == "learning_rate" else integers)
    check = {
        "epochs": lambda: checks.check_positive_int("epochs", value, required=True),
        "batch_size": lambda: checks.check_positive_int("batch_size", value),
        "img_size": lambda: checks.check_positive_int("img_size", value),
        "dataset_size": lambda: checks.check_count("dataset_size", value),
        "learning_rate": lambda: checks.check_positive("learning_rate", value),
    }[field]
    accepted = sdk_verdict(check)
    args = {"session_name": "s", "model_type": "m", "epochs": 3, field: value}
    assert start_verdict(paths.transport, args) == accepted, repr(value)


BENCH_NUMBERS = [
    "min_inference_ms",
    "max_inference_ms",
    "p50_inference_ms",
    "p95_inference_ms",
    "preprocess_ms",
    "postprocess_ms",
    "fps",
]


@st.composite
def benchmark_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Some of record_benchmark's optional fields, each with a value of its column's type."""
    kinds = {
        **dict.fromkeys(BENCH_NUMBERS, st.one_of(st.floats(min_value=0, max_value=25), numbers)),
        "batch_size": integers,
        "warmup_runs": integers,
        "device": tricky_text,
        "dtype": tricky_text,
    }
    chosen = draw(st.lists(st.sampled_from(sorted(kinds)), max_size=5, unique=True))
    return {k: draw(st.one_of(kinds[k], st.none())) for k in chosen}


@settings(max_examples=1500)
@given(avg=st.one_of(st.floats(min_value=0, max_value=20), numbers), fields=benchmark_fields())
def test_benchmarks(paths: Paths, avg: Any, fields: dict[str, Any]) -> None:
    count("benchmarks")
    accepted = sdk_verdict(lambda: checks.benchmark_args(avg, dict(fields)))
    before = paths.conn.execute("select count(*) as n from model_benchmarks").fetchone()
    ok = db_accepts(
        lambda: paths.transport.rpc(
            "record_benchmark", {"session_id": paths.session, "avg_inference_ms": avg, **fields}
        )
    )
    assert ok == accepted, (avg, fields)
    after = paths.conn.execute("select count(*) as n from model_benchmarks").fetchone()
    assert before is not None and after is not None
    assert after["n"] - before["n"] == (1 if accepted else 0)


def test_json_size_matches_postgres(conn: Conn) -> None:
    """The SDK's jsonb size is Postgres' octet_length(v::text) (a fixed spot check of the
    slow path; the property above covers the rest)."""
    for value in ({"v": [1e300] * 3}, {"é": "é"}, {"a": -0.0, "b": 1.5e-7}, {"1": 1, 1: 2}):
        text = json.dumps(value)
        row = conn.execute("select octet_length(%s::jsonb::text) as n", (text,)).fetchone()
        assert row is not None
        assert checks.jsonb_size("extra", value) == row["n"], value
