"""The Supabase transport against a REAL Supabase project (the migrations pushed to it).

Runs only when ``MLTRACK_SUPABASE_URL`` and ``MLTRACK_SUPABASE_KEY`` (a ``service_role`` key) are
set; it writes one finished session named ``mltrack contract test`` per run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mltrack_sdk.errors import InvalidValueError
from mltrack_sdk.transports.supabase import SupabaseTransport

URL = os.environ.get("MLTRACK_SUPABASE_URL")
KEY = os.environ.get("MLTRACK_SUPABASE_KEY")

pytestmark = pytest.mark.skipif(
    not (URL and KEY), reason="MLTRACK_SUPABASE_URL and MLTRACK_SUPABASE_KEY are not set"
)


@pytest.fixture
def transport() -> Iterator[SupabaseTransport]:
    assert URL and KEY
    t = SupabaseTransport(URL, KEY)
    try:
        yield t
    finally:
        t.close()


def test_a_whole_session_on_supabase(transport: SupabaseTransport) -> None:
    session = transport.rpc(
        "start_session",
        {"session_name": "mltrack contract test", "model_type": "yolov8n", "epochs": 2},
    )
    sid = session["id"]
    assert session["status"] == "running"
    metrics = [{"epoch": e, "map50": 0.3 + e / 10, "map50_95": 0.2 + e / 10} for e in range(2)]
    assert transport.rpc("log_epochs", {"session_id": sid, "metrics": metrics}) == 2
    assert transport.rpc("heartbeat", {"session_id": sid}) is False
    bench = transport.rpc("record_benchmark", {"session_id": sid, "avg_inference_ms": 9.5})
    assert bench["session_id"] == sid
    assert transport.rpc("finish_session", {"session_id": sid})["status"] == "completed"

    [row] = transport.select("training_sessions", filters={"id": sid})
    assert row["best_epoch"] == 1
    rows = transport.select(
        "training_metrics", filters={"session_id": sid}, order=[("epoch", True)], limit=1
    )
    assert [r["epoch"] for r in rows] == [1]
    [summary] = transport.select("training_performance_summary", filters={"id": sid})
    assert summary["session_name"] == "mltrack contract test"


def test_invalid_value_names_the_field_on_supabase(transport: SupabaseTransport) -> None:
    sid = transport.rpc(
        "start_session",
        {"session_name": "mltrack contract test", "model_type": "yolov8n", "epochs": 1},
    )["id"]
    try:
        with pytest.raises(InvalidValueError) as info:
            transport.rpc("log_epochs", {"session_id": sid, "metrics": [{"epoch": 0, "map50": 2}]})
        assert info.value.field == "map50"
    finally:
        transport.rpc("finish_session", {"session_id": sid, "status": "cancelled"})
