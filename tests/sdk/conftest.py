"""Fixtures of the SDK tests (the database fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mltrack_sdk.client import Client
from mltrack_sdk.transports.postgres import PostgresTransport


@pytest.fixture
def pg_client(db_url: str) -> Iterator[Client]:
    """A :class:`Client` over the Postgres transport on the test database."""
    transport = PostgresTransport(db_url)
    try:
        yield Client(transport)
    finally:
        transport.close()
