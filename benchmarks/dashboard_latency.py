"""Dashboard benchmark: commit-to-browser latency, first render of a large database, memory.

Starts a throwaway Postgres (Debian's binaries), migrates it, serves ``mltrack dashboard`` on
it and drives Debian's Chromium with Playwright (as the browser tests do):

1. latency: a running session's epochs are committed one by one (``log_epoch`` in SQL,
   autocommit); a MutationObserver in the page stamps when the card shows each epoch; the
   figure is that stamp minus the commit time (same clock), over ``--updates`` epochs
   (goal: p95 <= 1 s);
2. first render: ``--sessions`` completed sessions with ``--epochs`` metric rows each (10,000 and
   100: a million rows) are written through the SQL API; then the time from opening the page
   to the summary cards and the tabs on a cold server (its store reads everything) and on a warm
   one; the first full render (cards, tabs and the Training History table, opened by
   ``?tab=History``) on a cold and on a warm server (median of 3; goal: <= 2 s); and from a
   click on the Training History tab to its table;
3. memory: the server's RSS (its process tree) with 1 and with ``--tabs`` open tabs;
4. idle CPU: the server's CPU (its process tree, percent of one core) while 3 and ``--tabs``
   open tabs show a database where nothing changes, over ``--idle-seconds``.
5. with ``--floor``: the first full render of the same page drawn by the plainest Streamlit
   script (``dashboard_floor_app.py``: one query, no store, no change feed), cold and warm -
   what Streamlit and the browser alone cost for that page on this machine.

    .venv/bin/python benchmarks/dashboard_latency.py                       # 10,000 x 100
    .venv/bin/python benchmarks/dashboard_latency.py --sessions 2000 --updates 20 --floor
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mltrack_sdk.migrate import migrate
from mltrack_sdk.testing.postgres import TempPostgres, free_port
from tests.dashboard.browser import chromium, healthy, served_dashboard, wait_live

FLOOR_APP = Path(__file__).with_name("dashboard_floor_app.py")

SEEN_JS = """(sid) => {
  window.__seen = {};
  const look = () => {
    const card = document.querySelector('.st-key-active-' + sid);
    const m = card && card.innerText.match(/Epoch (\\d+)\\//);
    if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = Date.now();
  };
  new MutationObserver(look).observe(document.body,
    {subtree: true, childList: true, characterData: true});
}"""


def _rows(epochs: int, quality: float) -> list[dict[str, Any]]:
    return [
        {
            "epoch": e,
            "box_loss": 1.5 - e / epochs,
            "cls_loss": 1.2 - e / epochs,
            "dfl_loss": 1.1,
            "total_loss": 3.8 - 2.5 * e / epochs,
            "precision": 0.5,
            "recall": 0.4,
            "map50": quality * (e + 1) / epochs,
            "map50_95": 0.7 * quality * (e + 1) / epochs,
            "learning_rate": 0.01,
        }
        for e in range(epochs)
    ]


def load(url: str, sessions: int, epochs: int) -> float:
    """``sessions`` completed sessions of ``epochs`` epochs, through the SQL API; seconds taken."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(sessions):
            quality = 0.2 + 0.8 * ((i * 7919) % sessions) / sessions
            sid = conn.execute(
                "select id from start_session(session_name => %s, model_type => 'yolov8n',"
                " dataset_name => 'shapes', epochs => %s)",
                (f"bench {i}", epochs),
            ).fetchone()[0]  # type: ignore[index]
            conn.execute(
                "select log_epochs(session_id => %s, metrics => %s)",
                (sid, Jsonb(_rows(epochs, quality))),
            )
            conn.execute("select finish_session(session_id => %s)", (sid,))
            if i and i % 1000 == 0:
                print(f"  {i} sessions written", flush=True)
    return time.perf_counter() - started


def _server_rss_mb(pid: int) -> float:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


def idle_cpu(pid: int, seconds: float) -> float:
    """The server's CPU (its process tree; percent of one core) over ``seconds`` of quiet."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    before = [p.cpu_times() for p in procs]
    time.sleep(seconds)
    after = [p.cpu_times() for p in procs]
    used = sum(a.user + a.system - b.user - b.system for a, b in zip(after, before, strict=True))
    return round(100 * used / seconds, 1)


def first_render(browser: Any, base: str, sessions: int, *, history: bool = False) -> float:
    """Seconds from opening the page to the summary cards and the tabs; with ``history``, the
    page is opened on Training History (``?tab=History``) and its table counts too."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    started = time.perf_counter()
    page.goto(f"{base}/?tab=History" if history else base)
    expect(page.locator(".st-key-summary-cards")).to_contain_text(str(sessions), timeout=120_000)
    expect(page.get_by_role("tab", name="Sweeps")).to_be_visible(timeout=120_000)
    if history:
        expect(page.get_by_text("session(s). Select a row")).to_be_visible(timeout=120_000)
        table = page.locator('[data-testid="stDataFrame"] canvas').first
        expect(table).to_be_visible(timeout=60_000)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def floor(browser: Any, config: dict[str, str], workdir: Path, sessions: int) -> dict[str, float]:
    """First full render of the same page drawn by a bare Streamlit script (one query, no store,
    no change feed): Streamlit's and the browser's share of the dashboard's figure."""
    port = free_port()
    env = {**os.environ, **config}
    log = (workdir / "floor.log").open("wb")
    command = [
        *(sys.executable, "-m", "streamlit", "run", str(FLOOR_APP)),
        *("--server.headless", "true", "--server.port", str(port)),
        *("--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"),
    ]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not healthy(base):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "floor.log").read_text()[-2000:])
            time.sleep(0.1)
        cold = first_render(browser, base, sessions, history=True)
        warm = [first_render(browser, base, sessions, history=True) for _ in range(3)]
    finally:
        server.terminate()
        server.wait(15)
        log.close()
    return {
        "first_full_render_cold_s": round(cold, 2),
        "first_full_render_warm_s": round(statistics.median(warm), 2),
    }


