"""Reads over PostgREST are paged: nothing is silently cut at ``max_rows``.

PostgREST answers at most ``max_rows`` rows (1,000 on hosted Supabase and in config.toml) per
read, whatever the ``limit``. The FAKE PostgREST (tests/fakes) caps the same way, over the REAL
migrated database; ``client.metrics()`` of a 2,000-epoch run used to return 1,000 rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import mltrack_sdk as mlt
from mltrack_sdk.transports.supabase import SupabaseTransport
from tests.fakes.fake_supabase import RunningFake, make_key

EPOCHS = 2_000


@pytest.fixture
def service(direct_db_url: str) -> Iterator[SupabaseTransport]:
    fake = RunningFake(direct_db_url)
    transport = SupabaseTransport(fake.url, make_key("service_role"))
    try:
        yield transport
    finally:
        transport.close()
        fake.stop()


def test_fake_caps_a_read_as_postgrest_does(service: SupabaseTransport, direct_db_url: str) -> None:
    sid = service.rpc("start_session", {"session_name": "s", "model_type": "m", "epochs": 1200})
    service.rpc(
        "log_epochs",
        {"session_id": sid["id"], "metrics": [{"epoch": e} for e in range(1100)]},
    )
    query = service._client.table("training_metrics").select("*").limit(5000)
    assert len(query.execute().data) == 1000  # the cap, as on a real project


def test_client_reads_every_row_of_a_long_run(
    service: SupabaseTransport, direct_db_url: str
) -> None:
    with psycopg.connect(direct_db_url, autocommit=True) as conn:
        row = conn.execute(
            "select id::text from start_session(session_name => 'long', model_type => 'm',"
            " epochs => %s)",
            (EPOCHS,),
        ).fetchone()
        assert row is not None
        sid = row[0]
        conn.execute(
            "select log_epoch_columns(session_id => %s, epoch => %s, map50_95 => %s)",
            (sid, list(range(EPOCHS)), [e / EPOCHS / 2 for e in range(EPOCHS)]),
        )
        conn.execute(
            "insert into training_sessions (session_name, model_type, epochs)"
            " select 'bulk ' || i, 'm', 3 from generate_series(1, 1100) i"
        )
    client = mlt.Client(transport=service)
    metrics = client.metrics(sid)
    assert [m.epoch for m in metrics] == list(range(EPOCHS))
    assert len(client.sessions(limit=None)) == 1101
    assert len(client.sessions(limit=1050)) == 1050
    assert len(service.select("training_metrics", limit=1500)) == 1500
