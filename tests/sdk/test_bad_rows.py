"""One bad row must not sink its batch: the database's rejection of a ``log_epochs`` /
``log_epoch_columns`` batch is narrowed down by splitting it, every good row lands, and each bad
row is set aside in the dead-letter file with its own reason, and reported.

Rows go on the writer's queue directly, past the SDK's own checks, as rows the database refuses
although the client let them through (a schema the client does not know yet, say)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

import mltrack_sdk as mlt
from mltrack_sdk.batches import send_rows_isolating
from mltrack_sdk.spool import Spool
from mltrack_sdk.transports.postgres import PostgresTransport


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


def stored_epochs(url: str, session_id: str) -> list[int]:
    rows = query(url, "select epoch from training_metrics where session_id = %s", session_id)
    return sorted(r["epoch"] for r in rows)


def dead_letters() -> list[dict[str, Any]]:
    path = Spool().dead_letter_path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def good_row(epoch: int) -> dict[str, Any]:
    return {"epoch": epoch, "box_loss": 1 / (epoch + 1), "map50": 0.5, "map50_95": epoch / 10000}


# Each bad row would be the best epoch if it were stored: finals must come from the good ones.
NUL_IN_EXTRA = {"epoch": 17, "map50_95": 0.99, "extra": {"s": "a\u0000b"}}  # jsonb refuses \u0000
EPOCH_OUT_OF_RANGE = {"epoch": 150, "map50_95": 0.99}  # the session has 100 epochs


@pytest.mark.parametrize(
    ("bad", "reason"),
    [(NUL_IN_EXTRA, r"\\u0000|Unicode"), (EPOCH_OUT_OF_RANGE, "epoch must be between")],
    ids=["nul in extra", "epoch out of range"],
)
def test_one_bad_row_is_set_aside_and_the_other_rows_land(
    db_url: str, bad: Mapping[str, Any], reason: str
) -> None:
    run = mlt.start_session("bad row", model_type="yolov8n", epochs=100, database_url=db_url)
    good = [e for e in range(50) if e != bad["epoch"]][:49]
    for epoch in sorted([*good, bad["epoch"]]):
        run._writer.queue.put(dict(bad) if epoch == bad["epoch"] else good_row(epoch))
    with pytest.warns(mlt.MltrackWarning, match=rf"epoch {bad['epoch']}\b.*({reason})") as record:
        run.finish()
    assert len([w for w in record if issubclass(w.category, mlt.MltrackWarning)]) == 1

    assert stored_epochs(db_url, run.id) == good
    dead = dead_letters()
    assert [(d["function"], d["args"]["metrics"]) for d in dead] == [("log_epochs", [bad])]
    assert dead[0]["sqlstate"][:2] in ("22", "MT")
    row = query(db_url, "select * from training_sessions where id = %s", run.id)[0]
    assert row["status"] == "completed"
    assert row["best_epoch"] == max(good)
    assert row["final_map50_95"] == max(good) / 10000


def test_several_bad_rows_each_keep_their_own_reason(db_url: str) -> None:
    run = mlt.start_session("bad rows", model_type="yolov8n", epochs=100, database_url=db_url)
    for epoch in range(40):
        run._writer.queue.put(good_row(epoch))
    run._writer.queue.put(dict(NUL_IN_EXTRA, epoch=40))
    run._writer.queue.put(dict(EPOCH_OUT_OF_RANGE))
    with pytest.warns(mlt.MltrackWarning) as record:
        run.finish()
    notes = [str(w.message) for w in record]
    assert any("epoch 40" in n for n in notes) and any("epoch 150" in n for n in notes), notes
    assert stored_epochs(db_url, run.id) == list(range(40))
    dead = dead_letters()
    assert [d["args"]["metrics"][0]["epoch"] for d in dead] == [40, 150]
    assert dead[0]["error"] != dead[1]["error"]


class CountingTransport:
    """The real transport, counting its round trips (not a stand-in for the database)."""

    def __init__(self, url: str) -> None:
        self.inner = PostgresTransport(url)
        self.name = self.inner.name
        self.calls = 0

    def rpc(self, function: str, args: Mapping[str, Any]) -> Any:
        self.calls += 1
        return self.inner.rpc(function, args)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("columns", [True, False], ids=["log_epoch_columns", "log_epochs"])
def test_isolating_costs_a_few_round_trips_per_bad_row(db_url: str, columns: bool) -> None:
    transport = CountingTransport(db_url)
    try:
        sid = str(
            transport.rpc(
                "start_session", {"session_name": "n", "model_type": "m", "epochs": 2000}
            )["id"]
        )
        transport.calls = 0
        rows = [good_row(epoch) for epoch in range(1000)]
        rows[613] = {"epoch": 613, "extra": {"s": "\u0000"}}
        done = send_rows_isolating(transport, sid, rows, columns=columns)
        assert [(r, type(e).__name__) for r, e in done.rejected] == [([rows[613]], "DatabaseError")]
        assert (done.unsent, done.error) == ([], None)
        assert transport.calls <= 1 + 2 * math.ceil(math.log2(len(rows)))
        assert len(stored_epochs(db_url, sid)) == 999

        # An error about the session is not narrowed down: every row would fail alike.
        query(db_url, "delete from training_sessions where id = %s", sid)
        transport.calls = 0
        rows[613] = good_row(613)
        done = send_rows_isolating(transport, sid, rows, columns=columns)
        assert [(len(r), getattr(e, "sqlstate", None)) for r, e in done.rejected] == [
            (1000, "MT005")
        ]
        assert transport.calls == 1
    finally:
        transport.close()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [(NUL_IN_EXTRA, "Unicode escape"), (EPOCH_OUT_OF_RANGE, "epoch")],
    ids=["nul-in-extra", "epoch-out-of-range"],
)
def test_spool_replay_sets_aside_only_the_bad_row(
    db_url: str, bad: dict[str, Any], reason: str
) -> None:
    """An offline run's spool: its log_epochs records merge into one replayed batch. The bad
    row used to sink all 50 (one dead letter of 50 rows, the run completed without finals)."""
    transport = PostgresTransport(db_url)
    try:
        sid = transport.rpc(
            "start_session", {"session_name": "offline", "model_type": "m", "epochs": 100}
        )["id"]
        sid = str(sid)
        rows = [good_row(e) for e in range(50) if e != bad["epoch"]] + [bad]
        spool = Spool()
        for start in range(0, len(rows), 10):  # five spooled records, merged on replay
            batch = rows[start : start + 10]
            spool.append(
                sid, [{"function": "log_epochs", "args": {"session_id": sid, "metrics": batch}}]
            )
        spool.append(
            sid,
            [{"function": "finish_session", "args": {"session_id": sid, "status": "completed"}}],
        )
        result = spool.replay(transport, sid)
    finally:
        transport.close()
    assert (result.dead, result.malformed) == (1, 0)
    assert stored_epochs(db_url, sid) == sorted(r["epoch"] for r in rows if r is not bad)
    (letter,) = dead_letters()
    assert [r["epoch"] for r in letter["args"]["metrics"]] == [bad["epoch"]]
    assert reason in letter["error"]
    assert any(str(bad["epoch"]) in message for message in result.errors or [])
    session = query(db_url, "select * from training_sessions where id = %s", sid)[0]
    assert session["status"] == "completed"
    assert session["final_map50_95"] == max(r["map50_95"] for r in rows if r is not bad)
