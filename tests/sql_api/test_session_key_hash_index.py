"""Postgres checks the foreign key of every row that names a session with one probe of the
session key per row. Those probes go to the key's hash index (a fifth cheaper than a btree
descent, migration 20261203150001), not the primary key's btree; the constraint is unchanged,
and the session updates of a live run stay HOT under the key's indexes."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from .api import Conn, Row, call_one, query

StartFn = Callable[..., Row]

HASH = "public.training_sessions_id_hash_idx"
PKEY = "public.training_sessions_pkey"
ROWS = 40


def _scans(conn: Conn) -> dict[str, int]:
    """Index scans of this transaction so far (not yet flushed to the cumulative statistics)."""
    row = query(
        conn,
        "select pg_stat_get_xact_numscans(%s::regclass) as hash,"
        " pg_stat_get_xact_numscans(%s::regclass) as pkey",
        (HASH, PKEY),
    )[0]
    return {"hash": row["hash"], "pkey": row["pkey"]}


def _epochs(conn: Conn, session_id: object) -> None:
    epochs = list(range(1, ROWS + 1))
    call_one(conn, "log_epoch_columns", session_id=session_id, epoch=epochs, map50=[0.5] * ROWS)


def _validation(conn: Conn, session_id: object) -> None:
    results = [{"class_name": f"class {i}", "map50": 0.5} for i in range(ROWS)]
    call_one(conn, "record_validation", session_id=session_id, results=results)


@pytest.mark.parametrize("write", [_epochs, _validation], ids=["epochs", "validation"])
def test_each_rows_key_check_probes_the_hash_index(
    conn: Conn, start: StartFn, write: Callable[[Conn, object], None]
) -> None:
    sid = start(epochs=ROWS)["id"]
    # More sessions than one index page holds, so a btree would have a root above its leaves.
    conn.execute(
        "insert into training_sessions (session_name, model_type, epochs)"
        " select 'other ' || g, 'yolov8n', 10 from generate_series(1, 2000) g"
    )
    conn.execute("analyze training_sessions")
    with conn.transaction():
        before = _scans(conn)
        write(conn, sid)
        after = _scans(conn)
    probes = {k: after[k] - before[k] for k in before}
    assert probes["hash"] >= ROWS, probes
    assert probes["pkey"] < ROWS // 4, probes


def test_the_key_check_still_rejects_an_unknown_session(conn: Conn) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            "insert into training_metrics (session_id, epoch) values (gen_random_uuid(), 1)"
        )
    assert query(conn, "select count(*) as n from training_metrics")[0]["n"] == 0


def test_a_live_runs_session_updates_stay_hot(conn: Conn, start: StartFn) -> None:
    sid = start(epochs=ROWS)["id"]
    with conn.transaction():
        for epoch in range(1, 11):
            call_one(conn, "log_epoch_columns", session_id=sid, epoch=[epoch], map50=[0.5])
            call_one(conn, "heartbeat", session_id=sid)
        row = query(
            conn,
            "select pg_stat_get_xact_tuples_updated(t) as updated,"
            " pg_stat_get_xact_tuples_hot_updated(t) as hot"
            " from (select 'public.training_sessions'::regclass as t) r",
        )[0]
    assert row["updated"] >= 20, row
    assert row["hot"] == row["updated"], row
