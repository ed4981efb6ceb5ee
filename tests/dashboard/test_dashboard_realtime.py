"""The live path once through Supabase: ``mltrack dashboard`` with SUPABASE_URL + SUPABASE_KEY
reads over PostgREST and gets changes from Realtime - here the FAKE Supabase server of the SDK's
tests (tests/fakes), in front of the REAL test database - shown in Debian's Chromium; and the
live store over Realtime through a dropped connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.store import LiveStore
from mltrack_sdk.client import Client
from mltrack_sdk.live import change_feed
from tests.dashboard.browser import CHROMIUM, chromium, served_dashboard, wait_live
from tests.dashboard.support import log_epoch, log_run, no_ambient_config, wait_for
from tests.fakes.fake_supabase import RunningFake, make_key

__all__ = ["no_ambient_config"]  # an autouse fixture

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
)
SECONDS = 15_000


@pytest.fixture
def fake(direct_db_url: str) -> Iterator[RunningFake]:
    server = RunningFake(direct_db_url)
    yield server
    server.stop()


@needs_chromium
def test_epochs_and_completion_arrive_through_realtime(
    fake: RunningFake, direct_db_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    config = {"SUPABASE_URL": fake.url, "SUPABASE_KEY": make_key("service_role")}
    run = log_run(direct_db_url, "over realtime", epochs=5, logged=1, status=None)
    with served_dashboard(config, tmp_path) as (base, _), chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        wait_live(page)
        card = page.locator(f".st-key-active-{run.id}")
        expect(card).to_contain_text("Epoch 1/5", timeout=SECONDS)
        page.evaluate("window.__sameDocument = true")

        for epoch in (1, 2):
            log_epoch(run, epoch, 5, 0.6)
        run.flush()
        expect(card).to_contain_text("Epoch 3/5", timeout=SECONDS)

        for epoch in (3, 4):
            log_epoch(run, epoch, 5, 0.6)
        run.finish("completed")
        expect(card).to_have_count(0, timeout=SECONDS)
        page.get_by_role("tab", name="Model Leaderboard").click()
        first = page.locator(".st-key-podium [data-testid='stMetric']").first
        expect(first).to_contain_text("🏆 over realtime", timeout=SECONDS)
        assert page.evaluate("window.__sameDocument") is True


def test_a_dropped_realtime_socket_reads_reconnecting_then_live_with_what_changed(
    fake: RunningFake, direct_db_url: str
) -> None:
    """The Realtime source used to stay "ready" after its socket dropped, so the page kept
    saying live through an outage; now it reads as the Postgres source does: reconnecting while
    the socket is down, live again once the catch-up is in, with the rows written meanwhile."""
    url, key = fake.url, make_key("service_role")
    run = log_run(direct_db_url, "through a realtime outage", epochs=6, logged=2, status=None)
    sid = str(run.id)
    store = LiveStore(
        Client(supabase_url=url, supabase_key=key),
        lambda: change_feed(supabase_url=url, supabase_key=key, backoff_initial=0.2),
        offline_after=60.0,
    )
    try:
        assert store.wait_synced(15)
        wait_for(lambda: store.snapshot.state == "live", what="live")
        assert store.snapshot.active[sid][0].latest_epoch == 1

        fake.fake.refuse_realtime = True  # the socket drops and cannot come back for now
        fake.call(fake.fake.drop_sockets())
        wait_for(lambda: store.snapshot.state == "reconnecting", what="reconnecting")
        for epoch in range(2, 6):
            log_epoch(run, epoch, 6, 0.5)
        run.finish("completed")
        assert store.snapshot.state == "reconnecting"
        assert store.snapshot.sessions[sid].status == "running"  # nothing came in meanwhile

        fake.fake.refuse_realtime = False
        wait_for(lambda: store.snapshot.state == "live", timeout=15, what="live again")
        wait_for(lambda: store.snapshot.sessions[sid].status == "completed", what="the catch-up")
        assert sid not in store.snapshot.active
        assert store.snapshot.reconnected_at is not None
        notes = store.snapshot.away_notes
        assert "through a realtime outage: running → completed" in notes
        assert store.snapshot.leaderboard[0].session_name == "through a realtime outage"
    finally:
        store.close()
