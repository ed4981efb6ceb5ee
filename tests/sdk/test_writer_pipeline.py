"""The writer takes and encodes the next batch while one is on the wire: calls still reach the
database one at a time, in the order they were made, and nothing is lost or stored twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest

import mltrack_sdk as mlt
from mltrack_sdk.spool import Spool
from mltrack_sdk.transports.base import TransportUnavailable
from mltrack_sdk.transports.postgres import PostgresTransport, PreparedCall
from mltrack_sdk.writer import Writer
from tests.faults import Proxy

Conn = psycopg.Connection[dict[str, Any]]
EPOCHS = 3000


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))  # a spool of its own


def stored(conn: Conn, session_id: str) -> list[tuple[int, float, float, dict[str, Any]]]:
    rows = conn.execute(
        "select epoch, box_loss, map50, extra from training_metrics where session_id = %s"
        " order by epoch",
        (session_id,),
    ).fetchall()
    return [(r["epoch"], r["box_loss"], r["map50"], r["extra"]) for r in rows]


def test_later_batches_never_overtake_earlier_ones(db_url: str, conn: Conn) -> None:
    """Every epoch logged twice, the second time in a later batch: the later values win."""
    run = mlt.start_session("pipeline", model_type="m", epochs=EPOCHS, database_url=db_url)
    for epoch in range(EPOCHS):
        run.log_epoch(epoch, box_loss=1.0, map50=0.25, extra={"pass": 1})
    for epoch in range(EPOCHS):
        run.log_epoch(epoch, map50=0.5, extra={"lr": 0.01})
    writer = run._writer
    run.finish()
    assert writer.overlapped > 0  # the next batch was taken while one was on the wire
    assert stored(conn, run.id) == [
        (epoch, 1.0, 0.5, {"pass": 1, "lr": 0.01}) for epoch in range(EPOCHS)
    ]
    row = conn.execute(
        "select status, current_epoch from training_sessions where id = %s", (run.id,)
    ).fetchone()
    assert row == {"status": "completed", "current_epoch": EPOCHS - 1}


def test_an_outage_with_a_batch_in_flight_keeps_every_row(db_url: str, conn: Conn) -> None:
    """The link drops while batches are sent and encoded: what was not committed is spooled in
    order and sent when it is back; every row lands once, with its last values."""
    with Proxy(db_url) as proxy, pytest.warns(mlt.MltrackWarning, match="unavailable"):
        run = mlt.start_session(
            "pipeline outage", model_type="m", epochs=EPOCHS, database_url=proxy.url
        )
        for epoch in range(EPOCHS):
            run.log_epoch(epoch, box_loss=2.0, map50=0.125)
            if epoch == EPOCHS // 3:
                proxy.reset()  # every open connection is cut: a call on the wire fails
        for epoch in range(EPOCHS):
            run.log_epoch(epoch, map50=0.75)
        run.finish()  # back online: the spool is replayed first, then the rest, in order
    assert not Spool().has_pending(run.id)
    assert stored(conn, run.id) == [(epoch, 2.0, 0.75, {}) for epoch in range(EPOCHS)]


class GatedTransport:
    """The real transport, recording each batch it is asked to send; it holds the first batch
    until the writer has queued the next one behind it, and then keeps the writer from taking
    the first one's answer (its lock) until the next batch is on the wire, or 3 s passed. With
    ``fail_first``, the first batch then fails as if the link dropped. Not a stand-in for the
    database: every batch it does not fail goes to the real one."""

    name = "postgres"
    batch_encoding = "columns"

    def __init__(self, url: str, *, fail_first: bool = False) -> None:
        self.inner = PostgresTransport(url)
        self.fail_first = fail_first
        self.writer: Writer | None = None
        #: (function, first epoch, encoded ahead, sent while the writer was held).
        self.batches: list[tuple[str, int, bool, bool]] = []
        self.holding = False

    def prepare(self, function: str, args: Mapping[str, Any]) -> Any:
        return self.inner.prepare(function, args)

    def _release(self) -> None:
        assert self.writer is not None
        if self.holding:
            self.holding = False
            self.writer._lock.release()

    def rpc(self, function: str, args: Mapping[str, Any]) -> Any:
        if function in ("log_epoch_columns", "log_epochs"):
            first = args["epoch"][0] if function == "log_epoch_columns" else args["metrics"][0]
            epoch = first if function == "log_epoch_columns" else first["epoch"]
            self.batches.append((function, epoch, type(args) is PreparedCall, self.holding))
            if len(self.batches) == 1:
                writer = self.writer
                assert writer is not None
                deadline = time.monotonic() + 3
                while getattr(writer, "_next", None) is None and time.monotonic() < deadline:
                    time.sleep(0.001)
                writer._lock.acquire()
                self.holding = True
                threading.Timer(3, self._release).start()
                if self.fail_first:
                    raise TransportUnavailable("cannot reach the database: injected outage")
            else:
                self._release()
        return self.inner.rpc(function, args)

    def close(self) -> None:
        self.inner.close()


def run_writer(db_url: str, transport: GatedTransport, rows: int) -> str:
    """A session with epoch 0 stored (its batch's argument types are known), then ``rows`` more
    epochs queued before its writer (batches of 100) starts; returns once all are sent."""
    try:
        sid = str(
            transport.inner.rpc(
                "start_session", {"session_name": "gated", "model_type": "m", "epochs": rows}
            )["id"]
        )
        transport.inner.rpc("log_epoch_columns", {"session_id": sid, "epoch": [0], "map50": [0.5]})
        notes: list[str] = []
        writer = Writer(sid, transport, Spool(), notes.append, max_batch=100, replay_others=False)
        transport.writer = writer
        for epoch in range(1, rows + 1):
            writer.queue.put({"epoch": epoch, "box_loss": 1 / epoch, "map50": epoch / (2 * rows)})
        writer.start()
        assert writer.flush(30)
        writer.stop()
        writer.join(10)
    finally:
        transport.close()
    return sid


def test_the_next_batch_goes_on_the_wire_without_waiting_for_the_writer(
    db_url: str, conn: Conn
) -> None:
    """The next batch is encoded ahead and queued behind the one on the wire: the database
    starts on it even while the writer thread has not taken the first one's answer."""
    transport = GatedTransport(db_url)
    sid = run_writer(db_url, transport, 300)
    assert transport.batches[:2] == [
        ("log_epoch_columns", 1, False, False),
        ("log_epoch_columns", 101, True, True),
    ]
    assert [e for e, *_ in stored(conn, sid)] == list(range(301))


def test_a_batch_queued_behind_a_failed_one_is_not_sent(db_url: str, conn: Conn) -> None:
    """The first batch fails on the wire with the next queued behind it: that one is not sent
    out of turn; both are spooled and sent in order, every row once."""
    transport = GatedTransport(db_url, fail_first=True)
    sid = run_writer(db_url, transport, 300)
    firsts = [epoch for _, epoch, *_ in transport.batches]
    assert firsts[:2] == [1, 1]  # the failed batch, then the replay from its first row
    assert firsts[1:] == sorted(firsts[1:])
    assert [e for e, *_ in stored(conn, sid)] == list(range(301))
