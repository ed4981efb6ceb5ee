"""A real browser on a real dashboard: ``mltrack dashboard`` served in a subprocess, and
Debian's Chromium driven headless by Playwright (the system browser: nothing is downloaded).

Used by the browser tests and by ``benchmarks/dashboard_latency.py``::

    with served_dashboard({"MLTRACK_DATABASE_URL": url}, tmp) as base, chromium() as browser:
        page = browser.new_page()
        page.goto(base)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mltrack_sdk.testing.postgres import free_port

CHROMIUM = Path("/usr/bin/chromium")
#: Headless, as root, and never reaching beyond this machine.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
#: What the tests keep with their results (gitignored).
RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "dashboard"
_CONFIG = ("MLTRACK_DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_ACCESS_TOKEN")


def _mltrack() -> list[str]:
    script = Path(sys.executable).with_name("mltrack")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mltrack_sdk.cli"]


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def served_dashboard(
    config: Mapping[str, str], workdir: Path, *, timeout: float = 60.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``mltrack dashboard --headless`` on a free port with ``config`` as its environment's
    database settings; yields its base URL and process once it answers, stops it after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in _CONFIG}
    env.update(config)
    env["MLTRACK_HOME"] = str(workdir / "home")
    log = (workdir / f"dashboard-{port}.log").open("wb")
    command = [*_mltrack(), "dashboard", "--port", str(port), "--address", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--headless"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the server and its children stop
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not healthy(base):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    f"mltrack dashboard did not start: {(workdir / log.name).read_text()[-2000:]}"
                )
            time.sleep(0.1)
        yield base, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A started headless Chromium (Playwright ``Browser``), with its own empty HOME."""
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="mltrack-chromium-")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, env={"HOME": home}
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def wait_live(page: Any, timeout: float = 20.0) -> None:
    """Wait until the page shows the live connection state."""
    from playwright.sync_api import expect

    expect(page.locator(".st-key-connection-state")).to_contain_text("Live", timeout=timeout * 1000)


def screenshot(page: Any, name: str, directory: Path) -> Path:
    """A full-page screenshot ``name``.png in ``directory``, also copied to test-results/."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, RESULTS / path.name)
    return path
