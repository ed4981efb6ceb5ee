"""Fixtures of the browser tests (a plugin of tests/conftest.py): each module gets its own
database (cloned from the template), its own ``mltrack dashboard`` server on it and one headless
Chromium; each test a fresh page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PgServer, create_database, drop_database

from tests.dashboard.browser import chromium, served_dashboard


@pytest.fixture(scope="module")
def board_db(
    request: pytest.FixtureRequest, pg_server: PgServer, template_db: str
) -> Iterator[str]:
    """The database of the module's server, its own (dropped after the module)."""
    name = f"{request.module.__name__.rpartition('.')[2]}_{os.getpid()}"[:63]
    url = create_database(pg_server, name, template=template_db)
    yield url
    drop_database(pg_server, name)


@pytest.fixture(scope="module")
def base(board_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of ``mltrack dashboard --database-url`` on ``board_db``."""
    workdir = tmp_path_factory.mktemp("dashboard")
    with served_dashboard({"MLTRACK_DATABASE_URL": board_db}, workdir) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as started:
        yield started


@pytest.fixture
def page(browser: Any, base: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's spool of this test's runs goes under its tmp dir."""
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
