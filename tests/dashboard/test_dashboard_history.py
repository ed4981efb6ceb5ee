"""Training History in a real browser: paging, a row opening its details, and the page and
filters a user chose surviving a visit to another tab, however the page's messages interleave.
One server and one browser serve the module (see conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.dashboard.browser import CHROMIUM, screenshot, wait_live
from tests.dashboard.support import ended_sessions

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
)
SECONDS = 15_000  # ms: how long an element may take to appear


def test_history_pages_and_a_row_of_page_2_opens_its_details(
    page: Any, base: str, board_db: str, home: None, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    ids = ended_sessions(board_db, 150)  # the newest sessions of this module's database
    with psycopg.connect(board_db, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from training_sessions"
            " where status in ('completed', 'failed', 'cancelled')"
        ).fetchone()
    assert row is not None
    page.goto(f"{base}/?tab=History")
    wait_live(page)
    # Every one of them listed before paging: the store may still be taking them in when the
    # page opens, and a page asked for meanwhile is not the one this test checks.
    expect(page.get_by_text(f"Rows 1-100 of {row[0]:,} session(s)")).to_be_visible(timeout=SECONDS)
    page.get_by_label("Page").fill("2")
    page.get_by_label("Page").press("Enter")
    expect(page.get_by_text(re.compile(r"Rows 101-[\d,]+ of"))).to_be_visible(timeout=SECONDS)
    table = page.locator('[data-testid="stDataFrame"]')
    # Newest first: page 2 starts with the 101st newest; its empty cells are blank.
    expect(table.locator("table")).to_contain_text("paged 49", timeout=SECONDS)
    expect(table.locator("table")).not_to_contain_text("None")
    screenshot(page, "2-training-history-page-2", tmp_path)
    box = table.locator("canvas").first.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the first row's selection box
    expect(page.get_by_role("tab", name="Session Details")).to_have_attribute(
        "aria-selected", "true", timeout=SECONDS
    )
    expect(page.get_by_role("heading", name="paged 49")).to_be_visible(timeout=SECONDS)
    expect(page).to_have_url(re.compile(f"[?&]session={ids[49]}"), timeout=SECONDS)

    # Back on Training History: the same page (Streamlit forgets a widget off screen).
    page.get_by_role("tab", name="Training History").click()
    table = page.locator('[data-testid="stDataFrame"]')
    expect(table.locator("table")).to_contain_text("paged 49", timeout=SECONDS)
    expect(page.get_by_text(re.compile(r"Rows 101-[\d,]+ of"))).to_be_visible(timeout=SECONDS)


class _Watcher:
    """Sits on the page's websocket to the server (``page.route_web_socket``): passes every
    message through and keeps the last run of the page's watcher (the fragment the browser asks
    the server to run every half second) that carried ``history_page``."""

    def __init__(self) -> None:
        self.server: Any = None
        self.last: bytes | None = None
        self.page_sent: int | None = None

    def __call__(self, route: Any) -> None:
        self.server = route.connect_to_server()
        route.on_message(self._from_page)

    def _from_page(self, message: str | bytes) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        if isinstance(message, bytes):
            sent = BackMsg.FromString(message)
            if sent.WhichOneof("type") == "rerun_script" and sent.rerun_script.fragment_id:
                for widget in sent.rerun_script.widget_states.widgets:
                    if widget.id.endswith("-history_page"):
                        self.last, self.page_sent = message, widget.int_value
        self.server.send(message)


def test_the_page_survives_a_watcher_run_sent_before_another_tab_opened(
    page: Any, base: str, board_db: str, home: None
) -> None:
    """The browser asks for a run of the page's watcher every half second, with the state of
    the widgets it shows. One asked for just before a row's details opened (while History's
    widgets were still on screen) reaches the server after the details were drawn: it brought
    History's page back into the server's widget state, and on the way back to History the
    Page box was drawn anew at its default, 1, while the server still showed page 2. The next
    watcher run then sent that 1 back: the user was thrown back to page 1.

    Here that late run is replayed in order: sent to the server after the details tab is drawn
    and before History is clicked again."""
    from playwright.sync_api import expect

    ended_sessions(board_db, 120, offset=500)
    watcher = _Watcher()
    page.route_web_socket(re.compile(r"/_stcore/stream$"), watcher)
    page.goto(f"{base}/?tab=History")
    wait_live(page)
    expect(page.get_by_text(re.compile(r"Rows 1-100 of"))).to_be_visible(timeout=SECONDS)
    page.get_by_label("Page").fill("2")
    page.get_by_label("Page").press("Enter")
    expect(page.get_by_text(re.compile(r"Rows 101-[\d,]+ of"))).to_be_visible(timeout=SECONDS)
    # (Playwright hands the socket's messages over only while the test calls it: wait in it.)
    deadline = page.evaluate("Date.now()") + SECONDS
    while watcher.page_sent != 2 and page.evaluate("Date.now()") < deadline:
        page.wait_for_timeout(50)
    late = watcher.last
    assert late is not None

    table = page.locator('[data-testid="stDataFrame"]')
    expect(table.locator("table")).to_contain_text("paged", timeout=SECONDS)
    box = table.locator("canvas").first.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the first row's selection box
    details = page.get_by_role("tab", name="Session Details")
    expect(details).to_have_attribute("aria-selected", "true", timeout=SECONDS)
    heading = page.get_by_role("heading", name=re.compile(r"paged \d+"))
    expect(heading).to_be_visible(timeout=SECONDS)  # the details are drawn
    watcher.server.send(late)

    page.get_by_role("tab", name="Training History").click()
    expect(page.get_by_text(re.compile(r"Rows 101-[\d,]+ of"))).to_be_visible(timeout=SECONDS)
    expect(page.get_by_label("Page")).to_have_value("2")
    # Whatever the browser sends next (the watcher runs twice a second) keeps page 2.
    deadline = page.evaluate("Date.now()") + 2_000
    while page.evaluate("Date.now()") < deadline:
        assert page.get_by_label("Page").input_value() == "2"
        page.wait_for_timeout(100)
    assert watcher.page_sent == 2
    expect(page.get_by_text(re.compile(r"Rows 101-[\d,]+ of"))).to_be_visible()
