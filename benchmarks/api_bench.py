#!/usr/bin/env python3
"""REST API benchmark: ``POST /api/training/metrics`` under concurrent clients, beside the same
load on the SQL function it calls.

Usage::

    .venv/bin/python benchmarks/api_bench.py                 # 16 clients, 20 s each
    .venv/bin/python benchmarks/api_bench.py --clients 16 --seconds 20 --json out.json
    .venv/bin/python benchmarks/api_bench.py --database-url URL   # a migrated throwaway database

Two runs of the same load, one after the other, on one database:

1. ``api``: ``--clients`` concurrent HTTP clients (aiohttp, keep-alive) each POST one epoch after
   another of its own session to the ``training-api`` function served by Deno (``mltrack api``:
   no token, the local service role; one transaction per request with the role and claims set,
   then ``log_epoch``).
2. ``sql``: as many concurrent psycopg connections each calling ``select log_epoch(...)`` with
   the same values (autocommit: one transaction per call), as a training machine with the
   database URL would.

Each reports requests per second and latency percentiles (p50, p95, p99) over ``--seconds``,
after ``--warmup`` seconds, and the CPU time per request of the Deno server (``api`` only), of
the Postgres backends serving the load and of this load generator (Linux: /proc, as root or as
the server's user), which depend less than the rates on what else the machine runs.
Goals for the API: 1,000 req/s or more, p95 25 ms or less on two cores. Client, Deno and
Postgres share this machine's cores, as they would on a small server.

Without ``--database-url`` the script starts Debian's Postgres 15 in a temp dir with default
durability (fsync and synchronous_commit on), migrates it and removes it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psycopg  # noqa: E402

from mltrack_sdk.api_server import ApiServer  # noqa: E402
from mltrack_sdk.migrate import migrate  # noqa: E402
from mltrack_sdk.testing.postgres import DEBIAN_PG_BIN, TempPostgres  # noqa: E402

GOAL_RPS = 1000.0
GOAL_P95_MS = 25.0
EPOCHS = 10_000_000  # planned epochs of each session: the clients never run out

LOG_EPOCH = (
    "select 1 from log_epoch(session_id => %s, epoch => %s, box_loss => %s, cls_loss => %s,"
    ' dfl_loss => %s, total_loss => %s, "precision" => %s, recall => %s, map50 => %s,'
    " map50_95 => %s, learning_rate => %s, epoch_time_seconds => %s, gpu_memory_mb => %s)"
)


def epoch_row(session_id: str, epoch: int) -> dict[str, Any]:
    """One epoch as the seed's example 2 posts it (values vary a little, as in training)."""
    p = (epoch % 1000) / 1000
    return {
        "session_id": session_id,
        "epoch": epoch,
        "box_loss": 1.6 - p,
        "cls_loss": 1.2 - p,
        "dfl_loss": 1.1 - p / 2,
        "total_loss": 3.9 - 2.5 * p,
        "precision": 0.5 + p / 3,
        "recall": 0.4 + p / 3,
        "map50": 0.3 + p / 2,
        "map50_95": 0.2 + p / 3,
        "learning_rate": 0.01 * (1 - p),
        "epoch_time_seconds": 120.0,
        "gpu_memory_mb": 8432.0,
    }


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_sessions(url: str, n: int, label: str) -> list[str]:
    """One running session per client (a training machine logs its own run)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return [
            str(
                conn.execute(
                    "select id from start_session(session_name => %s, model_type => 'yolov8n',"
                    " epochs => %s)",
                    (f"api bench {label} {i}", EPOCHS),
                ).fetchone()[0]  # type: ignore[index]
            )
            for i in range(n)
        ]


def backends(url: str) -> dict[int, str]:
    """The server processes of the other connections to this database (pid: "postgres")."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select pid from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
        ).fetchall()
    return {pid: "postgres" for (pid,) in rows}


