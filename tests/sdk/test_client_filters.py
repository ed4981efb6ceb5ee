"""Client reads narrowed to what a change names (``ids=``, ``epochs=``), what a live view
re-reads instead of everything: the same over both transports (Postgres, and Supabase through
the FAKE PostgREST in front of the REAL database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mltrack_sdk.client import Client
from mltrack_sdk.errors import InvalidValueError
from mltrack_sdk.transports.postgres import PostgresTransport
from mltrack_sdk.transports.supabase import SupabaseTransport
from tests.fakes.fake_supabase import RunningFake, make_key


@pytest.fixture(params=["postgres", "supabase"])
def client(request: pytest.FixtureRequest, db_url: str, direct_db_url: str) -> Iterator[Client]:
    if request.param == "postgres":
        transport: Any = PostgresTransport(db_url)
        yield Client(transport)
        transport.close()
        return
    fake = RunningFake(direct_db_url)
    transport = SupabaseTransport(fake.url, make_key("service_role"))
    try:
        yield Client(transport)
    finally:
        transport.close()
        fake.stop()


def _start(client: Client, name: str) -> str:
    row = client.transport.rpc(
        "start_session", {"session_name": name, "model_type": "yolov8n", "epochs": 10}
    )
    return str(row["id"])


def test_sessions_and_active_sessions_by_id(client: Client) -> None:
    a, b, c = (_start(client, n) for n in ("a", "b", "c"))
    client.transport.rpc("finish_session", {"session_id": c, "status": "completed"})
    assert [s.session_name for s in client.sessions(ids=[a, c], limit=None)] == ["c", "a"]
    assert [s.session_name for s in client.sessions(ids=[uuid.UUID(b)])] == ["b"]
    assert [s.session_name for s in client.sessions(ids=a)] == ["a"]  # one id as text
    assert client.sessions(ids=[]) == []
    assert [s.session_name for s in client.sessions("completed", ids=[a, c])] == ["c"]
    assert [str(r.id) for r in client.active_sessions(ids=[a, c])] == [a]  # c is not running
    assert client.active_sessions(ids=[]) == []
    assert {str(r.id) for r in client.active_sessions()} == {a, b}
    with pytest.raises(InvalidValueError) as bad:
        client.sessions(ids=["not-a-uuid"])
    assert bad.value.field == "session_id"


def test_metrics_of_some_epochs(client: Client) -> None:
    sid = _start(client, "m")
    rows = [{"epoch": e, "map50": e / 10} for e in range(6)]
    client.transport.rpc("log_epochs", {"session_id": sid, "metrics": rows})
    assert [m.epoch for m in client.metrics(sid, epochs=range(2, 5))] == [2, 3, 4]
    assert [m.epoch for m in client.metrics(sid, epochs=(e for e in (5, 0)))] == [0, 5]
    assert [m.epoch for m in client.metrics(sid, epochs={9})] == []
    assert client.metrics(sid, epochs=[]) == []
    assert len(client.metrics(sid)) == 6
    for wrong in ([-1], [1.5], [True], "12"):
        with pytest.raises(InvalidValueError) as bad:
            client.metrics(sid, epochs=wrong)  # type: ignore[arg-type]
        assert bad.value.field == "epochs"
