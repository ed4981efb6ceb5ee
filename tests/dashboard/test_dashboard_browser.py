"""The dashboard in a real browser: ``mltrack dashboard`` on a test database, Debian's Chromium
driven headless by Playwright. What a test logs through the SDK appears in the open page without
a reload. One server and one browser serve the whole module; a screenshot of each tab is kept
under the test's tmp dir and in test-results/dashboard/.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mltrack_sdk.client import Client
from tests.dashboard.browser import CHROMIUM, screenshot, wait_live
from tests.dashboard.support import log_epoch, log_run, wait_for

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
)
SECONDS = 15_000  # ms: how long an element may take to appear


def _goto(page: Any, base: str, tab: str | None = None) -> None:
    page.goto(base)
    wait_live(page)
    if tab:
        page.get_by_role("tab", name=tab).click()


def _metric(page: Any, label: str) -> Any:
    return page.locator('[data-testid="stMetric"]', has_text=label).first


def _completed(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("select count(*) from training_sessions where status = 'completed'")
    return int(row.fetchone()[0])  # type: ignore[index]


def _holds(page: Any, seconds: float, **checks: Any) -> None:
    """Each of ``checks`` (name: a function of nothing) stays true for ``seconds``, looked at
    every 50 ms: an element the page draws and then loses fails here."""
    deadline = page.evaluate("Date.now()") + seconds * 1000
    while page.evaluate("Date.now()") < deadline:
        for name, check in checks.items():
            assert check(), f"{name} did not hold for {seconds:g} s"
        page.wait_for_timeout(50)


def _selected(tab: Any) -> bool:
    return bool(tab.get_attribute("aria-selected") == "true")


def _completed_now(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return _completed(conn)


def _choose(page: Any, key: str, *texts: str) -> None:
    """Pick the options containing ``texts`` in the select widget with ``key``, one at a time
    (each pick re-runs the page, which may close the list: it is opened again). A click that
    does not take (on a loaded machine, one landing while the list still moves into place) is
    made again, as a user would, until ``SECONDS`` have passed."""
    from playwright.sync_api import expect

    widget = page.locator(f".st-key-{key}")
    box = widget.get_by_role("combobox")

    def chosen(text: str) -> bool:  # a multiselect's tag, or a selectbox's value
        return text in widget.inner_text() or text in box.input_value()

    for text in texts:
        deadline = time.monotonic() + SECONDS / 1000
        while not chosen(text):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {SECONDS / 1000:g} s waiting for {text} chosen")
            if not page.get_by_role("listbox").is_visible():
                box.click()
            page.get_by_role("option", name=text).first.click(timeout=SECONDS)
            settle = time.monotonic() + 3
            while not chosen(text) and time.monotonic() < settle:
                page.wait_for_timeout(50)
    if page.get_by_role("listbox").is_visible():
        page.keyboard.press("Escape")  # a multiselect's list may stay open
    # Closed, not fading out over what comes next (a screenshot, the next picker).
    expect(page.get_by_role("listbox")).to_have_count(0, timeout=SECONDS)


def test_every_tab_and_card_appears(
    page: Any, base: str, board_db: str, tmp_path: Path, home: None
) -> None:
    from playwright.sync_api import expect

    for quality in (0.35, 0.6, 0.85):
        run = log_run(board_db, f"tour {quality}", quality=quality, status=None)
        run.record_validation(
            [{"map50": 0.6, "map50_95": 0.4}, {"class_name": "circle", "map50": 0.7}]
        )
        run.record_benchmark(avg_inference_ms=5 + 10 * quality, device="cpu")
        run.finish("completed")
    log_run(board_db, "tour failed", logged=2, status="failed", reason="RuntimeError: diverged")
    with Client(database_url=board_db) as client:
        sweep = client.transport.rpc(
            "create_hyperparameter_run",
            {"name": "tour sweep", "search_space": {"space": {"lr0": [0.01, 0.001]}}},
        )
    for i, lr0 in enumerate((0.01, 0.001)):
        log_run(board_db, f"tour sweep #{i + 1}", quality=0.3 + i / 3, config={"lr0": lr0},
                hyperparameter_run_id=str(sweep["id"]))  # fmt: skip
    running = log_run(board_db, "tour running", epochs=20, logged=6, status=None)
    try:
        _goto(page, base)
        cards = page.locator(".st-key-summary-cards")
        for label in ("Active sessions", "Total sessions", "Best mAP50-95", "Completed runs"):
            expect(cards).to_contain_text(label, timeout=SECONDS)
        card = page.locator(f".st-key-active-{running.id}")
        expect(card).to_contain_text("tour running", timeout=SECONDS)
        expect(card).to_contain_text("Epoch 6/20", timeout=SECONDS)
        expect(card.locator('[data-testid="stVegaLiteChart"]')).to_have_count(1, timeout=SECONDS)
        screenshot(page, "1-active-training", tmp_path)

        page.get_by_role("tab", name="Training History").click()
        expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(1, timeout=SECONDS)
        expect(page.get_by_text("session(s). Select a row")).to_be_visible(timeout=SECONDS)
        screenshot(page, "2-training-history", tmp_path)

        page.get_by_role("tab", name="Model Leaderboard").click()
        podium = page.locator(".st-key-podium")
        expect(podium.locator('[data-testid="stMetric"]').first).to_contain_text(
            "🏆 tour 0.85", timeout=SECONDS
        )
        # The table under the trophy cards, with its rows (drawn, not only present).
        table = page.locator('[data-testid="stDataFrame"]')
        expect(table).to_have_count(1, timeout=SECONDS)
        for name in ("tour 0.85", "tour 0.6", "tour 0.35", "tour sweep #2"):
            expect(table.locator("table")).to_contain_text(name, timeout=SECONDS)
        rows = _completed_now(board_db)

        def drawn() -> bool:
            box = table.locator("canvas").first.bounding_box()
            return table.locator("table tbody tr").count() == rows and bool(box and box["height"])

        _holds(page, 3, table=drawn, podium=podium.is_visible)
        screenshot(page, "3-model-leaderboard", tmp_path)

        page.get_by_role("tab", name="Session Details").click()
        _choose(page, "details_session", "tour 0.6")
        expect(page.get_by_role("heading", name="tour 0.6")).to_be_visible(timeout=SECONDS)
        charts = page.locator('[data-testid="stVegaLiteChart"]')
        expect(charts).to_have_count(5, timeout=SECONDS)  # 4 metric charts + per class
        screenshot(page, "4-session-details", tmp_path)

        page.get_by_role("tab", name="Compare").click()
        _choose(page, "compare_sessions", "tour 0.35", "tour 0.85")
        chosen = page.locator(".st-key-compare_sessions")
        expect(chosen).to_contain_text("tour 0.35", timeout=SECONDS)
        expect(chosen).to_contain_text("tour 0.85", timeout=SECONDS)
        expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(1, timeout=SECONDS)
        screenshot(page, "5-compare", tmp_path)

        page.get_by_role("tab", name="Sweeps").click()
        expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(1, timeout=SECONDS)
        expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(1, timeout=SECONDS)
        screenshot(page, "6-sweeps", tmp_path)
    finally:
        running.finish("completed")


def test_epochs_and_completion_appear_without_a_reload(
    page: Any, base: str, board_db: str, home: None
) -> None:
    from playwright.sync_api import expect

    with psycopg.connect(board_db, autocommit=True) as conn:
        completed = _completed(conn)
    run = log_run(board_db, "watched live", epochs=6, logged=1, status=None)
    _goto(page, base)
    card = page.locator(f".st-key-active-{run.id}")
    expect(card).to_contain_text("Epoch 1/6", timeout=SECONDS)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    for epoch in (1, 2):
        log_epoch(run, epoch, 6, 0.5)
    run.flush()
    expect(card).to_contain_text("Epoch 3/6", timeout=SECONDS)
    expect(card).to_contain_text("50%", timeout=SECONDS)

    for epoch in range(3, 6):
        log_epoch(run, epoch, 6, 0.5)
    run.finish("completed")
    expect(card).to_have_count(0, timeout=SECONDS)
    expect(_metric(page, "Completed runs")).to_contain_text(str(completed + 1), timeout=SECONDS)
    assert page.evaluate("window.__sameDocument") is True


def test_the_leaderboard_reranks_live(page: Any, base: str, board_db: str, home: None) -> None:
    from playwright.sync_api import expect

    log_run(board_db, "steady", quality=0.7)
    _goto(page, base, "Model Leaderboard")
    first = page.locator(".st-key-podium [data-testid='stMetric']").first
    expect(first).to_be_visible(timeout=SECONDS)
    page.evaluate("window.__sameDocument = true")
    log_run(board_db, "new champion", quality=0.99)
    expect(first).to_contain_text("🏆 new champion", timeout=SECONDS)
    assert page.evaluate("window.__sameDocument") is True


def test_the_stop_button_stops_a_running_session(
    page: Any, base: str, board_db: str, home: None
) -> None:
    from playwright.sync_api import expect

    run = log_run(
        board_db, "to be stopped", epochs=200, logged=1, status=None, heartbeat_interval=0.5
    )
    stopped = threading.Event()

    def train() -> None:  # a training loop that honours stop requests, as `track()` does
        for epoch in range(1, 200):
            if run.stop_requested:
                run.finish("cancelled", status_reason="stopped from the dashboard")
                return
            log_epoch(run, epoch, 200, 0.5)
            if stopped.wait(0.3):
                return
        run.finish("completed")

    trainer = threading.Thread(target=train, daemon=True)
    trainer.start()
    try:
        _goto(page, base)
        card = page.locator(f".st-key-active-{run.id}")
        expect(card).to_contain_text("to be stopped", timeout=SECONDS)
        card.get_by_role("button", name="Stop").click()
        trainer.join(20)
        assert not trainer.is_alive(), "the training did not stop"
        with psycopg.connect(board_db, autocommit=True) as conn:
            row = conn.execute(
                "select status, stop_requested from training_sessions where id = %s", (run.id,)
            ).fetchone()
        assert row == ("cancelled", True)
        expect(card).to_have_count(0, timeout=SECONDS)
    finally:
        stopped.set()
        trainer.join(5)
        wait_for(lambda: not trainer.is_alive(), what="the training thread")


#: What each tab shows once it is open (one of them is enough).
TAB_MARKS = {
    "Active Training": ".st-key-active-{run}",
    "Training History": "text=session(s). Select a row",
    "Model Leaderboard": ".st-key-podium",
    "Session Details": ".st-key-details_session",
    "Compare": ".st-key-compare_sessions",
    "Sweeps": ".st-key-sweep_run",
}


def test_every_tab_opens_on_a_click_during_live_updates(
    page: Any, base: str, board_db: str, home: None
) -> None:
    from playwright.sync_api import expect

    with Client(database_url=board_db) as client:
        sweep = client.transport.rpc("create_hyperparameter_run", {"name": "tabs sweep"})
    log_run(board_db, "ranked", quality=0.5, hyperparameter_run_id=str(sweep["id"]))
    run = log_run(board_db, "busy", epochs=1000, logged=1, status=None)
    done = threading.Event()

    def train() -> None:  # an epoch every 0.2 s: the page redraws all the time
        for epoch in range(1, 1000):
            if done.wait(0.2):
                return
            log_epoch(run, epoch, 1000, 0.5)

    trainer = threading.Thread(target=train, daemon=True)
    trainer.start()
    try:
        _goto(page, base)
        expect(page.locator(f".st-key-active-{run.id}")).to_be_visible(timeout=SECONDS)
        for _ in range(2):
            for label, mark in [*list(TAB_MARKS.items())[1:], next(iter(TAB_MARKS.items()))]:
                tab = page.get_by_role("tab", name=label)
                tab.click()
                expect(tab).to_have_attribute("aria-selected", "true", timeout=5_000)
                shown = page.locator(mark.format(run=run.id)).first
                expect(shown).to_be_visible(timeout=SECONDS)
                # Several live redraws later it is still open (looked at every 50 ms).
                selected = functools.partial(_selected, tab)
                _holds(page, 1, tab=selected, content=shown.is_visible)
    finally:
        done.set()
        trainer.join(5)
        run.finish("completed")


def test_links_open_a_tab_or_a_session_and_the_url_follows(
    page: Any, base: str, board_db: str, home: None
) -> None:
    from playwright.sync_api import expect

    linked = log_run(board_db, "linked run", quality=0.4)
    page.goto(f"{base}/?tab=Leaderboard")
    wait_live(page)
    tab = page.get_by_role("tab", name="Model Leaderboard")
    expect(tab).to_have_attribute("aria-selected", "true", timeout=SECONDS)
    expect(page.locator(".st-key-podium")).to_be_visible(timeout=SECONDS)

    page.get_by_role("tab", name="Training History").click()
    expect(page).to_have_url(re.compile(r"[?&]tab=Training(\+|%20)History"), timeout=SECONDS)
    page.reload()
    wait_live(page)
    tab = page.get_by_role("tab", name="Training History")
    expect(tab).to_have_attribute("aria-selected", "true", timeout=SECONDS)

    page.goto(f"{base}/?session={linked.id}")
    wait_live(page)
    expect(page.get_by_role("tab", name="Session Details")).to_have_attribute(
        "aria-selected", "true", timeout=SECONDS
    )
    expect(page.get_by_role("heading", name="linked run")).to_be_visible(timeout=SECONDS)
    expect(page).to_have_url(re.compile(f"[?&]session={linked.id}"), timeout=SECONDS)


def test_choices_on_a_tab_survive_a_visit_to_another(
    page: Any, base: str, board_db: str, home: None
) -> None:
    """What a user chose on Compare, Session Details and Sweeps is still chosen when they come
    back from another tab (Streamlit forgets the value of a widget that is not drawn)."""
    from playwright.sync_api import expect

    log_run(board_db, "kept one", quality=0.4)
    log_run(board_db, "kept two", quality=0.45)
    space = {"space": {"lr0": [0.01, 0.001], "momentum": [0.9, 0.937]}}
    with Client(database_url=board_db) as client:
        for name in ("kept sweep a", "kept sweep b"):
            sweep = client.transport.rpc(
                "create_hyperparameter_run", {"name": name, "search_space": space}
            )
            log_run(board_db, f"{name} #1", config={"lr0": 0.01, "momentum": 0.9},
                    hyperparameter_run_id=str(sweep["id"]))  # fmt: skip
    _goto(page, base, "Compare")
    _choose(page, "compare_sessions", "kept one", "kept two")
    _choose(page, "compare_metric", "recall")
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts).to_have_count(1, timeout=SECONDS)
    page.get_by_role("tab", name="Session Details").click()
    _choose(page, "details_session", "kept two")
    expect(page.get_by_role("heading", name="kept two")).to_be_visible(timeout=SECONDS)

    page.get_by_role("tab", name="Sweeps").click()
    run_box = page.locator(".st-key-sweep_run").get_by_role("combobox")
    expect(run_box).to_have_value(re.compile(r"\S"), timeout=SECONDS)
    # The run that is not shown first, and the hyperparameter that is not (lr0 comes first).
    run = "kept sweep b" if run_box.input_value().startswith("kept sweep a") else "kept sweep a"
    _choose(page, "sweep_run", run)
    _choose(page, "sweep_param", "momentum")
    param_box = page.locator(".st-key-sweep_param").get_by_role("combobox")

    page.get_by_role("tab", name="Training History").click()
    expect(page.get_by_text("session(s). Select a row")).to_be_visible(timeout=SECONDS)
    page.get_by_role("tab", name="Sweeps").click()
    expect(run_box).to_have_value(re.compile(f"^{run} "), timeout=SECONDS)
    expect(param_box).to_have_value("momentum")
    page.get_by_role("tab", name="Compare").click()
    picker = page.locator(".st-key-compare_sessions")
    expect(picker).to_contain_text("kept one", timeout=SECONDS)
    expect(picker).to_contain_text("kept two")
    expect(page.locator(".st-key-compare_metric").get_by_role("combobox")).to_have_value("recall")
    expect(charts).to_have_count(1, timeout=SECONDS)
    page.get_by_role("tab", name="Session Details").click()
    expect(page.get_by_role("heading", name="kept two")).to_be_visible(timeout=SECONDS)
    expect(page).to_have_url(re.compile(r"[?&]session="), timeout=SECONDS)
