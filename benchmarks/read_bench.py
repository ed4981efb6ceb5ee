#!/usr/bin/env python3
"""Read benchmark of mltrack: one session's metrics through ``Client`` beside the plain query.

Usage::

    python benchmarks/read_bench.py                       # starts a throwaway Postgres 15
    python benchmarks/read_bench.py --database-url URL    # a superuser URL of a throwaway database
    python benchmarks/read_bench.py --epochs 10000 --runs 15 --json out.json

One session gets ``--epochs`` metric rows (the 14 columns plus two values in ``extra``, as a
YOLO run logs them), inserted in one statement with every trigger on. Then, ``--runs`` times in
turn on warm connections (the order rotates each round, so no case always runs first):

- ``plain query``: ``select * from training_metrics where session_id = $1 order by epoch`` with
  psycopg's default tuple rows, fetched - what any client pays for the same rows;
- ``Client.metrics()``: the same rows as ``EpochMetrics`` models (the SDK's read path);
- ``select * + model_validate``: how ``Client.metrics()`` read before it built its models from
  columns - dict rows of ``Transport.select``, one ``EpochMetrics.model_validate`` per row (the
  same models; kept as the before-figure, measured in the same run);
- ``Client.metrics_columns()``: the same rows as one list per column (what a chart draws);
- ``Client.metrics_columns(columns=3)``: epoch, total_loss and mAP50-95 only.

Each is reported as its median (and min) in ms, as its ratio to the plain query's median, and
as the median CPU time the client process spent on it (decoding and building: the part the SDK
controls; the rest is the server and the wire). ``Client.metrics()`` streams the rows in chunks
and builds each chunk's models while the server sends the next, so its wall time comes close to
its client CPU time when a core is free for the server.

``--stages`` adds where the client CPU of one such read goes, done by hand in one piece (not
streamed, in the session the SDK reads in): the libpq receive, psycopg's decoding of the binary
rows, the JSON parse of ``extra`` (the SDK's, orjson where it reads as json does), and the
column checks with the models built from the rows.
Goal: ``Client.metrics()`` of a 10,000-epoch session in 50 ms or less. The machine's load shows
in every figure: compare ratios measured in one run, not absolute figures between runs.

Without ``--database-url`` the script starts Debian's Postgres 15 (``--pg-bin``) in a temp dir,
on a Unix socket only, with Postgres' default settings, and removes it at the end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import operator
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from machine_speed import describe, reference_ms  # noqa: E402
from psycopg.rows import tuple_row  # noqa: E402

from mltrack_sdk.client import Client  # noqa: E402
from mltrack_sdk.migrate import migrate  # noqa: E402
from mltrack_sdk.models import EpochMetrics  # noqa: E402
from mltrack_sdk.rows import build_models_from_rows, gc_paused  # noqa: E402
from mltrack_sdk.testing.postgres import DEBIAN_PG_BIN, TempPostgres  # noqa: E402
from mltrack_sdk.transports.pg_reads import parse_json  # noqa: E402
from mltrack_sdk.transports.postgres import PostgresTransport, name_utc_as_utc  # noqa: E402

GOAL_METRICS_MS = 50.0
PLAIN_SQL = "select * from public.training_metrics where session_id = %s order by epoch"
CHART_COLUMNS = ("epoch", "total_loss", "map50_95")

#: Rows as a YOLO run logs them: losses falling, mAP rising, two extra values.
LOAD_SQL = """
insert into public.training_metrics (
  session_id, epoch, box_loss, cls_loss, dfl_loss, total_loss, val_box_loss, val_cls_loss,
  val_dfl_loss, precision, recall, map50, map50_95, learning_rate, epoch_time_seconds,
  gpu_memory_mb, extra)
select %(sid)s, e, 1.6 - p, 1.2 - p, 1.1 - p / 2, 3.9 - 2.5 * p, 1.7 - p, 1.3 - p, 1.2 - p / 2,
       0.5 + p / 3, 0.4 + p / 3, 0.45 + p / 3, 0.25 + p / 4, 0.01 * (1 - p) + 1e-5,
       12.5 + random(), 0, jsonb_build_object('lr/pg1', 0.01 * (1 - p), 'fitness', 0.3 + p / 4)
  from generate_series(0, %(n)s - 1) e, lateral (select e::float8 / %(n)s as p) x
