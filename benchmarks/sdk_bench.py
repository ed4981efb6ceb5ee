#!/usr/bin/env python3
"""SDK benchmark of mltrack: what logging costs the training loop, and how fast rows land.

Usage::

    python benchmarks/sdk_bench.py                       # starts a throwaway Postgres 15
    python benchmarks/sdk_bench.py --database-url URL    # a superuser URL of a throwaway database
    python benchmarks/sdk_bench.py --quick --json out.json

Measures:

1. Training-thread cost of ``Session.log_epoch`` with a typical 12-metric epoch: p50/p99 in
   microseconds over ``--calls`` calls, with the background writer sending to the database at
   the same time (as in a real run). Goal: p50 <= 10 us, p99 <= 100 us.
2. End-to-end throughput on the direct transport: ``--rows`` epochs logged into one session (its
   ``epochs`` is that large), from the first ``log_epoch`` until ``finish()`` returned (every row
   committed, session completed). Beside it, a raw ``COPY`` of the same rows into a plain table
   (``like training_metrics``: same columns and primary key, no trigger, CHECK or foreign key)
   in the same run. Goal: >= 50,000 rows/s.
3. The same two with a realistic row, 16 metrics: the 14 metric columns plus two values in
   ``extra`` (goal: ``log_epoch`` p50 <= 3 us; end to end >= half of ``COPY`` of the same rows).
4. ``--processes N`` (0 = skip; default 32): N training processes, each its own session, log
   ``--rows`` 16-metric rows together (goal: >= half of ``COPY``, p99 of a call < 100 us).
5. ``python -c "import mltrack_sdk"``: wall time of a fresh interpreter (best and median of
   ``--import-runs``), with the interpreter's own start-up alone for reference; asserts that
   torch, streamlit and supabase are not imported. Goal: < 150 ms.
6. ``--paced N`` (0 = skip; default 300): ``log_epoch`` 10 ms after the last call, as in a
   training loop, beside an empty call after the same pause (see ``sdk_bench_paced``).

Without ``--database-url`` the script starts Debian's Postgres 15 (``--pg-bin``) in a temp dir -
as the ``postgres`` OS user when run as root, on a Unix socket only - with default durability
(fsync and synchronous_commit on), and removes it at the end.
"""

from __future__ import annotations

import argparse
import array
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from machine_speed import describe, reference_ms  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402
from sdk_bench_paced import bench_paced, describe_paced  # noqa: E402

import mltrack_sdk as mlt  # noqa: E402
from mltrack_sdk.migrate import migrate  # noqa: E402
from mltrack_sdk.testing.postgres import DEBIAN_PG_BIN, TempPostgres  # noqa: E402

DEFAULT_PG_BIN = DEBIAN_PG_BIN
# Raised for the bulk load; durability stays at Postgres' defaults.
SERVER_SETTINGS = {"shared_buffers": "'512MB'", "max_wal_size": "'4GB'"}
FORBIDDEN_IMPORTS = ("torch", "streamlit", "supabase")
METRIC_COLUMNS = (
    "box_loss",
    "cls_loss",
    "dfl_loss",
    "total_loss",
    "val_box_loss",
    "val_cls_loss",
    "val_dfl_loss",
    "precision",
    "recall",
    "map50",
    "map50_95",
    "learning_rate",
)


def epoch_metrics(epoch: int, epochs: int) -> dict[str, float]:
    """A typical YOLO epoch: 12 metrics."""
    p = epoch / epochs
    return {
        "box_loss": 1.6 - p,
        "cls_loss": 1.2 - p,
        "dfl_loss": 1.1 - p / 2,
        "total_loss": 3.9 - 2.5 * p,
        "val_box_loss": 1.7 - p,
        "val_cls_loss": 1.3 - p,
        "val_dfl_loss": 1.2 - p / 2,
        "precision": 0.5 + p / 3,
        "recall": 0.4 + p / 3,
        "map50": 0.45 + p / 3,
        "map50_95": 0.25 + p / 4,
        "learning_rate": 0.01 * (1 - p) + 1e-5,
    }


