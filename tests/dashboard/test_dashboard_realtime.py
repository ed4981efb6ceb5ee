"""The live path once through Supabase: ``mltrack dashboard`` with SUPABASE_URL + SUPABASE_KEY
reads over PostgREST and gets changes from Realtime - here the FAKE Supabase server of the SDK's
tests (tests/fakes), in front of the REAL test database - shown in Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.browser import CHROMIUM, chromium, served_dashboard, wait_live
from tests.dashboard.support import log_epoch, log_run, no_ambient_config
from tests.fakes.fake_supabase import RunningFake, make_key

__all__ = ["no_ambient_config"]  # an autouse fixture

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
)
SECONDS = 15_000


@pytest.fixture
def fake(direct_db_url: str) -> Iterator[RunningFake]:
    server = RunningFake(direct_db_url)
    yield server
    server.stop()


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