"""


def load_session(url: str, epochs: int) -> str:
    """A running session with ``epochs`` metric rows; its id."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select id::text from public.start_session(session_name => 'read_bench',"
            " model_type => 'yolov8n', epochs => %s)",
            (epochs,),
        ).fetchone()
        assert row is not None
        sid = str(row[0])
        conn.execute(LOAD_SQL, {"sid": sid, "n": epochs})
        conn.execute("vacuum analyze public.training_metrics")
    return sid


def _timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """Wall ms, this process's CPU ms (what the client spends decoding and building), rows."""
    t, cpu = time.perf_counter(), time.process_time()
    rows = fn()
    return (time.perf_counter() - t) * 1000.0, (time.process_time() - cpu) * 1000.0, rows


def bench(url: str, sid: str, runs: int, warmup: int) -> list[dict[str, Any]]:
    """Median and min ms of each read case, interleaved round by round."""
    plain = psycopg.connect(url, autocommit=True)
    client = Client(PostgresTransport(url))
    per_row: dict[str, Any] = {
        "relation": "training_metrics",
        "filters": {"session_id": sid},
        "order": (("epoch", False),),
    }
    cases: dict[str, Callable[[], int]] = {
        "plain query": lambda: len(plain.execute(PLAIN_SQL, (sid,)).fetchall()),
        "Client.metrics()": lambda: len(client.metrics(sid)),
        "select * + model_validate": lambda: len(
            [EpochMetrics.model_validate(r) for r in client.transport.select(**per_row)]
        ),
        "Client.metrics_columns()": lambda: len(client.metrics_columns(sid)["epoch"]),
        f"Client.metrics_columns(columns={len(CHART_COLUMNS)})": lambda: len(
            client.metrics_columns(sid, columns=CHART_COLUMNS)["epoch"]
        ),
    }
    names = list(cases)
    samples: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    rows: dict[str, int] = {}
    try:
        for i in range(warmup + runs):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                ms, cpu_ms, rows[name] = _timed(cases[name])
                if i >= warmup:
                    samples[name].append(ms)
                    cpu[name].append(cpu_ms)
    finally:
        plain.close()
        client.transport.close()
    base = statistics.median(samples["plain query"])
    return [
        {
            "name": n,
            "rows": rows[n],
            "median_ms": statistics.median(samples[n]),
            "min_ms": min(samples[n]),
            "client_cpu_ms": statistics.median(cpu[n]),
            "ratio_to_plain": statistics.median(samples[n]) / base,
        }
        for n in names
    ]


def stages(url: str, sid: str, runs: int) -> dict[str, float]:
    """Median client CPU ms of each stage of a ``Client.metrics()`` read, done by hand in one
    piece; ``libpq receive`` is libpq alone (the raw binary result, nothing decoded)."""
    transport = PostgresTransport(url)
    names = [f for f in EpochMetrics.model_fields if f != "session_id"]
    where: dict[str, Any] = {"filters": {"session_id": sid}, "order": (("epoch", False),)}
    types = transport.select_columns("training_metrics", names, limit=1, **where).types
    transport.close()
    picked = ", ".join(f"coalesce({n}::text, 'null')" if n == "extra" else n for n in names)
    query = f"select {picked} from public.training_metrics where session_id = $1 order by epoch"
    conn = psycopg.connect(url, autocommit=True)
    name_utc_as_utc(conn)  # the session the transport reads in
    cursor = conn.cursor(binary=True, row_factory=tuple_row)
    spent: dict[str, list[float]] = {}
    try:
        for _ in range(runs):
            with gc_paused():  # as Client reads
                marks = _stage_marks(conn, cursor, query, sid, names, types)
            steps = [b - a for a, b in itertools.pairwise(marks)]
            # The psycopg read receives the rows again: its decoding is what it adds to libpq.
            steps[1] -= steps[0]
            for name, cpu_s in zip(STAGES, steps, strict=True):
                spent.setdefault(name, []).append(cpu_s * 1000.0)
    finally:
        conn.close()
    return {name: statistics.median(ms) for name, ms in spent.items()}