def history_render(browser: Any, base: str) -> float:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(base)
    wait_live(page, 120)
    started = time.perf_counter()
    page.get_by_role("tab", name="Training History").click()
    expect(page.get_by_text("session(s). Select a row")).to_be_visible(timeout=120_000)
    expect(page.locator('[data-testid="stDataFrame"] canvas').first).to_be_visible(timeout=60_000)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def latency(browser: Any, base: str, url: str, updates: int) -> list[float]:
    """Milliseconds from each epoch's commit to the card showing it."""
    from playwright.sync_api import expect

    with psycopg.connect(url, autocommit=True) as conn:
        sid = str(
            conn.execute(
                "select id from start_session(session_name => 'latency', model_type => 'yolov8n',"
                " epochs => %s)",
                (updates + 1,),
            ).fetchone()[0]  # type: ignore[index]
        )
        conn.execute("select log_epoch(session_id => %s, epoch => 0, map50 => 0.1)", (sid,))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        wait_live(page, 120)
        expect(page.locator(f".st-key-active-{sid}")).to_contain_text("Epoch 1/", timeout=60_000)
        page.evaluate(SEEN_JS, sid)
        found: list[float] = []
        for epoch in range(1, updates + 1):
            conn.execute(
                "select log_epoch(session_id => %s, epoch => %s, map50 => 0.2)", (sid, epoch)
            )
            committed = time.time() * 1000
            shown = epoch + 1
            page.wait_for_function(f"() => window.__seen['{shown}']", timeout=30_000)
            found.append(page.evaluate(f"window.__seen['{shown}']") - committed)
            time.sleep(0.25)  # epochs arrive apart, as in a training
        conn.execute("select finish_session(session_id => %s)", (sid,))
        page.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--tabs", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time the same page drawn by a bare Streamlit script (dashboard_floor_app.py)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "sessions": args.sessions,
        "metric_rows": args.sessions * args.epochs,
    }
    workdir = Path(tempfile.mkdtemp(prefix="mltrack-dashbench-"))
    settings = {"fsync": "off", "synchronous_commit": "off", "shared_preload_libraries": "''"}
    with TempPostgres(tcp=True, settings=settings) as pg:
        url = pg.url("postgres")
        migrate(url)
        print(f"writing {args.sessions} sessions x {args.epochs} epochs ...", flush=True)
        results["load_seconds"] = round(load(url, args.sessions, args.epochs), 1)
        config = {"MLTRACK_DATABASE_URL": url}
        with served_dashboard(config, workdir, timeout=120) as (base, _), chromium() as b:
            cold = first_render(b, base, args.sessions, history=True)
            results["first_full_render_cold_s"] = round(cold, 2)
        print(json.dumps(results), flush=True)
        with served_dashboard(config, workdir, timeout=120) as (base, process), chromium() as b:
            results["first_render_cold_s"] = round(first_render(b, base, args.sessions), 2)
            results["first_render_warm_s"] = round(first_render(b, base, args.sessions), 2)
            full = [first_render(b, base, args.sessions, history=True) for _ in range(3)]
            results["first_full_render_warm_s"] = round(statistics.median(full), 2)
            results["history_table_s"] = round(history_render(b, base), 2)
            print(json.dumps(results), flush=True)  # what is measured so far
            if args.floor:
                results["floor"] = floor(b, config, workdir, args.sessions)
                print(json.dumps(results), flush=True)
            ms = latency(b, base, url, args.updates)
            results["latency_ms"] = {
                "updates": len(ms),
                "p50": round(statistics.median(ms)),
                "p95": round(sorted(ms)[max(0, int(len(ms) * 0.95) - 1)]),
                "max": round(max(ms)),
            }
            print(json.dumps(results), flush=True)  # what is measured so far
            results["server_rss_mb_1_tab"] = round(_server_rss_mb(process.pid), 1)
            pages = []
            for _ in range(args.tabs):
                page = b.new_page(viewport={"width": 1400, "height": 1000})
                pages.append(page)
                page.goto(base, timeout=120_000, wait_until="commit")
                try:
                    wait_live(page, 120)
                except AssertionError:  # the server is too busy to draw one more tab
                    results["tabs_not_drawn_in_120_s"] = len(pages)
                    break
                if len(pages) in (3, args.tabs):
                    time.sleep(2)  # the pages settle
                    cpu = idle_cpu(process.pid, args.idle_seconds)
                    results[f"server_cpu_percent_{len(pages)}_tabs_idle"] = cpu
            results[f"server_rss_mb_{args.tabs}_tabs"] = round(_server_rss_mb(process.pid), 1)
            for page in pages:
                page.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
