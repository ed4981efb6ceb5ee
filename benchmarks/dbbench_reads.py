"""Read side of the database benchmark: latency of the views, and their EXPLAIN.

See phase 3 in ``db_bench.py``'s docstring.
"""

from __future__ import annotations

import math
import random
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from dbbench_server import Log, print_flush

from mltrack_sdk.client import Client

GOAL_QUERY_P50_MS = 20.0
#: The views a dashboard polls have a tighter goal (at 100,000 sessions, 10 million metric rows).
GOAL_VIEW_P50_MS = {"models_leaderboard": 5.0, "active_training_sessions": 5.0}

QUERIES: list[tuple[str, str]] = [
    ("models_leaderboard", "select * from models_leaderboard"),
    ("active_training_sessions", "select * from active_training_sessions"),
    (
        "training_performance_summary",
        "select * from training_performance_summary order by created_at desc limit 50",
    ),
    ("session_metrics", "select * from training_metrics where session_id = %s order by epoch"),
    # The lookups of start_session(resume=<name>) and of a benchmarked weights file, for a name
    # and a path no session has (a session id as text): the worst case, a miss.
    (
        "session_by_name",
        "select * from training_sessions where session_name = %s::text"
        " order by created_at desc limit 1",
    ),
    (
        "session_by_model_path",
        "select * from training_sessions where model_path = any(array[%s::text])"
        " order by created_at desc, id limit 1",
    ),
]


#: The SDK read that serves each query: what a ``Client`` user (the dashboard, a script) waits for,
#: rows decoded and checked into models.
SDK_READS: dict[str, Callable[[Client, uuid.UUID | None], Any]] = {
    "models_leaderboard": lambda client, _: client.leaderboard(),
    "active_training_sessions": lambda client, _: client.active_sessions(),
    "training_performance_summary": lambda client, _: client.performance_summary(),
    "session_metrics": lambda client, sid: client.metrics(str(sid)),
    "session_by_name": lambda client, sid: client.transport.select(
        "training_sessions",
        filters={"session_name": str(sid)},
        order=(("created_at", True),),
        limit=1,
    ),
    "session_by_model_path": lambda client, sid: client.transport.select(
        "training_sessions",
        filters={"model_path": [str(sid)]},
        order=(("created_at", True), ("id", False)),
        limit=1,
    ),
}


def _stats_ms(samples_s: Sequence[float]) -> dict[str, float]:
    ms = sorted(s * 1000.0 for s in samples_s)
    n = len(ms)

    def pct(q: float) -> float:  # nearest rank
        return ms[max(0, math.ceil(q * n) - 1)]

    return {
        "p50_ms": statistics.median(ms),
        "p95_ms": pct(0.95),
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "max_ms": ms[-1],
    }


def _session_ids(conn: psycopg.Connection[Any], limit: int = 100_000) -> list[uuid.UUID]:
    return [
        r[0]
        for r in conn.execute(
            "select id from public.training_sessions order by id limit %s", (limit,)
        )
    ]


def _server_p50_ms(
    conn: psycopg.Connection[Any],
    query: str,
    ids: Sequence[uuid.UUID] | None,
    rng: random.Random,
    runs: int = 50,
) -> float:
    """Median execution time inside the server (EXPLAIN ANALYZE without per-node timing): the
    query's own work, without sending the rows and building them in Python."""
    times = []
    for _ in range(runs):
        args = (rng.choice(ids),) if ids else None
        plan = conn.execute("explain (analyze, timing off, format json) " + query, args).fetchone()
        times.append(plan[0][0]["Execution Time"])  # type: ignore[index]
    return statistics.median(times)


def bench_queries(
    url: str, iterations: int = 200, warmup: int = 20, seed: int = 42, log: Log = print_flush
) -> list[dict[str, Any]]:
    """Client-side latency of the four read queries (rows fetched), with the part until the result
    is on the client (the rest is psycopg building the rows), the server's execution time, the
    p50 of the same query with rows in binary format, and the p50 of the SDK's read of the same
    rows into models (:data:`SDK_READS`), each run in turn with the text one."""
    rng = random.Random(seed + 1)
    results = []
    with psycopg.connect(url, autocommit=True) as conn, Client(database_url=url) as client:
        ids = _session_ids(conn)
        binary_cur = conn.cursor(binary=True)
        for name, query in QUERIES:
            needs_id = "%s" in query
            rows = 0
            samples = []
            executed = []  # until the whole result is on the client, before psycopg builds rows
            binary = []
            sdk = []
            sdk_read = SDK_READS[name]
            for i in range(warmup + iterations):
                args = (rng.choice(ids),) if needs_id else None
                t = time.perf_counter()
                cur = conn.execute(query, args)
                t_executed = time.perf_counter()
                rows = len(cur.fetchall())
                elapsed, on_client = time.perf_counter() - t, t_executed - t
                t = time.perf_counter()
                binary_cur.execute(query, args).fetchall()
                binary_elapsed = time.perf_counter() - t
                t = time.perf_counter()
                sdk_read(client, args[0] if args else None)
                sdk_elapsed = time.perf_counter() - t
                if i >= warmup:
                    samples.append(elapsed)
                    executed.append(on_client)
                    binary.append(binary_elapsed)
                    sdk.append(sdk_elapsed)
            stats = _stats_ms(samples)
            execute_p50_ms = statistics.median(executed) * 1000.0
            binary_p50_ms = statistics.median(binary) * 1000.0
            sdk_p50_ms = statistics.median(sdk) * 1000.0
            server_p50_ms = _server_p50_ms(
                conn, query, ids if needs_id else None, rng, runs=max(5, iterations // 4)
            )
            goal = GOAL_VIEW_P50_MS.get(name, GOAL_QUERY_P50_MS)
            results.append(
                {
                    "name": name,
                    "sql": query,
                    "iterations": iterations,
                    "warmup": warmup,
                    "rows": rows,
                    **stats,
                    "execute_p50_ms": execute_p50_ms,
                    "server_p50_ms": server_p50_ms,
                    "binary_p50_ms": binary_p50_ms,
                    "sdk_p50_ms": sdk_p50_ms,
                    "goal_p50_ms": goal,
                    "meets_goal": stats["p50_ms"] <= goal,
                }
            )
            log(
                f"  {name:<30} p50 {stats['p50_ms']:8.2f} ms  p95 {stats['p95_ms']:8.2f} ms"
                f"  mean {stats['mean_ms']:8.2f} ms  ({rows} rows; goal p50 <= {goal:g} ms;"
                f" p50 {execute_p50_ms:.2f} ms until the result is on the client,"
                f" {server_p50_ms:.2f} ms executing in the server; binary rows p50"
                f" {binary_p50_ms:.2f} ms; the SDK's read into models p50 {sdk_p50_ms:.2f} ms)"
            )
    return results


def explain_queries(url: str, seed: int = 42) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS, SETTINGS) of each read query, run once on a warm cache."""
    rng = random.Random(seed + 2)
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        ids = _session_ids(conn, 1000)
        for name, query in QUERIES:
            args = (rng.choice(ids),) if "%s" in query else None
            conn.execute(query, args).fetchall()  # warm
            plan = conn.execute("explain (analyze, buffers, settings) " + query, args).fetchall()
            text = "\n".join(r[0] for r in plan)
            out[name] = (
                f"-- {query}" + (f"  [session_id = {args[0]}]" if args else "") + "\n" + text
            )
    return out
