"""active_training_sessions finds the latest epoch through current_epoch (one primary-key probe):
its rows equal those of the view's first definition (a backward scan of each session's metric
rows) whatever the writes did - older epochs re-logged or merged, batches out of order, the latest
epoch deleted or moved, no metrics at all - for every role that may read it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from .api import Conn, Row, call_one, log_epochs, query

StartFn = Callable[..., Row]
AsRole = Callable[..., AbstractContextManager[Conn]]

MIGRATIONS = Path(__file__).resolve().parents[2] / "supabase" / "migrations"
USER_A = uuid.UUID("aaaaaaaa-0000-4000-8000-00000000000a")
USER_B = uuid.UUID("bbbbbbbb-0000-4000-8000-00000000000b")


def create_first_definition(conn: Conn) -> None:
    """The view as its first migration defined it, as public.active_sessions_first."""
    text = (MIGRATIONS / "20261126090005_views.sql").read_text(encoding="utf-8")
    found = re.search(
        r"create view public\.active_training_sessions\b.*?where s\.status = 'running';", text, re.S
    )
    assert found, "the first definition of active_training_sessions"
    conn.execute(
        found.group(0).replace("public.active_training_sessions", "public.active_sessions_first")
    )
    conn.execute("grant select on public.active_sessions_first to authenticated, service_role")


#: Seconds computed in floating point since 20261203140001 (the first definition went through
#: numeric): the same double, or one unit in the last place away.
SECONDS = ("elapsed_seconds", "eta_seconds", "heartbeat_age_seconds")


def assert_same_rows(now: list[Row], first: list[Row]) -> None:
    """Equal rows; the seconds columns equal to a microsecond (timestamps' resolution)."""
    assert [{k: v for k, v in r.items() if k not in SECONDS} for r in now] == [
        {k: v for k, v in r.items() if k not in SECONDS} for r in first
    ]
    for a, b in zip(now, first, strict=True):
        for column in SECONDS:
            assert (a[column] is None) == (b[column] is None), (column, a[column], b[column])
            if a[column] is not None:
                assert a[column] == pytest.approx(b[column], rel=0, abs=1e-6), column


def both(conn: Conn) -> tuple[list[Row], list[Row]]:
    """Both definitions' rows by id, read in one transaction (now() does not move in it)."""
    with conn.transaction():
        now = query(conn, "select * from active_training_sessions order by id")
        first = query(conn, "select * from public.active_sessions_first order by id")
    return now, first


def metrics(epoch: int, **values: float) -> dict[str, Any]:
    return {"epoch": epoch, "map50": 0.1 + 0.05 * epoch, "map50_95": 0.05 + 0.04 * epoch,
            "box_loss": 2.0 - 0.1 * epoch, "total_loss": 5.0 - 0.3 * epoch,
            "learning_rate": 0.01, "epoch_time_seconds": 10.0 + epoch, **values}  # fmt: skip


def columns(conn: Conn, session_id: Any, epochs: list[int], map50: list[float | None]) -> None:
    """Epochs through log_epoch_columns (the SDK's append path)."""
    call_one(conn, "log_epoch_columns", session_id=session_id, epoch=epochs, map50=map50)


def test_rows_equal_the_first_definition_after_any_write(
    conn: Conn, start: StartFn, as_role: AsRole
) -> None:
    create_first_definition(conn)
    s = {name: start(session_name=name)["id"] for name in (
        "relogged", "merged", "no metrics", "out of order", "latest deleted", "latest moved",
        "all deleted", "stopping")}  # fmt: skip
    # An older epoch logged again replaces its values; the latest stays the latest.
    log_epochs(conn, s["relogged"], [metrics(e) for e in range(5)])
    log_epochs(conn, s["relogged"], [metrics(1, map50=0.99, box_loss=0.5)])
    columns(conn, s["relogged"], [2], [0.98])
    # The latest epoch merged: a value given replaces the old one, a null keeps it.
    log_epochs(conn, s["merged"], [metrics(e) for e in range(3)])
    columns(conn, s["merged"], [2, 3], [None, 0.7])
    log_epochs(conn, s["merged"], [{"epoch": 3, "recall": 0.6}])
    # Batches out of order, through both write paths.
    columns(conn, s["out of order"], [5, 2, 4], [0.5, 0.2, 0.4])
    log_epochs(conn, s["out of order"], [metrics(7), metrics(1), metrics(6)])
    columns(conn, s["out of order"], [3], [0.3])
    # The latest epoch deleted, moved to a later one, or every epoch deleted.
    log_epochs(conn, s["latest deleted"], [metrics(e) for e in range(4)])
    conn.execute("delete from training_metrics where session_id = %s and epoch = 3",
                 (s["latest deleted"],))  # fmt: skip
    log_epochs(conn, s["latest moved"], [metrics(e) for e in range(3)])
    conn.execute("update training_metrics set epoch = 8 where session_id = %s and epoch = 1",
                 (s["latest moved"],))  # fmt: skip
    log_epochs(conn, s["all deleted"], [metrics(e) for e in range(2)])
    conn.execute("delete from training_metrics where session_id = %s", (s["all deleted"],))
    log_epochs(conn, s["stopping"], [metrics(0)])
    call_one(conn, "request_stop", session_id=s["stopping"])
    # Sessions that are not running are in neither.
    done = start(session_name="done")["id"]
    log_epochs(conn, done, [metrics(0)])
    call_one(conn, "finish_session", session_id=done)
    start(session_name="pending", status="pending")
    # A user's own session, written as that user.
    with as_role(conn, "authenticated", sub=str(USER_A)):
        own = call_one(conn, "start_session", session_name="A's", model_type="yolov8n", epochs=5)
        log_epochs(conn, own["id"], [metrics(e) for e in range(3)])

    now, first = both(conn)
    assert_same_rows(now, first)
    latest = {r["session_name"]: r["latest_epoch"] for r in now}
    assert latest == {
        "relogged": 4, "merged": 3, "no metrics": None, "out of order": 7, "latest deleted": 2,
        "latest moved": 8, "all deleted": None, "stopping": 0, "A's": 2,
    }  # fmt: skip
    merged = next(r for r in now if r["session_name"] == "merged")
    assert (merged["map50"], merged["recall"], merged["box_loss"]) == (0.7, 0.6, None)
    relogged = next(r for r in now if r["session_name"] == "relogged")
    assert relogged["map50"] == pytest.approx(0.3) and relogged["box_loss"] == pytest.approx(1.6)

    # Row-level security applies through both alike (security_invoker).
    for role, user in (
        ("authenticated", USER_A),
        ("authenticated", USER_B),
        ("service_role", None),
    ):
        with as_role(conn, role, sub=str(user) if user else None):
            now, first = (
                query(conn, "select * from active_training_sessions order by id"),
                query(conn, "select * from public.active_sessions_first order by id"),
            )
        assert_same_rows(now, first)
        assert len(now) == len(latest)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_role(conn, "anon"):
        query(conn, "select * from active_training_sessions")


def test_the_latest_epoch_is_one_primary_key_probe_per_session(conn: Conn, start: StartFn) -> None:
    for i in range(3):
        log_epochs(conn, start(session_name=f"run {i}")["id"], [metrics(e) for e in range(4)])
    # A few rows fit one page, where a scan is cheapest: ask for the plan of a large table.
    with conn.transaction():
        conn.execute("set local enable_seqscan = off")
        plan = "\n".join(
            r["QUERY PLAN"] for r in query(conn, "explain select * from active_training_sessions")
        )
    assert "Seq Scan on training_metrics" not in plan
    probe = r"Index Cond: \(\(session_id = s\.id\) AND \(epoch = s\.current_epoch\)\)"
    assert re.search(probe, plan), plan