def epoch_metrics16(epoch: int, epochs: int) -> dict[str, Any]:
    """A realistic epoch: the 14 metric columns and two values in ``extra``."""
    p = epoch / epochs
    return {
        **epoch_metrics(epoch, epochs),
        "epoch_time_seconds": 41.5 - p,
        "gpu_memory_mb": 3012.0 + p,
        "extra": {"lr_pg1": 0.01 * (1 - p) + 2e-5, "lr_pg2": 0.01 * (1 - p) + 3e-5},
    }


def _timed_calls(run: mlt.Session, rows: list[dict[str, Any]], samples: Any) -> None:
    """Log ``rows`` as epochs 0, 1, ... timing each call (ns into ``samples``), then finish."""
    clock = time.perf_counter_ns
    log_epoch = run.log_epoch
    for epoch, metrics in enumerate(rows):
        t0 = clock()
        log_epoch(epoch, **metrics)
        samples[epoch] = clock() - t0
    run.finish()


def bench_log_cost(url: str, calls: int, row: Any = epoch_metrics) -> dict[str, float]:
    rows = [row(e, calls) for e in range(calls)]
    run = mlt.start_session(
        "sdk_bench log cost",
        model_type="yolov8n",
        epochs=calls,
        database_url=url,
        finish_timeout=120,
    )
    samples = [0] * calls
    _timed_calls(run, rows, samples)
    samples.sort()
    return {
        "calls": calls,
        "p50_us": samples[calls // 2] / 1000,
        "p99_us": samples[int(calls * 0.99)] / 1000,
        "mean_us": sum(samples) / calls / 1000,
        "max_us": samples[-1] / 1000,
    }


def bench_throughput(
    url: str, n_rows: int, n_sessions: int, row: Any = epoch_metrics
) -> dict[str, float]:
    """``n_rows`` epochs spread over ``n_sessions`` sessions logged from as many threads (each
    session has its own writer thread and connection, like separate training processes)."""
    per = n_rows // n_sessions
    rows = [row(e, per) for e in range(per)]
    runs = [
        mlt.start_session(
            f"sdk_bench throughput {i}",
            model_type="yolov8n",
            epochs=per,
            database_url=url,
            finish_timeout=600,
        )
        for i in range(n_sessions)
    ]
    start = threading.Barrier(n_sessions + 1)

    def train(run: mlt.Session) -> None:
        start.wait()
        log_epoch = run.log_epoch
        for epoch in range(per):
            log_epoch(epoch, **rows[epoch])
        run.finish()

    threads = [threading.Thread(target=train, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    total = time.perf_counter() - t0
    ids = [run.id for run in runs]
    return _landed_beside_copy(url, ids, rows, total)


def _landed_beside_copy(
    url: str, ids: list[str], rows: list[dict[str, Any]], total: float
) -> dict[str, float]:
    """Assert that every row landed and every session completed, then time ``COPY`` of the same
    rows into a plain table (no trigger, CHECK or foreign key)."""
    per, n_sessions = len(rows), len(ids)
    with psycopg.connect(url, autocommit=True) as c:
        landed = c.execute(
            "select count(*) from training_metrics where session_id = any(%s::uuid[])", (ids,)
        ).fetchone()
        done = c.execute(
            "select count(*) from training_sessions where id = any(%s::uuid[])"
            " and status = 'completed'",
            (ids,),
        ).fetchone()
        assert landed is not None and landed[0] == per * n_sessions, landed
        assert done is not None and done[0] == n_sessions, done
        c.execute("drop table if exists sdk_bench_plain")
        c.execute(
            "create table sdk_bench_plain"
            " (like training_metrics including defaults including indexes)"
        )
        names = [k for k in rows[0] if k != "extra"]
        columns = ("session_id", "epoch", *names, *(("extra",) if "extra" in rows[0] else ()))
        t1 = time.perf_counter()
        with (
            c.transaction(),
            c.cursor() as cur,
            cur.copy(f"copy sdk_bench_plain ({', '.join(columns)}) from stdin") as copy,
        ):
            for session in ids:
                for epoch, metrics in enumerate(rows):
                    values = [session, epoch, *(metrics[k] for k in names)]
                    if "extra" in metrics:
                        values.append(Jsonb(metrics["extra"]))
                    copy.write_row(values)
        copy_s = time.perf_counter() - t1
        c.execute("drop table sdk_bench_plain")
    n = per * n_sessions
    return {
        "rows": n,
        "sessions": n_sessions,
        "sdk_seconds": total,
        "sdk_rows_per_s": n / total,
        "copy_seconds": copy_s,
        "copy_rows_per_s": n / copy_s,
        "sdk_vs_copy": total / copy_s,
    }


def _process_worker(url: str, index: int, per: int, barrier: Any, results: Any) -> None:
    """One training process of :func:`bench_processes`: its own session, every call timed."""
    rows = [epoch_metrics16(e, per) for e in range(per)]
    run = mlt.start_session(
        f"sdk_bench process {index}",
        model_type="yolov8n",
        epochs=per,
        database_url=url,
        finish_timeout=600,
    )
    samples = array.array("q", bytes(8 * per))
    barrier.wait()
    _timed_calls(run, rows, samples)
    results.put((run.id, time.monotonic(), samples.tobytes()))


def bench_processes(url: str, n_rows: int, n_processes: int) -> dict[str, float]:
    """``n_rows`` 16-metric epochs logged by ``n_processes`` training processes at once, each
    its own session (spawned: a fresh interpreter, as a separate training job would be)."""
    ctx = multiprocessing.get_context("spawn")
    per = n_rows // n_processes
    barrier, results = ctx.Barrier(n_processes + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(url, i, per, barrier, results))
        for i in range(n_processes)
    ]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=600)
    t0 = time.monotonic()
    done = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    total = max(end for _, end, _ in done) - t0
    samples = sorted(s for _, _, raw in done for s in array.array("q", raw))
    report = _landed_beside_copy(
        url, [sid for sid, _, _ in done], [epoch_metrics16(e, per) for e in range(per)], total
    )
    report["processes"] = report.pop("sessions")
    report["call_p50_us"] = samples[len(samples) // 2] / 1000
    report["call_p99_us"] = samples[int(len(samples) * 0.99)] / 1000
    return report


def bench_import(runs: int) -> dict[str, float]:
    check = f"import sys, mltrack_sdk; bad = [m for m in {FORBIDDEN_IMPORTS!r} if m in sys.modules]"
    check += "; assert not bad, bad"

    def timed(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - t0

    sdk = [timed(check) for _ in range(runs)]
    bare = [timed("pass") for _ in range(runs)]
    return {
        "runs": runs,
        "import_best_ms": min(sdk) * 1000,
        "import_median_ms": statistics.median(sdk) * 1000,
        "bare_python_median_ms": statistics.median(bare) * 1000,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="mltrack SDK benchmark")
    p.add_argument("--database-url", help="superuser URL of a throwaway database")
    p.add_argument("--pg-bin", type=Path, default=DEFAULT_PG_BIN)
    p.add_argument("--calls", type=int, default=50_000, help="log_epoch calls timed one by one")
    p.add_argument("--rows", type=int, default=200_000, help="epochs for the throughput run")
    p.add_argument("--sessions", type=int, default=1, help="sessions (threads) sharing --rows")
    p.add_argument("--processes", type=int, default=32, help="training processes at once (0: skip)")
    p.add_argument("--import-runs", type=int, default=7)
    p.add_argument("--paced", type=int, default=300, help="calls 10 ms apart (0: skip)")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--json", type=Path, help="also write the report here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.quick:
        args.calls, args.rows, args.import_runs = 5_000, 20_000, 3
        args.processes, args.paced = min(args.processes, 4), min(args.paced, 100)
    os.environ.setdefault("MLTRACK_HOME", tempfile.mkdtemp(prefix="mltrack-sdkbench-home-"))
    server = (
        None
        if args.database_url
        else TempPostgres(args.pg_bin, prefix="mltrack-sdkbench-", settings=SERVER_SETTINGS)
    )
    url = args.database_url or server.admin_url  # type: ignore[union-attr]
    speed = [reference_ms()]
    try:
        migrate(url)
        report: dict[str, Any] = {
            "log_epoch_cost": bench_log_cost(url, args.calls),
            "throughput": bench_throughput(url, args.rows, args.sessions),
            "log_epoch_cost16": bench_log_cost(url, args.calls, epoch_metrics16),
            "throughput16": bench_throughput(url, args.rows, args.sessions, epoch_metrics16),
            "import": bench_import(args.import_runs),
        }
        if args.processes:
            report["processes"] = bench_processes(url, args.rows, args.processes)
        if args.paced:
            report["paced"] = bench_paced(url, args.paced, 0.01, epoch_metrics16)
    finally:
        if server is not None:
            server.close()
    report["machine_speed_ms"] = [*speed, reference_ms()]
    cost, tp, imp = report["log_epoch_cost"], report["throughput"], report["import"]
    print(
        f"log_epoch (12 metrics, {cost['calls']} calls): p50 {cost['p50_us']:.2f} us, "
        f"p99 {cost['p99_us']:.2f} us, mean {cost['mean_us']:.2f} us (goal p50 <= 10, p99 <= 100)"
    )
    print(
        f"end-to-end ({tp['rows']} rows, {tp['sessions']} session(s)): "
        f"{tp['sdk_rows_per_s']:,.0f} rows/s "
        f"({tp['sdk_seconds']:.2f} s) (goal >= 50,000)"
    )
    print(
        f"raw COPY of the same rows: {tp['copy_rows_per_s']:,.0f} rows/s "
        f"({tp['copy_seconds']:.2f} s); "
        f"SDK/COPY time ratio {tp['sdk_vs_copy']:.1f}x"
    )
    print(
        f"import mltrack_sdk: best {imp['import_best_ms']:.0f} ms, "
        f"median {imp['import_median_ms']:.0f} ms "
        f"(bare python {imp['bare_python_median_ms']:.0f} ms) (goal < 150 ms)"
    )
    print_16(report)
    if "paced" in report:
        print(describe_paced(report["paced"]))
    print(describe(*report["machine_speed_ms"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


def print_16(report: dict[str, Any]) -> None:
    """The lines of the 16-metric row, each figure beside ``COPY`` of the same rows."""
    cost, tp = report["log_epoch_cost16"], report["throughput16"]
    copy_us = 1e6 / tp["copy_rows_per_s"]
    print(
        f"log_epoch (16 metrics: 14 + 2 in extra, {cost['calls']} calls): "
        f"p50 {cost['p50_us']:.2f} us, p99 {cost['p99_us']:.2f} us, mean {cost['mean_us']:.2f} us"
        f" = {cost['p50_us'] / copy_us:.2f}x / {cost['p99_us'] / copy_us:.2f}x of COPY's"
        f" {copy_us:.2f} us per row (goal p50 <= 3)"
    )
    print(
        f"end-to-end, 16 metrics ({tp['rows']} rows, {tp['sessions']} session(s)): "
        f"{tp['sdk_rows_per_s']:,.0f} rows/s ({tp['sdk_seconds']:.2f} s) beside COPY "
        f"{tp['copy_rows_per_s']:,.0f} rows/s ({tp['copy_seconds']:.2f} s): "
        f"{tp['sdk_rows_per_s'] / tp['copy_rows_per_s']:.2f}x of COPY (goal >= 0.5x)"
    )
    pr = report.get("processes")
    if pr:
        print(
            f"{pr['processes']} training processes, 16 metrics ({pr['rows']} rows): "
            f"{pr['sdk_rows_per_s']:,.0f} rows/s ({pr['sdk_seconds']:.2f} s) beside COPY "
            f"{pr['copy_rows_per_s']:,.0f} rows/s: "
            f"{pr['sdk_rows_per_s'] / pr['copy_rows_per_s']:.2f}x of COPY (goal >= 0.5x); "
            f"call p50 {pr['call_p50_us']:.2f} us, p99 {pr['call_p99_us']:.2f} us (goal < 100)"
        )


if __name__ == "__main__":
    main()
