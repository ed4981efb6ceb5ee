#!/usr/bin/env python3
"""Database benchmark of mltrack: read latency of the views and write throughput of the SQL API.

Usage::

    python benchmarks/db_bench.py                      # 100,000 sessions, 10,000,000 metric rows
    python benchmarks/db_bench.py --quick              # 2,000 sessions, 200,000 rows (smoke test)
    python benchmarks/db_bench.py --database-url URL --sessions 100000 --metrics 10000000 \\
        --json out.json --explain

Without ``--database-url`` the script starts a throwaway Postgres (Debian's Postgres 15 in
``/usr/lib/postgresql/15/bin``, or ``--pg-bin``) in a temp dir - as the ``postgres`` OS user when
run as root, on a Unix socket only - and removes it at the end (``--keep-server`` keeps it running
for inspection). The server keeps Postgres' default durability (fsync, synchronous_commit and
full_page_writes on); only shared_buffers (1GB) and max_wal_size (4GB) are raised. With
``--database-url`` give a superuser URL of a throwaway database: the script migrates it, loads
data into it (refusing if it already holds sessions, unless ``--skip-load``) and writes to it.

Phases:

1. Schema: ``mltrack_sdk.migrate.migrate(url)`` (bootstrap + ``supabase/migrations``); if that
   module cannot be imported, bootstrap.sql and the migration files are applied in order here.
2. Load, with triggers and foreign keys off (``session_replication_role = replica``): datasets,
   sessions, benchmarks and validation rows by COPY; the metric rows by one set-based
   ``INSERT ... SELECT`` over ``generate_series`` that computes them in the server from per-session
   parameters (COPYed) - faster than generating and COPYing 10M rows from Python. Then one
   set-based UPDATE fills the summary columns exactly as the triggers would (current_epoch,
   epochs_completed, best_epoch/map50/map50_95, finals of completed sessions from the best epoch,
   best_inference_ms/best_fps from the fastest benchmark), then VACUUM (ANALYZE) and CHECKPOINT.
   The CHECK constraints stay on. ``bench_plain`` (the plain-insert baseline, see 4) is
   pre-filled with a copy of the metric rows, so both tables have the same size and index depth.
3. Reads: each query is run ``--warmup`` times, then ``--iterations`` times (p50/p95/mean in ms,
   measured at the client, rows fetched; beside them the p50 until the result is on the client,
   before psycopg builds the rows; the p50 of the same query with rows in binary format,
   run in turn with each text one; the p50 of the SDK's read of the same rows into models
   (``Client.leaderboard()``, ``active_sessions()``, ``performance_summary()``, ``metrics()``,
   and the transport's select of ``start_session(resume=<name>)`` and of a benchmarked weights
   file, for a name and a path no session has), also in turn; and the p50 of the server's
   execution time by EXPLAIN ANALYZE without per-node timing, over a quarter as many runs
   more). EXPLAIN (ANALYZE, BUFFERS) of each is printed with ``--explain``, written with
   ``--explain-file``, and always printed for a query that misses the 20 ms p50 goal.
4. Writes: fresh running sessions (``start_session``) get epochs through the API with all
   triggers, constraints and foreign keys - ``log_epoch(...)`` (named arguments) for batch size 1,
   ``log_epochs(session_id, jsonb)`` for 100 and 1000 rows - and the SAME rows go into
   ``bench_plain`` (``create table ... (like training_metrics including defaults including
   indexes)``: same columns and primary key, no trigger, CHECK or foreign key) by the plain
   equivalent: a single-row INSERT per epoch, and ``insert ... select from
   jsonb_populate_recordset(...)`` of the same JSON text for batches. Batch size 1 is measured
   twice: one autocommitted call per row, and psycopg ``executemany`` (pipelined). Each
   comparison runs ``--write-repeats`` times, after a CHECKPOINT (so both sides start with the
   same full-page-write state), each side on a connection of its own. The two sides take turns
   of about 500 rows (500 single-row calls, 5 calls of 100 rows, one of 1000), the side that
   goes first alternating each turn, so that a machine whose speed drifts over seconds slows
   both alike; each side's time is the sum of its turns.
   Goal: the API at most 2x slower than plain; for the typed arrays the SDK sends (the
   ``columns`` forms) issue 11 asks for 1.5x. ``batch*_columns16`` write the realistic 16-metric
   row (the 14 columns and two values in ``extra``). Beside every test, all of its rows go into
   ``bench_plain`` once more by one binary ``COPY`` in one transaction - the physical limit - and
   the summary prints the API's and the plain insert's distance to it.

5. With ``--profile-writes``: where the API's time goes. One 1000-row ``log_epoch_columns``
   call of the 16-metric row, 30 times each (in a random order per round, each in a transaction
   that is rolled back): the plain insert, the API, the API with the summary trigger off, and
   with every trigger and the foreign key off (the CHECK constraints stay), and the API without
   the summary trigger once more with the session key's hash index dropped, so that the
   foreign key's probes go to the primary key's btree. Timed by the server
   backend's CPU time where its process can be read (a local server, Linux), which load from
   other processes does not skew, else by the wall clock; the differences give the foreign key
   (through either index), the summary trigger, and the CHECK constraints with the function's
   own work, and the plain insert plus the foreign key's checks alone as a multiple of the
   plain insert: Postgres 15-18 check the key with one query per row, so no call that keeps
   the key costs less than that. Then the same
   for a one-epoch call, 60 times each: what a live run sends, where the cost per call (not per
   row) shows - Postgres prepares every CHECK constraint of a table anew for each statement
   that writes to it (the insert, and the summary trigger's update of the session). Then that
   fixed cost alone: single-row session UPDATEs and metric INSERTs run in the server (one DO
   block each), with the tables' CHECK constraints and with them dropped, per statement.

Everything random comes from ``--seed`` (Python's random and the server's setseed()).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from dbbench_load import load_data, table_counts, table_sizes
from dbbench_profile import profile_checks, profile_writes
from dbbench_reads import GOAL_QUERY_P50_MS, bench_queries, explain_queries
from dbbench_server import (
    BENCH_DB,
    DEFAULT_PG_BIN,
    Log,
    apply_schema,
    create_database,
    print_flush,
    server_info,
    start_server,
)
from dbbench_writes import GOAL_COLUMNS_SLOWDOWN, GOAL_WRITE_SLOWDOWN, bench_writes
from machine_speed import describe, reference_ms


def print_summary(report: dict[str, Any], log: Log = print_flush) -> None:
    log("")
    log("=" * 96)
    log("mltrack database benchmark")
    env = report["environment"]
    log(
        f"Postgres {env['server']['server_version']} ({env['database']}), {env['cpus']} CPUs;"
        f" fsync={env['server']['fsync']} synchronous_commit={env['server']['synchronous_commit']}"
        f" shared_buffers={env['server']['shared_buffers']}"
    )
    if "machine_speed_ms" in env:
        log(describe(*env["machine_speed_ms"]))
    load = report.get("load")
    if load:
        log(
            f"Load: {load['total_s']:.1f} s total  "
            + "  ".join(f"{k}={v:.1f}s" for k, v in load["phases_s"].items())
        )
    counts = report.get("counts", {})
    log("Rows: " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))
    log("-" * 104)
    log(
        f"{'read query':<32}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}{'rows':>8}"
        f"{'on client':>11}{'server':>8}{'binary':>8}{'SDK':>8}"
        f"   goal p50 <= {GOAL_QUERY_P50_MS:g} ms"
    )
    for q in report.get("queries", []):
        log(
            f"{q['name']:<32}{q['p50_ms']:>10.2f}{q['p95_ms']:>10.2f}{q['mean_ms']:>10.2f}"
            f"{q['rows']:>8}{q.get('execute_p50_ms', float('nan')):>11.2f}"
            f"{q.get('server_p50_ms', float('nan')):>8.2f}"
            f"{q.get('binary_p50_ms', float('nan')):>8.2f}"
            f"{q.get('sdk_p50_ms', float('nan')):>8.2f}"
            f"   {'ok' if q['meets_goal'] else 'MISSED'}"
        )
    log("-" * 104)
    log(
        f"{'write (same rows both sides)':<32}{'API rows/s':>12}{'plain rows/s':>14}"
        f"{'API slower':>12}   goal <= {GOAL_WRITE_SLOWDOWN:g}x"
    )
    for w in report.get("writes", []):
        log(
            f"{w['mode']:<32}{w['api_rows_per_s']:>12,.0f}{w['plain_rows_per_s']:>14,.0f}"
            f"{w['slowdown']:>11.2f}x   {'ok' if w['meets_goal'] else 'MISSED'}"
        )
    if any("copy_rows_per_s" in w for w in report.get("writes", [])):
        log("-" * 104)
        log(
            f"{'write: x the time of COPY':<32}{'COPY rows/s':>12}{'API':>9}{'plain':>9}"
            f"{'API/plain':>11}   goal (arrays) API <= {GOAL_COLUMNS_SLOWDOWN:g}x plain"
        )
        for w in report["writes"]:
            goal = w.get("meets_columns_goal")
            log(
                f"{w['mode']:<32}{w['copy_rows_per_s']:>12,.0f}{w['api_vs_copy']:>8.2f}x"
                f"{w['plain_vs_copy']:>8.2f}x{w['slowdown']:>10.2f}x   "
                + ("" if goal is None else "ok" if goal else "MISSED")
            )
    log("=" * 96)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--database-url",
        help="superuser URL of a throwaway database (default: start a temporary Postgres)",
    )
    p.add_argument("--sessions", type=int, help="sessions to load (default 100000)")
    p.add_argument("--metrics", type=int, help="metric rows to load (default 10000000)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="small run: 2,000 sessions, 200,000 metric rows, 50 write sessions",
    )
    p.add_argument("--iterations", type=int, default=200, help="timed runs per read query")
    p.add_argument("--warmup", type=int, default=20, help="untimed runs per read query first")
    p.add_argument("--write-sessions", type=int, help="fresh sessions per write test (200)")
    p.add_argument(
        "--write-repeats",
        type=int,
        default=2,
        help="runs of each write test (API and plain taking turns of ~500 rows)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", type=Path, help="write all results to this JSON file")
    p.add_argument("--explain", action="store_true", help="print EXPLAIN of every read query")
    p.add_argument("--explain-file", type=Path, help="write EXPLAIN of every read query here")
    p.add_argument(
        "--skip-load", action="store_true", help="benchmark the data already in --database-url"
    )
    p.add_argument("--skip-writes", action="store_true", help="skip the write benchmark")
    p.add_argument(
        "--profile-writes",
        action="store_true",
        help="also time a 1000-row API batch with its parts switched off one at a time",
    )
    p.add_argument(
        "--no-prefill-plain",
        action="store_true",
        help="start bench_plain empty instead of with a copy of the metrics",
    )
    p.add_argument(
        "--pg-bin",
        type=Path,
        default=DEFAULT_PG_BIN,
        help="Postgres binaries for the temporary server",
    )
    p.add_argument(
        "--keep-server",
        action="store_true",
        help="leave the temporary server running (prints its URL)",
    )
    args = p.parse_args(argv)
    if args.sessions is None:
        args.sessions = 2_000 if args.quick else 100_000
    if args.metrics is None:
        args.metrics = 200_000 if args.quick else 10_000_000
    if args.write_sessions is None:
        args.write_sessions = 50 if args.quick else 200
    return args


@contextlib.contextmanager
def _database(args: argparse.Namespace, log: Log) -> Iterator[tuple[str, str]]:
    if args.database_url:
        yield args.database_url, "external"
        return
    server = start_server(args.pg_bin, log)
    try:
        create_database(server.url("postgres"), BENCH_DB)
        yield server.url(BENCH_DB), "temporary"
    finally:
        if args.keep_server:
            log(
                f"server left running: {server.url(BENCH_DB)}  (stop: pg_ctl -D {server.data}"
                " stop, as the postgres user)"
            )
        else:
            server.close()


def main(argv: Sequence[str] | None = None, log: Log = print_flush) -> dict[str, Any]:
    args = parse_args(argv)
    report: dict[str, Any] = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    speed_before = reference_ms()
    with _database(args, log) as (url, kind):
        report["environment"] = {
            "database": kind,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "psycopg": psycopg.__version__,
        }
        t = time.perf_counter()
        report["schema"] = {"applied_with": apply_schema(url, log)}
        report["schema"]["seconds"] = time.perf_counter() - t
        report["environment"]["server"] = server_info(url)

        if not args.skip_load:
            existing = table_counts(url)["training_sessions"]
            if existing:
                raise SystemExit(
                    f"the database already holds {existing:,} sessions: use a fresh"
                    " database, or --skip-load to benchmark what is there"
                )
            log(f"loading {args.sessions:,} sessions and {args.metrics:,} metric rows ...")
            report["load"] = load_data(
                url,
                args.sessions,
                args.metrics,
                args.seed,
                prefill_plain=not args.no_prefill_plain,
                log=log,
            )
            log(f"load time: {report['load']['total_s']:.1f} s")
        report["counts"] = table_counts(url)
        report["table_sizes"] = table_sizes(url)

        log(f"read queries: {args.warmup} warm-up + {args.iterations} timed runs each")
        report["queries"] = bench_queries(url, args.iterations, args.warmup, args.seed, log)
        report["explain"] = explain_queries(url, args.seed)
        for q in report["queries"]:
            if args.explain or not q["meets_goal"]:
                label = "" if q["meets_goal"] else "  (p50 goal missed)"
                log(f"\nEXPLAIN {q['name']}{label}\n{report['explain'][q['name']]}\n")
        if args.explain_file:
            args.explain_file.parent.mkdir(parents=True, exist_ok=True)
            args.explain_file.write_text(
                "\n\n".join(report["explain"].values()) + "\n", encoding="utf-8"
            )
            log(f"EXPLAIN output written to {args.explain_file}")

        if not args.skip_writes:
            log(
                f"writes: {args.write_sessions} fresh sessions per test,"
                f" {args.write_repeats} repeats"
            )
            report["writes"] = bench_writes(
                url, args.write_sessions, args.write_repeats, args.seed, log=log
            )
        if args.profile_writes:
            log("write profile: where the API's time goes")
            report["write_profile"] = profile_writes(url, seed=args.seed, log=log)
            # A live run sends each epoch as it comes: the same split of a one-epoch call.
            report["write_profile_one_epoch"] = profile_writes(
                url, batches=60, batch=1, seed=args.seed, log=log
            )
            report["check_profile"] = profile_checks(url, seed=args.seed, log=log)
        if kind == "external":
            with psycopg.connect(url, autocommit=True) as c:
                c.execute("drop table if exists public.bench_plain")

    report["environment"]["machine_speed_ms"] = [speed_before, reference_ms()]
    print_summary(report, log)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        log(f"results written to {args.json}")
    return report


if __name__ == "__main__":
    main()
