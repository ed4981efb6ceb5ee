"""Timestamps read over the Postgres transport, by the server's time zone.

A server whose zone is UTC under another name (Debian's default is ``Etc/UTC``) gives the same
``datetime.timezone.utc`` datetimes as one set to ``UTC``: the name psycopg decodes without a
zone conversion per value. A server in any other zone keeps it.
Each case is a session in that zone on the real test database (``options=-c TimeZone=...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from psycopg.conninfo import make_conninfo

from mltrack_sdk.client import Client
from mltrack_sdk.transports.postgres import PostgresTransport

from .reads import start_run


def _client_in(url: str, zone: str) -> Client:
    return Client(PostgresTransport(make_conninfo(url, options=f"-c TimeZone={zone}")))


@pytest.fixture
def logged(direct_db_url: str) -> Iterator[str]:
    """A session with three epochs; its id."""
    client = Client(PostgresTransport(direct_db_url))
    try:
        sid = start_run(client)
        client.transport.rpc(
            "log_epochs",
            {"session_id": sid, "metrics": [{"epoch": e, "map50": 0.1} for e in range(3)]},
        )
        yield sid
    finally:
        client.transport.close()


def _stamps(client: Client, sid: str) -> dict[str, list[datetime]]:
    """``recorded_at`` of each epoch by every read path, and ``created_at`` of the session."""
    return {
        "metrics": [m.recorded_at for m in client.metrics(sid)],
        "metrics_columns": client.metrics_columns(sid, ["recorded_at"])["recorded_at"],
        "select": [
            r["recorded_at"]
            for r in client.transport.select("training_metrics", filters={"session_id": sid})
        ],
        "session": [client.session(sid).session.created_at],
    }


@pytest.mark.parametrize("zone", ["Etc/UTC", "zulu", "Universal", "UTC"])
def test_a_server_in_utc_by_any_name_reads_timezone_utc(
    direct_db_url: str, logged: str, zone: str
) -> None:
    client = _client_in(direct_db_url, zone)
    berlin = _client_in(direct_db_url, "Europe/Berlin")
    try:
        stamps, reference = _stamps(client, logged), _stamps(berlin, logged)
    finally:
        client.transport.close()
        berlin.transport.close()
    assert stamps == reference  # the same instants
    for path, values in stamps.items():
        assert values and all(v.tzinfo is UTC for v in values), (path, values)


def test_a_server_in_another_zone_keeps_it(direct_db_url: str, logged: str) -> None:
    client = _client_in(direct_db_url, "America/Chicago")
    try:
        stamps = _stamps(client, logged)
    finally:
        client.transport.close()
    chicago = ZoneInfo("America/Chicago")
    for path, values in stamps.items():
        assert values and all(v.tzinfo == chicago for v in values), (path, values)
