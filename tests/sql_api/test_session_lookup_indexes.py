"""Resuming a run by name and finding the session of a weights file are index probes: on a
large table a name or path that matches nothing must not walk every session."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .api import Conn, Row, query

StartFn = Callable[..., Row]

#: (index, lookup): the SDK's reads (start_session(resume=<name>), benchmark's model lookup).
LOOKUPS = [
    (
        "training_sessions_session_name_idx",
        "select * from training_sessions where session_name = 'run 1'"
        " order by created_at desc limit 1",
    ),
    (
        "training_sessions_model_path_idx",
        "select * from training_sessions where model_path = any('{/w/best.pt,/w/last.pt}')"
        " order by created_at desc, id limit 1",
    ),
]


def _plan(conn: Conn, text: str) -> str:
    # A few rows fit one page, where a scan is cheapest: ask for the plan of a large table.
    with conn.transaction():
        conn.execute("set local enable_seqscan = off")
        return "\n".join(r["QUERY PLAN"] for r in query(conn, "explain " + text))


@pytest.mark.parametrize(("index", "text"), LOOKUPS)
def test_lookups_probe_an_index(conn: Conn, start: StartFn, index: str, text: str) -> None:
    for i in range(3):
        start(session_name=f"run {i}")
    plan = _plan(conn, text)
    assert index in plan and "Seq Scan" not in plan, plan
    # Not the newest-first index walked until a match turns up.
    assert "created_at_id_idx" not in plan, plan


def test_resume_by_name_finds_the_newest_of_that_name(conn: Conn, start: StartFn) -> None:
    # Each start is its own transaction: a later created_at.
    start(session_name="again")
    start(session_name="other")
    second = start(session_name="again")["id"]
    newest = query(
        conn,
        "select id from training_sessions where session_name = 'again'"
        " order by created_at desc limit 1",
    )
    assert [r["id"] for r in newest] == [second]
