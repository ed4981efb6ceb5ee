"""A live run's calls run no SQL function that Postgres plans again in every transaction.

Postgres inlines a SQL function without SET options into the query that calls it, whose plan is
cached. A SQL function with a SET clause (a pinned search_path, as splinter asks) is called
instead, and its body is parsed, analysed and planned anew in each transaction that calls it
(about 0.08 ms of server CPU on a 2-core machine, where a one-epoch write costs about 1.4 ms).
Every call of a live run (an epoch, a heartbeat) checks the session with
``writable_session``, which asked ``is_end_user()``, such a function (migration
20261203170001 makes it plpgsql: compiled once per connection, its plan cached). A signed-in
owner's rows also passed the write policies, which called ``owns_session()``, another one, for
every row (migration 20261203180001 looks the owner up in the query instead). The function
statistics of the transaction (``track_functions = all``) list every SQL function that was
called rather than inlined: none, for the training machines' roles and for the owner.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from .api import Conn, Row, call_one, query

StartFn = Callable[..., Row]

CALLED_SQL_FUNCTIONS = """
select f.schemaname || '.' || f.funcname as name, f.calls
  from pg_stat_xact_user_functions f
  join pg_proc p on p.oid = f.funcid
 where p.prolang = (select l.oid from pg_language l where l.lanname = 'sql')
"""

WRITES: dict[str, Callable[[Conn, Any], object]] = {
    "log_epoch_columns": lambda c, sid: call_one(
        c, "log_epoch_columns", session_id=sid, epoch=[1], map50=[0.5], total_loss=[1.2]
    ),
    "log_epoch": lambda c, sid: call_one(
        c, "log_epoch", session_id=sid, epoch=1, map50=0.5, extra={"fitness": 0.4}
    ),
    "heartbeat": lambda c, sid: call_one(c, "heartbeat", session_id=sid),
}


@pytest.mark.parametrize("role", ["postgres", "service_role", "authenticated"])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_live_runs_call_plans_no_sql_function_anew(
    conn: Conn, start: StartFn, as_role: Callable[..., Any], write: str, role: str
) -> None:
    owner = str(uuid.uuid4())
    conn.execute("insert into auth.users (id) values (%s)", (owner,))
    sid = start(owner_id=owner)["id"]
    call_one(conn, "log_epoch_columns", session_id=sid, epoch=[0], map50=[0.4])
    with conn.transaction():
        conn.execute("set local track_functions = 'all'")
        if role == "postgres":
            WRITES[write](conn, sid)
        else:
            # The owner signed in (row-level security applies), or a training machine's key.
            with as_role(conn, role, sub=owner if role == "authenticated" else None) as c:
                WRITES[write](c, sid)
            conn.execute("reset role")
        called = {r["name"]: r["calls"] for r in query(conn, CALLED_SQL_FUNCTIONS)}
    assert called == {}
