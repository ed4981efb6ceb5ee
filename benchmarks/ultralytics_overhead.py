#!/usr/bin/env python3
"""What tracking costs an Ultralytics training: wall time and peak memory, with and without.

Usage::

    .venv/bin/python benchmarks/ultralytics_overhead.py                     # 3 epochs, 3 runs each
    .venv/bin/python benchmarks/ultralytics_overhead.py --epochs 10 --runs 5 --images 128
    .venv/bin/python benchmarks/ultralytics_overhead.py --database-url URL  # a migrated database

The same training (``yolov8n.yaml`` on a synthetic dataset of ``--images`` train images and a
quarter as many val images, ``--imgsz`` px, CPU unless ``--device``, fixed seed, deterministic)
runs ``--runs`` times untracked and ``--runs`` times with ``track(model)``, interleaved (plain,
tracked, tracked, plain, ...) so that a machine getting warmer or busier affects both alike,
after ``--warmup`` untimed runs of each (the first run writes Ultralytics' label caches).
Each run is its own Python process, so its peak RSS (``ru_maxrss``) is that run's alone; the
times are the wall time and the CPU time (all threads: torch's, the SDK's writer and heartbeat)
of ``model.train()`` inside it. Interpreter start and imports are not counted; the session's
start and ``finish()``, which a tracked training waits for, are.

Prints a table of every run, the medians and minimums of each mode, the time ratios tracked /
plain, and the extra peak RSS of a tracked run. Goals: time overhead <= 1 %, extra peak RSS <=
30 MB. A run of a few seconds has a noise of a few percent (more on a busy machine; CPU time
suffers less from other processes than wall time): use more epochs and runs to resolve 1 %,
and mind that a tracked run's fixed costs (start, dataset, finish) weigh more in a short one.
Offline (``prepare_offline()``): nothing is downloaded. Without ``--database-url`` the script
starts Debian's Postgres 15 in a temp dir (as ``benchmarks/sdk_bench.py`` does) and removes it
at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mltrack_sdk.testing.postgres import DEBIAN_PG_BIN, TempPostgres  # noqa: E402

GOAL_TIME_PERCENT = 1.0
GOAL_RSS_MB = 30.0


def child(args: argparse.Namespace) -> None:
    """One training in this process; prints its figures as the last line of stdout (JSON)."""
    from mltrack_sdk.integrations.ultralytics import prepare_offline

    prepare_offline(args.config_dir)
    from ultralytics import YOLO

    model = YOLO("yolov8n.yaml")
    tracker = None
    if args.child == "tracked":
        from mltrack_sdk.integrations.ultralytics import track

        tracker = track(model, session_name=f"overhead {args.run}", database_url=args.database_url)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    model.train(
        data=args.data,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        workers=0,
        seed=0,
        deterministic=True,
        amp=False,
        plots=False,
        verbose=False,
        project=args.project,
        name=f"{args.child}-{args.run}",
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "mode": args.child,
        "run": args.run,
        "seconds": seconds,
        # Every thread of this process (torch's, the SDK's writer and heartbeat) on the CPU.
        "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "peak_rss_mb": after.ru_maxrss / 1024,
        "rss_before_train_mb": before.ru_maxrss / 1024,
        "session_status": None
        if tracker is None or tracker.session is None
        else tracker.session.status,
    }
    print(json.dumps(figures))


def run_child(
    args: argparse.Namespace, mode: str, run: int, data: Path, url: str
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, "--run", str(run), "--data", str(data)]
    cmd += ["--epochs", str(args.epochs), "--imgsz", str(args.imgsz), "--batch", str(args.batch)]
    cmd += ["--device", args.device, "--project", str(args.project), "--config-dir"]
    cmd += [str(args.config_dir), "--database-url", url]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{mode} run {run} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ratio(by_mode: dict[str, list[dict[str, Any]]], key: str, pick: Any) -> float:
    return pick([r[key] for r in by_mode["tracked"]]) / pick([r[key] for r in by_mode["plain"]])


def report(results: list[dict[str, Any]]) -> None:
    by_mode = {m: [r for r in results if r["mode"] == m] for m in ("plain", "tracked")}
    print(f"{'mode':8} {'run':>3} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
    for r in results:
        print(
            f"{r['mode']:8} {r['run']:>3} {r['seconds']:8.3f} {r['cpu_seconds']:8.3f}"
            f" {r['peak_rss_mb']:12.1f}"
        )
    print()
    print(f"{'mode':8} {'wall median':>11} {'wall min':>9} {'CPU median':>11} {'RSS median':>11}")
    for mode, rows in by_mode.items():
        wall = [r["seconds"] for r in rows]
        cpu = [r["cpu_seconds"] for r in rows]
        rss = statistics.median(r["peak_rss_mb"] for r in rows)
        print(
            f"{mode:8} {statistics.median(wall):11.3f} {min(wall):9.3f}"
            f" {statistics.median(cpu):11.3f} {rss:11.1f}"
        )
    print()
    for label, key in (("wall time", "seconds"), ("CPU time", "cpu_seconds")):
        median = _ratio(by_mode, key, statistics.median)
        least = _ratio(by_mode, key, min)
        spread = max(
            max(r[key] for r in rows) / min(r[key] for r in rows) - 1 for rows in by_mode.values()
        )
        print(
            f"{label} tracked/plain: {median:.4f} by medians ({(median - 1) * 100:+.2f} %),"
            f" {least:.4f} by minimums ({(least - 1) * 100:+.2f} %);"
            f" goal <= +{GOAL_TIME_PERCENT:g} %;"
            f" spread within a mode up to {spread * 100:.1f} %"
        )
    extra = statistics.median(r["peak_rss_mb"] for r in by_mode["tracked"]) - statistics.median(
        r["peak_rss_mb"] for r in by_mode["plain"]
    )
    print(f"extra peak RSS of a tracked run: {extra:+.1f} MB; goal <= {GOAL_RSS_MB:g} MB")
    statuses = {r["session_status"] for r in by_mode["tracked"]}
    print(f"tracked sessions ended: {', '.join(sorted(map(str, statuses)))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode")
    parser.add_argument("--images", type=int, default=64, help="train images (val: a quarter)")
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each mode first")
    parser.add_argument("--database-url", help="a migrated database (default: a throwaway one)")
    parser.add_argument("--pg-bin", type=Path, default=DEBIAN_PG_BIN)
    # Used by the script itself for each run's process.
    parser.add_argument("--child", choices=("plain", "tracked"), help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--project", help=argparse.SUPPRESS)
    parser.add_argument("--config-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.epochs < 1 or args.runs < 1 or args.images < 4 or args.warmup < 0:
        parser.error("--epochs and --runs must be >= 1, --images >= 4, --warmup >= 0")

    from mltrack_sdk.integrations.ultralytics import prepare_offline
    from mltrack_sdk.migrate import migrate
    from mltrack_sdk.synthetic import make_dataset

    with tempfile.TemporaryDirectory(prefix="mltrack-overhead-") as tmp:
        work = Path(tmp)
        args.config_dir = work / "yolo_config"
        args.project = work / "runs"
        prepare_offline(args.config_dir)
        data = make_dataset(
            work / "shapes", train=args.images, val=max(2, args.images // 4), imgsz=args.imgsz
        )
        server = None if args.database_url else TempPostgres(args.pg_bin, prefix="mltrack-oh-")
        url = args.database_url or server.admin_url  # type: ignore[union-attr]
        try:
            migrate(url)
            print(
                f"{args.runs} run(s) per mode, {args.epochs} epoch(s), {args.images} train images,"
                f" imgsz {args.imgsz}, batch {args.batch}, {args.device}; {os.cpu_count()} CPU(s)"
            )
            for run in range(args.warmup):
                for mode in ("plain", "tracked"):
                    run_child(args, mode, -1 - run, data, url)
            results = []
            for run in range(args.runs):
                order = ("plain", "tracked") if run % 2 == 0 else ("tracked", "plain")
                for mode in order:
                    results.append(run_child(args, mode, run, data, url))
                    print(f"  {mode} run {run}: {results[-1]['seconds']:.3f} s", flush=True)
            print()
            report(results)
        finally:
            if server is not None:
                server.close()


if __name__ == "__main__":
    main()
