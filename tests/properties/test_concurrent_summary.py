"""Concurrency properties of a session's summary: many writers at once, random interleavings.

After every round, whatever the order in which the writers' transactions committed:
``best_epoch`` is the argmax of map50_95 (ties: higher map50, then the earlier epoch),
``best_map50``/``best_map50_95`` are that epoch's, ``epochs_completed`` is the row count,
``current_epoch`` the highest epoch, and ``finish_session`` takes the finals from the best epoch.
"""

from __future__ import annotations

import functools
import random
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

Conn = psycopg.Connection[dict[str, Any]]

WRITERS = 16
ROUNDS = 12


def expected_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary the database must hold for these metric rows (the rule, in Python)."""
    scored = [r for r in rows if r["map50_95"] is not None]
    best = min(
        scored,
        key=lambda r: (-r["map50_95"], -(r["map50"] if r["map50"] is not None else -1), r["epoch"]),
        default=None,
    )
    return {
        "epochs_completed": len(rows),
        "current_epoch": max((r["epoch"] for r in rows), default=None),
        "best_epoch": best and best["epoch"],
        "best_map50": best and best["map50"],
        "best_map50_95": best and best["map50_95"],
    }


def assert_summary_true(conn: Conn, session_id: Any) -> None:
    rows = conn.execute(
        "select epoch, map50, map50_95 from training_metrics where session_id = %s",
        (session_id,),
    ).fetchall()
    got = conn.execute(
        "select epochs_completed, current_epoch, best_epoch, best_map50, best_map50_95"
        " from training_sessions where id = %s",
        (session_id,),
    ).fetchone()
    assert got == expected_summary(rows)


def run_at_once(db_url: str, jobs: list[Callable[[Conn], None]]) -> None:
    """Run each job on its own connection, released together by a barrier."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def worker(job: Callable[[Conn], None]) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as c:
                barrier.wait()
                job(c)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def write_epoch(path: str, sid: Any, epoch: int, value: float, c: Conn) -> None:
    """One epoch through one of the three write paths of the SQL API."""
    if path == "log_epoch":
        c.execute(
            "select log_epoch(session_id => %s, epoch => %s, map50_95 => %s)", (sid, epoch, value)
        )
    elif path == "log_epoch_columns":
        c.execute(
            "select log_epoch_columns(session_id => %s, epoch => %s, map50_95 => %s)",
            (sid, [epoch], [value]),
        )
    else:
        c.execute(
            "select log_epochs(session_id => %s, metrics => %s::jsonb)",
            (sid, f'[{{"epoch": {epoch}, "map50_95": {value}}}]'),
        )


def write_random_batch(sid: Any, seed: int, c: Conn) -> None:
    """A few epochs, some new and some rewritten, with random values."""
    r = random.Random(seed)
    epochs = sorted(r.sample(range(24), r.randint(1, 4)))
    c.execute(
        "select log_epoch_columns(session_id => %s, epoch => %s, map50 => %s, map50_95 => %s)",
        (
            sid,
            epochs,
            [round(r.random(), 2) for _ in epochs],
            [round(r.random(), 3) for _ in epochs],
        ),
    )


def new_session(conn: Conn, epochs: int = 100) -> Any:
    row = conn.execute(
        "select id from start_session(session_name => 'c', model_type => 'm', epochs => %s)",
        (epochs,),
    ).fetchone()
    assert row is not None
    return row["id"]


@pytest.mark.parametrize("path", ["log_epoch", "log_epoch_columns", "log_epochs"])
def test_best_epoch_is_the_argmax_under_concurrent_writers(
    db_url: str, conn: Conn, path: str
) -> None:
    rng = random.Random(f"summary-{path}")
    for _ in range(ROUNDS):
        sid = new_session(conn)
        values = [round(rng.random(), 3) for _ in range(WRITERS)]

        run_at_once(
            db_url,
            [functools.partial(write_epoch, path, sid, i, values[i]) for i in range(WRITERS)],
        )
        assert_summary_true(conn, sid)
        finished = conn.execute(
            "select final_map50_95, best_map50_95 from finish_session(session_id => %s)", (sid,)
        ).fetchone()
        assert finished is not None
        assert finished["final_map50_95"] == max(values)


def test_rewrites_and_new_epochs_interleaved(db_url: str, conn: Conn) -> None:
    """Writers that rewrite epochs (the upsert's update path, which may lower the best) race
    writers that add epochs; the summary still tells the truth after each round."""
    rng = random.Random("rewrites")
    for _ in range(ROUNDS):
        sid = new_session(conn)
        conn.execute(
            "select log_epoch_columns(session_id => %s, epoch => %s, map50 => %s, map50_95 => %s)",
            (sid, list(range(8)), [0.5] * 8, [round(rng.random(), 3) for _ in range(8)]),
        )

        run_at_once(
            db_url,
            [
                functools.partial(write_random_batch, sid, rng.randrange(1 << 30))
                for _ in range(WRITERS)
            ],
        )
        assert_summary_true(conn, sid)