async def drive(
    workers: list[Callable[[int], Awaitable[None]]],
    warmup: float,
    seconds: float,
    cpu_of: Callable[[], dict[int, str]],
) -> dict[str, float]:
    """Run every worker in a loop for ``warmup + seconds``; statistics of the measured part,
    with the CPU milliseconds per request of the processes ``cpu_of()`` names after the warm-up
    (pid: name; the CPU of processes of one name is added up)."""
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def run(worker: Callable[[int], Awaitable[None]]) -> None:
        nonlocal errors
        epoch = 0
        while (now := loop.time()) < stop_at:
            began = time.perf_counter()
            try:
                await worker(epoch)
            except Exception as exc:  # counted and reported: the figures are void if any
                errors += 1
                if errors == 1:
                    print(f"  first error: {exc!r}", file=sys.stderr)
            if now >= measure_from:
                latencies.append(time.perf_counter() - began)
            epoch += 1

    tasks = [asyncio.ensure_future(run(w)) for w in workers]
    await asyncio.sleep(warmup)
    names = await asyncio.to_thread(cpu_of)
    cpu_from = {pid: process_cpu(pid) for pid in names}
    await asyncio.gather(*tasks)
    cpu: dict[str, float] = {}
    for pid, used in cpu_from.items():
        cpu[names[pid]] = cpu.get(names[pid], 0.0) + process_cpu(pid) - used
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / seconds,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000,
        **{
            f"{name}_cpu_ms_per_request": used * 1000 / max(1, len(latencies))
            for name, used in cpu.items()
        },
    }


async def bench_api(
    api_url: str, deno_pid: int, db_url: str, sessions: list[str], warmup: float, seconds: float
) -> dict:
    connector = aiohttp.TCPConnector(limit=len(sessions))
    async with aiohttp.ClientSession(connector=connector) as http:

        def worker(session_id: str) -> Callable[[int], Awaitable[None]]:
            async def post(epoch: int) -> None:
                async with http.post(
                    f"{api_url}/metrics", json=epoch_row(session_id, epoch)
                ) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{response.status}: {body[:200]!r}")

            return post

        def cpu_of() -> dict[int, str]:
            return {deno_pid: "deno", **backends(db_url), os.getpid(): "client"}

        return await drive([worker(s) for s in sessions], warmup, seconds, cpu_of)


async def bench_sql(url: str, sessions: list[str], warmup: float, seconds: float) -> dict:
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in sessions]
    try:

        def worker(conn: psycopg.AsyncConnection[Any], session_id: str) -> Any:
            async def call(epoch: int) -> None:
                row = epoch_row(session_id, epoch)
                await conn.execute(LOG_EPOCH, list(row.values()))

            return call

        workers = [worker(c, s) for c, s in zip(conns, sessions, strict=True)]
        return await drive(
            workers, warmup, seconds, lambda: {**backends(url), os.getpid(): "client"}
        )
    finally:
        for conn in conns:
            await conn.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="mltrack REST API benchmark (POST /metrics)")
    p.add_argument("--database-url", help="superuser URL of a migrated throwaway database")
    p.add_argument("--pg-bin", type=Path, default=DEBIAN_PG_BIN)
    p.add_argument("--clients", type=int, default=16, help="concurrent clients")
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    p.add_argument("--pool-size", type=int, help="the function's connections (default: its own)")
    p.add_argument("--json", type=Path, help="also write the report here")
    return p.parse_args(argv)


def report(name: str, r: dict[str, float]) -> None:
    cpu = "   ".join(
        f"{k.split('_')[0]} CPU {v:.2f} ms/req" for k, v in r.items() if k.endswith("_per_request")
    )
    print(
        f"{name:>4}: {r['rps']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p95 {r['p95_ms']:6.2f} ms"
        f"   p99 {r['p99_ms']:6.2f} ms   ({r['requests']} requests, {r['errors']} errors)   {cpu}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    server = None if args.database_url else TempPostgres(args.pg_bin, prefix="mltrack-apibench-")
    try:
        url = args.database_url or server.url("postgres")  # type: ignore[union-attr]
        if server is not None:
            migrate(url)
        run = uuid.uuid4().hex[:8]
        load = os.getloadavg()[0]
        print(
            f"{args.clients} clients, {args.seconds:g} s each, {os.cpu_count()} CPUs,"
            f" load average {load:.1f} before the runs"
        )
        with ApiServer(url, port=0, pool_size=args.pool_size) as api:
            sessions = start_sessions(url, args.clients, f"{run} api")
            assert api.pid is not None
            api_result = asyncio.run(
                bench_api(api.url, api.pid, url, sessions, args.warmup, args.seconds)
            )
        report("api", api_result)
        sessions = start_sessions(url, args.clients, f"{run} sql")
        sql_result = asyncio.run(bench_sql(url, sessions, args.warmup, args.seconds))
        report("sql", sql_result)
    finally:
        if server is not None:
            server.close()
    met = api_result["rps"] >= GOAL_RPS and api_result["p95_ms"] <= GOAL_P95_MS
    print(
        f"goal (api): >= {GOAL_RPS:.0f} req/s and p95 <= {GOAL_P95_MS:.0f} ms:"
        f" {'met' if met else 'NOT met'}"
    )
    result = {
        "clients": args.clients,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "load_average_before": load,
        "api": api_result,
        "sql": sql_result,
        "goal_met": met,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
