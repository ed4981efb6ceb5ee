"""Fixtures of the SQL API tests (the database fixtures live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .api import Conn, Listener, Row, call_one


@pytest.fixture
def start(conn: Conn) -> Callable[..., Row]:
    """Start a session through start_session(); keyword arguments override the defaults."""

    def _start(**overrides: Any) -> Row:
        args: dict[str, Any] = {
            "session_name": "YOLOv8n test run",
            "model_type": "yolov8n",
            "epochs": 10,
        }
        args.update(overrides)
        return call_one(conn, "start_session", **args)

    return _start


@pytest.fixture
def listener(db_url: str) -> Iterator[Listener]:
    """LISTEN mltrack_changes on a connection of its own (closed after the test)."""
    lst = Listener(db_url)
    try:
        yield lst
    finally:
        lst.close()
