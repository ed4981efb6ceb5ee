"""Values the SDK used to accept that the database refuses (or that were taken for an outage).

Each raised nothing at the call, then surfaced later: a batch dead-lettered whole, a run that
"started offline" forever, a raw RecursionError. Now each raises at the line that made it,
typed and naming the field; and the transport never takes a driver's refusal for an outage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mltrack_sdk as mlt
from mltrack_sdk import checks
from mltrack_sdk.config import mltrack_home
from mltrack_sdk.errors import DatabaseError, is_permanent
from mltrack_sdk.transports.postgres import PostgresTransport


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


CASES: list[tuple[str, Callable[[mlt.Session], Any], type[Exception], str]] = [
    # json.dumps writes 1e+300; jsonb writes all 301 digits: 60 of them pass 16 KiB.
    (
        "1e300 digits",
        lambda r: r.log_epoch(0, extra={"v": [1e300] * 60}),
        mlt.ValueTooLargeError,
        "extra",
    ),
    (
        "NUL in extra",
        lambda r: r.log_epoch(0, extra={"s": "a\x00b"}),
        mlt.InvalidValueError,
        "extra",
    ),
    ("NUL in a key", lambda r: r.log_epoch(0, extra={"a\x00": 1}), mlt.InvalidValueError, "extra"),
    (
        "lone surrogate",
        lambda r: r.log_epoch(0, extra={"s": "\ud800"}),
        mlt.InvalidValueError,
        "extra",
    ),
    ("deep nesting", lambda r: r.log_epoch(0, extra=nested(5000)), mlt.InvalidValueError, "extra"),
    (
        "int beyond a double",
        lambda r: r.log_epoch(0, box_loss=10**400),
        mlt.InvalidValueError,
        "box_loss",
    ),
    (
        "p50 above p95",
        lambda r: r.record_benchmark(5.0, p50_inference_ms=9.0, p95_inference_ms=8.0),
        mlt.InvalidValueError,
        "p95_inference_ms",
    ),
    (
        "blank device",
        lambda r: r.record_benchmark(5.0, device="\u200b"),
        mlt.MissingValueError,
        "device",
    ),
    ("fps overflows", lambda r: r.record_benchmark(1e-320), mlt.InvalidValueError, "fps"),
    (
        "class name of NUL",
        lambda r: r.record_validation({"class_name": "a\x00"}),
        mlt.InvalidValueError,
        "class_name",
    ),
]


@pytest.mark.parametrize(("case", "call", "error", "field"), CASES, ids=[c[0] for c in CASES])
def test_refused_at_the_call(
    db_url: str, case: str, call: Callable[[mlt.Session], Any], error: type[Exception], field: str
) -> None:
    run = mlt.start_session("parity", model_type="m", epochs=3, database_url=db_url)
    with pytest.raises(error) as info:
        call(run)
    assert getattr(info.value, "field", None) == field
    run.finish()


@pytest.mark.parametrize("name", ["bad\x00name", "bad\ud800name", "\u200b\u00a0"])
def test_start_session_refuses_text_postgres_cannot_hold(db_url: str, name: str) -> None:
    """It used to "start offline" on a NUL (the driver's error has no SQLSTATE), and
    `mltrack sync` then failed on it forever."""
    with pytest.raises(DatabaseError) as info:
        mlt.start_session(name, model_type="m", epochs=3, database_url=db_url)
    assert info.value.field == "session_name"
    spool = mltrack_home() / "spool"
    assert not spool.exists() or not any(spool.glob("*.jsonl"))  # nothing "started offline"


@pytest.mark.parametrize("text", ["bad\x00name", "bad\ud800name"])
def test_driver_refusal_is_permanent_not_an_outage(db_url: str, text: str) -> None:
    transport = PostgresTransport(db_url)
    try:
        with pytest.raises(DatabaseError) as info:
            transport.rpc("start_session", {"session_name": text, "model_type": "m", "epochs": 3})
        assert is_permanent(info.value)
        # The connection is still good for the next call.
        row = transport.rpc("start_session", {"session_name": "ok", "model_type": "m", "epochs": 3})
        assert row["session_name"] == "ok"
    finally:
        transport.close()


def test_jsonb_size_counts_what_postgres_counts() -> None:
    assert checks.jsonb_size("extra", {"v": [1e300]}) == len('{"v": [1' + "0" * 300 + "]}")
    assert checks.jsonb_size("extra", {"é": -0.0}) == len('{"é": 0.0}'.encode())
