"""A user's access token expires (an hour by default); a long run and an open dashboard go on.

Over the FAKE PostgREST (tests/fakes), which refuses an expired JWT with PGRST303 as PostgREST 12
does, in front of the REAL migrated database. Before: an expired token was taken for an outage,
so a run spooled forever; ``Client(supabase_url=..., supabase_key=...)`` raised TypeError.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrack_sdk as mlt
from mltrack_sdk.errors import is_permanent
from mltrack_sdk.transports.supabase import SupabaseTransport
from tests.fakes.fake_supabase import RunningFake, make_key

USER = "aaaaaaaa-0000-4000-8000-00000000000a"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def fake(direct_db_url: str) -> Iterator[RunningFake]:
    server = RunningFake(direct_db_url)
    try:
        yield server
    finally:
        server.stop()


def test_a_token_provider_keeps_a_run_going_past_expiry(fake: RunningFake) -> None:
    issued = itertools.count()
    fake.sign_up(USER)

    def current_token() -> str:
        next(issued)
        return make_key("authenticated", USER, expires_in=2)

    transport = SupabaseTransport(fake.url, make_key("anon"), access_token=current_token)
    run = mlt.start_session("long", model_type="m", epochs=5, transport=transport)
    for epoch in range(6):
        run.log_epoch(epoch, map50_95=epoch / 10)
        assert run.flush(10)
        if epoch == 2:
            time.sleep(3)  # the token expires mid-run
    run.finish()
    transport.close()
    service = SupabaseTransport(fake.url, make_key("service_role"))
    try:
        detail = mlt.Client(transport=service).session(run.id)
    finally:
        service.close()
    assert (detail.session.status, len(detail.metrics)) == ("completed", 6)
    assert next(issued) >= 2  # it was asked again after the expiry


def test_an_expired_token_is_refused_at_once_not_spooled(fake: RunningFake, home: Path) -> None:
    expired = make_key("authenticated", USER, expires_in=-10)
    transport = SupabaseTransport(fake.url, make_key("anon"), access_token=expired)
    with pytest.raises(mlt.TokenExpiredError) as info:
        mlt.start_session("late", model_type="m", epochs=3, transport=transport)
    assert is_permanent(info.value)
    assert not (home / "spool").exists() or not any((home / "spool").glob("*.jsonl"))
    transport.close()


def test_client_takes_supabase_settings(fake: RunningFake) -> None:
    with mlt.Client(supabase_url=fake.url, supabase_key=make_key("service_role")) as client:
        assert client.sessions() == []
    with pytest.raises(mlt.NotConfiguredError, match="go together"):
        mlt.Client(supabase_url=fake.url)
