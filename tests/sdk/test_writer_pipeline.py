"""The writer takes and encodes the next batch while one is on the wire: calls still reach the
database one at a time, in the order they were made, and nothing is lost or stored twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

import mltrack_sdk as mlt
from mltrack_sdk.spool import Spool
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
