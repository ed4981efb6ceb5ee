"""Lists of sessions newest first (``order by created_at desc, id``, the order of
``Client.sessions()``, ``Client.performance_summary()``, ``mltrack sessions`` and the
dashboard) follow one index: the read walks it and stops after the page, with no sort of every
session, which at scale made the planner start parallel workers for each page of the summary.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .api import Conn, Row, log_epochs, query

StartFn = Callable[..., Row]

NEWEST_FIRST = [
    "select * from training_sessions order by created_at desc, id limit 50",
    "select * from training_performance_summary order by created_at desc, id limit 50",
    "select * from training_performance_summary order by created_at desc, id limit 50 offset 10",
]


@pytest.mark.parametrize("text", NEWEST_FIRST)
def test_newest_first_is_an_index_order(conn: Conn, start: StartFn, text: str) -> None:
    for i in range(3):
        sid = start(session_name=f"run {i}")["id"]
        log_epochs(conn, sid, [{"epoch": 0, "map50_95": 0.1 * i}])
    # A few rows fit one page, where a scan and a sort are cheapest: ask for the plan of a
    # large table.
    with conn.transaction():
        conn.execute("set local enable_seqscan = off")
        conn.execute("set local enable_bitmapscan = off")
        plan = "\n".join(r["QUERY PLAN"] for r in query(conn, "explain " + text))
    assert "Index Scan using training_sessions_created_at_id_idx" in plan, plan
    assert "Sort" not in plan, plan


def test_newest_first_pages_are_stable_on_equal_times(conn: Conn, start: StartFn) -> None:
    # Sessions started in one transaction share created_at: the id orders them, page by page.
    with conn.transaction():
        ids = [str(start(session_name=f"same {i}")["id"]) for i in range(7)]
    pages = [
        [
            str(r["id"])
            for r in query(
                conn,
                "select id from training_performance_summary where session_name like 'same %%'"
                " order by created_at desc, id limit 3 offset %s",
                (offset,),
            )
        ]
        for offset in (0, 3, 6)
    ]
    assert [i for page in pages for i in page] == sorted(ids)
