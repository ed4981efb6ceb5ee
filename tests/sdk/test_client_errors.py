"""One exported error for "the database is unreachable", whichever way it is reached."""

from __future__ import annotations

import pytest

import mltrack_sdk as mlt


def test_client_read_on_a_dead_server_raises_the_exported_error() -> None:
    client = mlt.Client(database_url="postgresql://postgres@127.0.0.1:1/postgres")
    try:
        with pytest.raises(mlt.DatabaseUnreachableError, match="cannot reach the database"):
            client.sessions()
    finally:
        client.close()
