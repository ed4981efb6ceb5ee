"""Long reads over the Postgres transport come in chunks (psycopg's stream with libpq 17 or
later): the same models and columns as one whole read, chunk sizes as asked, a failing consumer
that ends the read cleanly, and a libpq without chunks read whole."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from mltrack_sdk.client import Client
from mltrack_sdk.errors import DatabaseError, InvalidValueError
from mltrack_sdk.transports.postgres import PostgresTransport

from .reads import start_run, validated


def test_a_long_read_streams_in_chunks_with_the_same_models(pg_client: Client) -> None:
    """600 epochs: the client's reads cross chunk boundaries (250, 250, 100 rows)."""
    sid = start_run(pg_client)
    rows = [
        {"epoch": e, "map50_95": e / 600, "box_loss": None if e % 7 else 1.0, "extra": {"e": e}}
        for e in range(600)
    ]
    pg_client.transport.rpc("log_epochs", {"session_id": sid, "metrics": rows})
    expected = validated(pg_client.transport, sid)
    got = pg_client.metrics(sid)
    assert got == expected and [repr(m) for m in got] == [repr(m) for m in expected]
    columns = pg_client.metrics_columns(sid, ["box_loss", "extra"])
    assert columns == {
        "epoch": list(range(600)),
        "box_loss": [m.box_loss for m in expected],
        "extra": [{"e": e} for e in range(600)],
    }
    assert pg_client.metrics(sid, epochs=range(240, 260)) == expected[240:260]


def _chunk_sizes(transport: PostgresTransport, sid: str, **kwargs: Any) -> list[int]:
    chunks: list[Any] = []
    transport.stream_columns(
        "training_metrics",
        ["epoch", "extra"],
        chunks.append,
        filters={"session_id": sid},
        order=[("epoch", False)],
        **kwargs,
    )
    assert all(list(c.data) == ["epoch", "extra"] for c in chunks)
    assert [e for c in chunks for e in c.data["epoch"]] == sorted(
        e for c in chunks for e in c.data["epoch"]
    )
    return [len(c.data["epoch"]) for c in chunks]


def test_stream_columns_chunks_stops_and_bad_input(
    pg_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = pg_client.transport
    assert isinstance(transport, PostgresTransport)
    sid = start_run(pg_client)
    assert _chunk_sizes(transport, sid, chunk_rows=4) == [0]  # no rows: one empty chunk
    rows = [{"epoch": e, "extra": {"k": e}} for e in range(10)]
    transport.rpc("log_epochs", {"session_id": sid, "metrics": rows})
    assert _chunk_sizes(transport, sid, chunk_rows=4) == [4, 4, 2]
    assert _chunk_sizes(transport, sid, chunk_rows=5) == [5, 5]  # no empty chunk at the end
    assert _chunk_sizes(transport, sid, chunk_rows=4, limit=3) == [3]
    # The same chunks as rows: a JSON column's place holds its text, its values are parsed.
    as_rows: list[Any] = []
    transport.stream_rows(
        "training_metrics",
        ["epoch", "extra"],
        as_rows.append,
        filters={"session_id": sid},
        order=[("epoch", True)],
        chunk_rows=4,
    )
    assert [r[0] for c in as_rows for r in c.rows] == list(range(9, -1, -1))
    assert as_rows[0].rows[0][1] == '{"k": 9}' and as_rows[0].json["extra"][0] == {"k": 9}
    assert [len(c.json["extra"]) for c in as_rows] == [4, 4, 2]

    # A consumer that fails ends the read: the query is cancelled, the connection stays usable.
    def refuse(chunk: Any) -> None:
        raise RuntimeError("chart closed")

    with pytest.raises(RuntimeError, match="chart closed"):
        transport.stream_columns(
            "training_metrics", ["epoch"], refuse, filters={"session_id": sid}, chunk_rows=2
        )
    assert pg_client.metrics_columns(sid, ["extra"])["extra"][9] == {"k": 9}

    for wrong in (0, -1, 2.5, True, "250"):
        with pytest.raises(InvalidValueError, match="chunk_rows must be a positive") as bad:
            transport.stream_columns("training_metrics", ["epoch"], print, chunk_rows=wrong)  # type: ignore[arg-type]
        assert bad.value.field == "chunk_rows"
    with pytest.raises(DatabaseError) as missing:
        transport.stream_columns("training_metrics", ["epoch", "nope"], print)
    assert missing.value.sqlstate == "42703"

    # A libpq before 17 cannot send rows in chunks (the same real database, read whole).
    monkeypatch.setattr(psycopg.capabilities, "has_stream_chunked", lambda check=False: False)
    assert _chunk_sizes(transport, sid, chunk_rows=4) == [10]
    assert pg_client.metrics(sid) == validated(transport, sid)
