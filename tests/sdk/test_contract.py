"""One contract, both backends: the same tests against the direct Postgres transport and the
Supabase transport (supabase-py over the FAKE PostgREST, in front of the same REAL database).

Whatever a caller can notice - results, filter meaning, errors and their types - is the same
whichever transport it was given.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mltrack_sdk.errors import InvalidValueError, NotFoundError, is_permanent
from mltrack_sdk.transports.base import Transport
from mltrack_sdk.transports.postgres import PostgresTransport
from mltrack_sdk.transports.supabase import SupabaseTransport
from tests.fakes.fake_supabase import RunningFake, make_key


@pytest.fixture(params=["postgres", "supabase"])
def transport(request: pytest.FixtureRequest, db_url: str, direct_db_url: str) -> Iterator[Any]:
    if request.param == "postgres":
        made: Any = PostgresTransport(db_url)
        yield made
        made.close()
        return
    fake = RunningFake(direct_db_url)
    made = SupabaseTransport(fake.url, make_key("service_role"))
    try:
        yield made
    finally:
        made.close()
        fake.stop()


def start(t: Transport, name: str, **extra: Any) -> str:
    row = t.rpc("start_session", {"session_name": name, "model_type": "m", "epochs": 5, **extra})
    assert isinstance(row, dict) and row["status"] == "running"
    return str(row["id"])


def test_rpc_results_have_one_shape(transport: Transport) -> None:
    sid = start(transport, "a")
    assert transport.rpc("log_epochs", {"session_id": sid, "metrics": [{"epoch": 0}]}) == 1
    assert transport.rpc("heartbeat", {"session_id": sid}) is False
    done = transport.rpc("finish_session", {"session_id": sid})
    assert isinstance(done, dict) and done["status"] == "completed"


def test_filters_mean_the_same(transport: Transport) -> None:
    a, b, c = (start(transport, n) for n in ("a", "b", "c"))
    transport.rpc("finish_session", {"session_id": c, "status": "failed", "status_reason": "x"})

    def names(**filters: Any) -> list[str]:
        rows = transport.select(
            "training_sessions", filters=filters, order=[("session_name", False)]
        )
        return [r["session_name"] for r in rows]

    assert names(id=a) == ["a"]
    assert names(id=[a, b]) == ["a", "b"]
    assert names(id={b, c}) == ["b", "c"]
    assert names(id=(uuid.UUID(a),)) == ["a"]
    assert names(id=[]) == []
    assert names(status_reason=None) == ["a", "b"]
    assert names(status="failed") == ["c"]
    limited = transport.select("training_sessions", order=[("session_name", True)], limit=2)
    assert [r["session_name"] for r in limited] == ["c", "b"]


def test_errors_have_one_type(transport: Transport) -> None:
    sid = start(transport, "e")
    with pytest.raises(InvalidValueError) as bad:
        transport.rpc("log_epochs", {"session_id": sid, "metrics": [{"epoch": 0, "map50": 2}]})
    assert (bad.value.sqlstate, bad.value.field) == ("MT001", "map50")
    assert is_permanent(bad.value)
    with pytest.raises(NotFoundError) as missing:
        transport.rpc("heartbeat", {"session_id": str(uuid.uuid4())})
    assert missing.value.field == "session_id"