def _stage_marks(
    conn: psycopg.Connection[Any],
    cursor: psycopg.Cursor[Any],
    query: str,
    sid: str,
    names: list[str],
    types: dict[str, str] | None,
) -> list[float]:
    """CPU clock readings around each stage of one read (see :func:`stages`)."""
    marks = [time.process_time()]
    conn.pgconn.exec_params(query.encode(), [sid.encode()], result_format=1)
    marks.append(time.process_time())
    rows = cursor.execute(query.replace("$1", "%s"), (sid,)).fetchall()
    marks.append(time.process_time())
    place = operator.itemgetter(names.index("extra"))
    extras = parse_json("[" + ",".join(map(place, rows)) + "]")
    marks.append(time.process_time())
    assert types is not None
    models = build_models_from_rows(
        EpochMetrics,
        names,
        rows,
        types,
        parsed={"extra": extras},
        constants={"session_id": UUID(sid)},
    )
    marks.append(time.process_time())
    del models, rows, extras  # freed after the last reading, as a caller keeps them
    return marks


STAGES = (
    "libpq receive",
    "psycopg decoding",
    "JSON parse (extra)",
    "checks + models built",
)


def print_stages(split: dict[str, float]) -> None:
    print("\nclient CPU of one Client.metrics() read, by stage (median ms)")
    for name, ms in split.items():
        print(f"  {name:<28}{ms:>8.1f}")
    print(f"  {'total':<28}{sum(split.values()):>8.1f}")


def print_report(results: list[dict[str, Any]], epochs: int) -> None:
    print(f"\none session of {epochs:,} epochs (median of timed runs; ratio to the plain query)")
    print(f"{'read':<36}{'median ms':>11}{'min ms':>9}{'ratio':>8}{'client CPU ms':>15}{'rows':>8}")
    for r in results:
        print(
            f"{r['name']:<36}{r['median_ms']:>11.1f}{r['min_ms']:>9.1f}"
            f"{r['ratio_to_plain']:>7.2f}x{r['client_cpu_ms']:>15.1f}{r['rows']:>8}"
        )
    metrics_ms = next(r["median_ms"] for r in results if r["name"] == "Client.metrics()")
    verdict = "ok" if metrics_ms <= GOAL_METRICS_MS else "MISSED"
    print(f"goal: Client.metrics() <= {GOAL_METRICS_MS:g} ms: {metrics_ms:.1f} ms ({verdict})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="mltrack read benchmark")
    p.add_argument("--database-url", help="superuser URL of a throwaway database")
    p.add_argument("--pg-bin", type=Path, default=DEBIAN_PG_BIN)
    p.add_argument("--epochs", type=int, default=10_000, help="metric rows of the session")
    p.add_argument("--runs", type=int, default=15, help="timed rounds (each runs every case)")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    p.add_argument("--json", type=Path, help="write the results to this JSON file")
    p.add_argument(
        "--stages", action="store_true", help="also split one read's client CPU by stage"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    server = None
    url = args.database_url
    if url is None:
        server = TempPostgres(args.pg_bin, prefix="mltrack-readbench-")
        url = server.url("postgres")
    speed = [reference_ms()]
    try:
        migrate(url)
        sid = load_session(url, args.epochs)
        results = bench(url, sid, args.runs, args.warmup)
        split = stages(url, sid, args.runs) if args.stages else None
    finally:
        if server is not None:
            server.close()
    speed.append(reference_ms())
    print_report(results, args.epochs)
    report: dict[str, Any] = {
        "epochs": args.epochs,
        "runs": args.runs,
        "results": results,
        "machine_speed_ms": speed,
    }
    if split is not None:
        print_stages(split)
        report["stages_cpu_ms"] = split
    print(describe(*speed))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
