"""The FAKE PostgREST is at least as strict as the real one where the SDK could notice.

It stands in for hosted Supabase's PostgREST (which cannot run here) in front of the REAL
migrated database; each case below is PostgREST 12's documented behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.fake_supabase import RunningFake, make_key


@pytest.fixture
def fake(direct_db_url: str) -> Iterator[RunningFake]:
    server = RunningFake(direct_db_url)
    try:
        yield server
    finally:
        server.stop()


def call(
    fake: RunningFake, fn: str, body: dict[str, object], role: str = "service_role"
) -> httpx.Response:
    key = make_key(role)
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    return httpx.post(f"{fake.url}/rest/v1/rpc/{fn}", json=body, headers=headers, timeout=10)


def test_missing_or_unknown_rpc_arguments_are_pgrst202(fake: RunningFake) -> None:
    missing = call(fake, "start_session", {"session_name": "s", "model_type": "m"})  # no epochs
    unknown = call(fake, "heartbeat", {"session_id": None, "nope": 1})
    for response in (missing, unknown):
        assert (response.status_code, response.json()["code"]) == (404, "PGRST202")


def test_statuses_follow_postgrest(fake: RunningFake) -> None:
    bad = call(fake, "start_session", {"session_name": "s", "model_type": "m", "epochs": -1})
    assert (bad.status_code, bad.json()["code"]) == (400, "MT001")
    anon = call(fake, "heartbeat", {"session_id": "00000000-0000-4000-8000-000000000000"}, "anon")
    assert (anon.status_code, anon.json()["code"]) == (401, "42501")
    expired = httpx.post(
        f"{fake.url}/rest/v1/rpc/heartbeat",
        json={},
        headers={"apikey": make_key("service_role", expires_in=-5)},
        timeout=10,
    )
    assert (expired.status_code, expired.json()["code"]) == (401, "PGRST303")
