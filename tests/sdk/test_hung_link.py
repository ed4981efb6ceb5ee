"""Trouble under the SDK: a link that hangs or resets (through a real TCP proxy, tests/faults.py)
and a spool that cannot be written (a full disk, a spool directory that cannot exist).

finish() keeps its bound whatever the socket does, the spool keeps the calls in the order they
were made, and the user is told only what is true about where the calls are."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

import mltrack_sdk as mlt
from mltrack_sdk import spool as spool_module
from mltrack_sdk.spool import Spool
from mltrack_sdk.transports.postgres import PostgresTransport
from tests.faults import OsProxy, Proxy, full_disk

#: What finish() may take beyond its timeout (the brief's bound).
SLACK = 1.5


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    for name in ("MLTRACK_DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def query(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as c:
        cur = c.execute(sql, params)
        return cur.fetchall() if cur.description else []


def session_row(url: str, session_id: str) -> dict[str, Any]:
    return query(url, "select * from training_sessions where id = %s", session_id)[0]


def stored_epochs(url: str, session_id: str) -> list[int]:
    rows = query(url, "select epoch from training_metrics where session_id = %s", session_id)
    return sorted(r["epoch"] for r in rows)


def spooled(session_id: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Spool().path(session_id).read_text().splitlines()]


def messages(record: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, mlt.MltrackWarning)]


def test_finish_on_a_hung_link_keeps_its_bound_and_the_order_of_calls(db_url: str) -> None:
    with Proxy(db_url) as proxy:
        run = mlt.start_session(
            "hung link", model_type="yolov8n", epochs=100, database_url=proxy.url
        )
        for epoch in range(50):
            run.log_epoch(epoch, box_loss=1.0, map50=0.3, map50_95=0.2)
        assert run._writer.flush(10)
        proxy.hang()  # the socket stops answering: no RST, no FIN
        with pytest.warns(mlt.MltrackWarning, match="did not take everything within 2 s"):
            for epoch in range(50, 100):
                best = epoch == 75
                run.log_epoch(
                    epoch, box_loss=0.5, map50=0.9 if best else 0.3, map50_95=0.8 if best else 0.2
                )
            time.sleep(0.6)  # the batch is on the wire (flush_interval 0.2 s), and hangs there
            t0 = time.monotonic()
            run.finish(timeout=2)
            took = time.monotonic() - t0
        assert took < 2 + SLACK, f"finish(timeout=2) took {took:.1f} s"

        # The rows in flight come before finish_session, as they were made.
        calls = spooled(run.id)
        assert [c["function"] for c in calls] == ["log_epochs", "finish_session"]
        assert sorted(r["epoch"] for r in calls[0]["args"]["metrics"]) == list(range(50, 100))

        proxy.resume()
        run._writer.join(10)  # its blocked call returned: the writer ends and spools nothing
        assert not run._writer.is_alive()
        assert spooled(run.id) == calls

    transport = PostgresTransport(db_url)
    try:
        result = Spool().replay_all(transport)
    finally:
        transport.close()
    assert (result.sent, result.dead) == (2, 0)
    row = session_row(db_url, run.id)
    assert row["status"] == "completed"
    assert row["best_epoch"] == 75
    assert row["final_map50_95"] == 0.8 and row["final_map50"] == 0.9
    assert stored_epochs(db_url, run.id) == list(range(100))


def test_finish_keeps_its_bound_when_the_link_hangs_during_a_replay(db_url: str) -> None:
    with Proxy(db_url) as proxy:
        run = mlt.start_session(
            "replay hangs", model_type="yolov8n", epochs=100, database_url=proxy.url
        )
        run.log_epoch(0, box_loss=1.0, map50_95=0.2)
        assert run._writer.flush(10)
        proxy.down()
        with pytest.warns(mlt.MltrackWarning) as record:
            for epoch in range(1, 30):
                run.log_epoch(epoch, box_loss=0.5, map50_95=0.5 if epoch == 20 else 0.3)
            assert run._writer.flush(10)  # offline: spooled
            proxy.hang()
            proxy.accept_while_hung()  # the writer's next replay connects, and hangs (5 s)
            time.sleep(1.0)
            t0 = time.monotonic()
            run.finish(timeout=1)
            took = time.monotonic() - t0
        assert took < 1 + SLACK, f"finish(timeout=1) took {took:.1f} s"
        # The replay holds the spool file: finish() says the calls are not kept yet...
        assert any("still being written" in m for m in messages(record)), messages(record)
        # ...and they land behind the spooled rows once the replay gives up.
        deadline = time.monotonic() + 15
        while "finish_session" not in Spool().path(run.id).read_text():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        calls = spooled(run.id)
        assert [c["function"] for c in calls][-1] == "finish_session"
        assert {c["function"] for c in calls[:-1]} == {"log_epochs"}
    transport = PostgresTransport(db_url)
    try:
        Spool().replay_all(transport)
    finally:
        transport.close()
    row = session_row(db_url, run.id)
    assert (row["status"], row["best_epoch"], row["final_map50_95"]) == ("completed", 20, 0.5)
    assert stored_epochs(db_url, run.id) == list(range(30))


def test_a_reset_link_is_survived(db_url: str) -> None:
    with Proxy(db_url) as proxy:
        run = mlt.start_session(
            "reset link",
            model_type="yolov8n",
            epochs=100,
            database_url=proxy.url,
            heartbeat_interval=0.2,
        )
        for epoch in range(50):
            run.log_epoch(epoch, box_loss=1.0, map50_95=0.2)
        assert run._writer.flush(10)
        proxy.reset()  # every connection is closed with an RST
        with pytest.warns(mlt.MltrackWarning, match="backend unavailable") as record:
            for epoch in range(50, 100):
                run.log_epoch(epoch, box_loss=0.5, map50_95=0.3)
            run.finish(timeout=20)
    assert len(messages(record)) == 1, messages(record)
    assert session_row(db_url, run.id)["status"] == "completed"
    assert stored_epochs(db_url, run.id) == list(range(100))
    assert not Spool().has_pending(run.id)


def test_a_full_disk_in_an_outage_holds_the_calls_in_memory_until_the_link_is_back(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Proxy(db_url) as proxy:
        run = mlt.start_session(
            "full disk", model_type="yolov8n", epochs=100, database_url=proxy.url
        )
        for epoch in range(10):
            run.log_epoch(epoch, box_loss=1.0, map50_95=0.2)
        assert run._writer.flush(10)
        monkeypatch.setattr(spool_module, "os", OsProxy(write=full_disk))
        proxy.down()
        with pytest.warns(mlt.MltrackWarning) as record:
            for epoch in range(10, 20):
                run.log_epoch(epoch, box_loss=0.5, map50_95=0.3)
            run.record_benchmark(7.5, device="cpu")
            assert run._writer.flush(10)
            assert run._writer.held >= 2 and not Spool().has_pending(run.id)
            proxy.resume()
            run.finish(timeout=20)
    notes = messages(record)
    assert any("cannot write the spool" in m and "held in memory" in m for m in notes), notes
    assert not any("is kept in" in m for m in notes), notes
    assert session_row(db_url, run.id)["status"] == "completed"
    assert stored_epochs(db_url, run.id) == list(range(20))
    benchmarks = query(
        db_url, "select count(*) as n from model_benchmarks where session_id = %s", run.id
    )
    assert benchmarks[0]["n"] == 1


def test_finish_never_claims_calls_were_spooled_when_the_disk_is_full(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Proxy(db_url) as proxy:
        run = mlt.start_session("no room", model_type="yolov8n", epochs=100, database_url=proxy.url)
        run.log_epoch(0, box_loss=1.0)
        assert run._writer.flush(10)
        monkeypatch.setattr(spool_module, "os", OsProxy(write=full_disk))
        proxy.down()
        with pytest.warns(mlt.MltrackWarning) as record:
            run.log_epoch(1, box_loss=0.9)
            run.finish(timeout=5)
    notes = messages(record)
    assert not any("is kept in" in m or "were kept in" in m for m in notes), notes
    assert any("are lost" in m for m in notes), notes
    assert not Spool().has_pending(run.id)


def test_start_session_with_the_backend_down_and_no_spool_holds_calls_in_memory(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    spool_dir = tmp_path / "a-file" / "spool"  # cannot exist, even for root
    with pytest.warns(mlt.MltrackWarning, match="held in memory") as record:
        run = mlt.start_session(
            "nowhere",
            model_type="yolov8n",
            epochs=3,
            database_url="postgresql://postgres@127.0.0.1:1/postgres",
            spool_dir=spool_dir,
        )
    assert str(spool_dir) in messages(record)[0]
    assert "kept in" not in messages(record)[0]
    run.log_epoch(0, box_loss=1.0)
    with pytest.warns(mlt.MltrackWarning, match="are lost"):
        run.finish(timeout=2)


def test_a_spool_file_of_an_earlier_run_that_cannot_be_read_is_reported_and_skipped(
    db_url: str, home: Path
) -> None:
    broken = "11111111-2222-3333-4444-555555555555"
    (home / "spool" / f"{broken}.jsonl").mkdir(parents=True)  # unreadable as a file
    with (
        pytest.warns(mlt.MltrackWarning, match=f"cannot replay the spool .*{broken}"),
        mlt.start_session("after", model_type="yolov8n", epochs=3, database_url=db_url) as run,
    ):
        for epoch in range(3):
            run.log_epoch(epoch, box_loss=1.0)
    assert session_row(db_url, run.id)["status"] == "completed"
    assert stored_epochs(db_url, run.id) == [0, 1, 2]
