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
   measured at the client, rows fetched). EXPLAIN (ANALYZE, BUFFERS) of each is printed with
   ``--explain``, written with ``--explain-file``, and always printed for a query that misses
   the 20 ms p50 goal.
4. Writes: fresh running sessions (``start_session``) get epochs through the API with all
   triggers, constraints and foreign keys - ``log_epoch(...)`` (named arguments) for batch size 1,
   ``log_epochs(session_id, jsonb)`` for 100 and 1000 rows - and the SAME rows go into
   ``bench_plain`` (``create table ... (like training_metrics including defaults including
   indexes)``: same columns and primary key, no trigger, CHECK or foreign key) by the plain
   equivalent: a single-row INSERT per epoch, and ``insert ... select from
   jsonb_populate_recordset(...)`` of the same JSON text for batches. Batch size 1 is measured
   twice: one autocommitted call per row, and psycopg ``executemany`` (pipelined). Each
   comparison runs ``--write-repeats`` times with the order of API and plain alternating, each on
   a fresh connection after a CHECKPOINT (so both start with the same full-page-write state).
   Goal: the API at most 2x slower than plain.

Everything random comes from ``--seed`` (Python's random and the server's setseed()).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/db_bench.py` from a checkout without install
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_BIN = Path("/usr/lib/postgresql/15/bin")
GOAL_QUERY_P50_MS = 20.0
GOAL_WRITE_SLOWDOWN = 2.0
BENCH_DB = "mltrack_bench"
UTC = dt.timezone.utc

Log = Callable[[str], None]


def _print(msg: str) -> None:
    print(msg, flush=True)


# =============================================================================== throwaway server


class TempPostgres:
    """A private Postgres in a temp dir, listening on a Unix socket only.

    Default durability settings; only shared_buffers and max_wal_size are raised.
    """

    def __init__(self, bin_dir: Path = DEFAULT_PG_BIN, log: Log = _print) -> None:
        if not (bin_dir / "initdb").exists():
            raise SystemExit(
                f"no Postgres binaries in {bin_dir}: pass --pg-bin DIR or --database-url URL"
            )
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="mltrack-bench-"))
        self.data = self.root / "data"
        self.port = 5432  # only names the socket file in our private directory
        self._user = "postgres" if os.geteuid() == 0 else None  # initdb refuses root
        if self._user:
            shutil.chown(self.root, user=self._user, group=self._user)
        log(f"starting a throwaway Postgres in {self.root}")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.root}'",
            "port": str(self.port),
            "shared_buffers": "'1GB'",
            "max_wal_size": "'4GB'",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as f:
            f.write("\n# mltrack benchmark\n")
            f.writelines(f"{k} = {v}\n" for k, v in settings.items())
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "120",
            "start",
        )
        self.running = True

    def _run(self, exe: str, *args: str) -> None:
        cmd = [str(self.bin_dir / exe), *args]
        if self._user:
            cmd = ["runuser", "-u", self._user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{exe} failed ({done.returncode}): {done.stderr}{done.stdout}{tail}"
            )

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@/{dbname}?host={self.root}&port={self.port}"

    def close(self) -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
        c.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


# =============================================================================== schema


def _apply_files(url: str) -> None:
    """Fallback: bootstrap.sql, then every migration file in order, each in one transaction."""
    migrations = sorted((ROOT / "supabase" / "migrations").glob("[0-9]*_*.sql"))
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute("select to_regclass('public.training_sessions') is not null").fetchone()
        if row and row[0]:
            return
        if c.execute("select to_regprocedure('auth.uid()') is null").fetchone()[0]:  # type: ignore[index]
            with c.transaction():
                c.execute((ROOT / "mltrack_sdk" / "sql" / "bootstrap.sql").read_bytes())
        for path in migrations:
            with c.transaction():
                # No parameters: psycopg uses the simple protocol, so a whole file runs at once.
                c.execute(path.read_bytes())


def apply_schema(url: str, log: Log = _print) -> str:
    """Migrate the database; return how (for the report)."""
    try:
        from mltrack_sdk.migrate import migrate
    except ImportError as exc:
        log(f"mltrack_sdk.migrate unavailable ({exc}); applying the SQL files directly")
        _apply_files(url)
        return "sql files"
    try:
        migrate(url)
    except Exception as exc:
        with psycopg.connect(url, autocommit=True) as c:
            row = c.execute("select to_regclass('public.training_sessions') is null").fetchone()
        if not (row and row[0]):
            raise  # a real failure half-way: do not apply anything twice
        log(f"mltrack_sdk.migrate.migrate failed ({exc}); applying the SQL files directly")
        _apply_files(url)
        return "sql files"
    return "mltrack_sdk.migrate"


# =============================================================================== synthetic data

# name: (COCO mAP50-95, train images/s on one GPU, GPU MB at batch 16 / 640 px,
#        inference ms on GPU, inference ms on CPU, sampling weight)
MODELS: dict[str, tuple[float, float, float, float, float, float]] = {
    "yolov8n": (0.373, 420.0, 2300.0, 1.2, 45.0, 0.30),
    "yolov8s": (0.449, 300.0, 3900.0, 1.8, 110.0, 0.28),
    "yolov8m": (0.502, 160.0, 6900.0, 3.6, 240.0, 0.22),
    "yolov8l": (0.529, 100.0, 10200.0, 5.8, 380.0, 0.12),
    "yolov8x": (0.539, 70.0, 14500.0, 8.9, 560.0, 0.08),
}

COCO_NAMES = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic-light",
    "fire-hydrant",
    "stop-sign",
    "parking-meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports-ball",
    "kite",
    "baseball-bat",
    "baseball-glove",
    "skateboard",
    "surfboard",
    "tennis-racket",
    "bottle",
    "wine-glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot-dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted-plant",
    "bed",
    "dining-table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell-phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy-bear",
    "hair-drier",
    "toothbrush",
]
VOC_NAMES = [
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]
VISDRONE_NAMES = [
    "pedestrian",
    "people",
    "bicycle",
    "car",
    "van",
    "truck",
    "tricycle",
    "awning-tricycle",
    "bus",
    "motor",
]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    classes: tuple[str, ...]
    train: int
    val: int
    test: int
    difficulty: float  # multiplies the model's COCO mAP
    weight: float


def dataset_specs() -> list[DatasetSpec]:
    specs = [
        DatasetSpec("coco", tuple(COCO_NAMES), 118287, 5000, 0, 1.0, 0.03),
        DatasetSpec("coco128", tuple(COCO_NAMES), 128, 128, 0, 1.15, 0.08),
        DatasetSpec("VOC", tuple(VOC_NAMES), 16551, 4952, 0, 1.22, 0.06),
        DatasetSpec("VisDrone", tuple(VISDRONE_NAMES), 6471, 548, 1610, 0.5, 0.06),
        DatasetSpec(
            "african-wildlife",
            ("buffalo", "elephant", "rhino", "zebra"),
            1052,
            225,
            227,
            1.45,
            0.07,
        ),
        DatasetSpec("brain-tumor", ("negative", "positive"), 893, 223, 0, 0.75, 0.06),
        DatasetSpec("signature", ("signature",), 143, 35, 0, 1.3, 0.04),
        DatasetSpec("medical-pills", ("pill",), 92, 23, 0, 1.55, 0.04),
        DatasetSpec(
            "traffic-signs", tuple(f"sign-{i}" for i in range(15)), 4000, 800, 400, 1.35, 0.08
        ),
    ]
    for i in range(1, 9):  # customers' own datasets
        n_cls = 3 + 3 * i
        specs.append(
            DatasetSpec(
                f"acme-parts-v{i}",
                tuple(f"part-{j}" for j in range(n_cls)),
                1500 * i,
                300 * i,
                100 * i,
                1.2 + 0.05 * i,
                0.06,
            )
        )
    return specs


GPUS = (
    "NVIDIA A100-SXM4-80GB",
    "NVIDIA GeForce RTX 4090",
    "NVIDIA L4",
    "Tesla T4",
    "NVIDIA H100 80GB HBM3",
)
CPUS = ("Intel(R) Xeon(R) Platinum 8375C", "AMD EPYC 7R13", "Apple M2 Pro")
FAILURES = (
    "CUDA out of memory. Tried to allocate 2.00 GiB",
    "heartbeat lost: no heartbeat for 120 seconds",
    "RuntimeError: DataLoader worker (pid 4123) is killed by signal: Killed.",
    "FileNotFoundError: labels missing for 12 images",
    "NCCL error: unhandled system error",
)
CANCELS = ("stop requested", "stop requested from the dashboard", "superseded by a newer run")


@dataclass(frozen=True)
class StatusPlan:
    completed: int
    failed: int
    cancelled: int
    running: int


def plan_statuses(n_sessions: int) -> StatusPlan:
    """~72% completed, ~200 running (at most a tenth), the rest failed or cancelled (2:1)."""
    running = min(200, max(1, n_sessions // 10)) if n_sessions >= 2 else 0
    completed = min(n_sessions - running, round(0.72 * n_sessions))
    failed = round((n_sessions - completed - running) * 2 / 3)
    cancelled = n_sessions - completed - running - failed
    return StatusPlan(completed, failed, cancelled, running)


def rows_per_session(n_sessions: int, n_metrics: int) -> list[int]:
    """Metric rows of each session (in load order): n_metrics spread as evenly as possible."""
    base, extra = divmod(n_metrics, n_sessions)
    return [base + (1 if i < extra else 0) for i in range(n_sessions)]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _pick(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


@dataclass
class SyntheticData:
    datasets: list[tuple[Any, ...]]
    sessions: list[tuple[Any, ...]]
    params: list[tuple[Any, ...]]
    benchmarks: list[tuple[Any, ...]]
    validation: list[tuple[Any, ...]]
    statuses: StatusPlan


DATASET_COLUMNS = (
    "id",
    "owner_id",
    "name",
    "description",
    "format",
    "path",
    "class_names",
    "num_classes",
    "train_size",
    "val_size",
    "test_size",
    "metadata",
    "created_at",
    "updated_at",
)
SESSION_COLUMNS = (
    "id",
    "owner_id",
    "session_name",
    "model_type",
    "dataset_name",
    "dataset_id",
    "dataset_size",
    "epochs",
    "batch_size",
    "learning_rate",
    "img_size",
    "config",
    "hardware_info",
    "status",
    "status_reason",
    "model_path",
    "stop_requested",
    "last_heartbeat_at",
    "started_at",
    "completed_at",
    "created_at",
    "updated_at",
)
PARAM_COLUMNS = (
    "session_id",
    "n",
    "epochs",
    "started_at",
    "epoch_time",
    "peak",
    "ratio50",
    "prec_peak",
    "rec_peak",
    "rate",
    "decay",
    "noise",
    "box0",
    "cls0",
    "dfl0",
    "lr0",
    "gpu_mb",
)
BENCHMARK_COLUMNS = (
    "id",
    "session_id",
    "device",
    "device_name",
    "hardware_info",
    "model_format",
    "dtype",
    "batch_size",
    "img_size",
    "num_runs",
    "warmup_runs",
    "avg_inference_ms",
    "min_inference_ms",
    "max_inference_ms",
    "p50_inference_ms",
    "p95_inference_ms",
    "fps",
    "preprocess_ms",
    "postprocess_ms",
    "created_at",
)
VALIDATION_COLUMNS = (
    "session_id",
    "split",
    "class_name",
    "class_id",
    "images",
    "instances",
    "precision",
    "recall",
    "map50",
    "map50_95",
    "recorded_at",
)


def generate(n_sessions: int, n_metrics: int, seed: int, now: dt.datetime) -> SyntheticData:
    """Rows for every table but training_metrics, plus the parameters its rows are computed from."""
    rng = random.Random(seed)
    specs = dataset_specs()
    owners = [_uuid(rng) for _ in range(12)]
    ds_ids = {}
    datasets = []
    for spec in specs:
        ds_ids[spec.name] = _uuid(rng)
        created = now - dt.timedelta(days=400 + rng.uniform(0, 30))
        datasets.append(
            (
                ds_ids[spec.name],
                rng.choice(owners),
                spec.name,
                f"{spec.name} detection dataset",
                "yolo",
                f"datasets/{spec.name}/data.yaml",
                list(spec.classes),
                len(spec.classes),
                spec.train,
                spec.val,
                spec.test,
                Jsonb({"source": "benchmark", "version": 1}),
                created,
                created,
            )
        )

    statuses = plan_statuses(n_sessions)
    older = (
        ["completed"] * statuses.completed
        + ["failed"] * statuses.failed
        + ["cancelled"] * statuses.cancelled
    )
    rng.shuffle(older)
    counts = rows_per_session(n_sessions, n_metrics)
    model_names = list(MODELS)
    model_weights = [m[5] for m in MODELS.values()]
    spec_weights = [s.weight for s in specs]

    sessions, params, benchmarks, validation = [], [], [], []
    span = dt.timedelta(days=358)
    start_of_history = now - dt.timedelta(days=365)
    n_older = len(older)
    for i in range(n_sessions):
        n = counts[i]
        status = older[i] if i < n_older else "running"
        model = _pick(rng, model_names, model_weights)
        coco_map, imgs_per_s, gpu_mb16, gpu_ms, cpu_ms, _ = MODELS[model]
        spec: DatasetSpec = _pick(rng, specs, spec_weights)
        batch = rng.choice((8, 16, 16, 32, 32, 64))
        img = rng.choice((640, 640, 640, 640, 320, 1280))
        lr0 = rng.choice((0.01, 0.01, 0.01, 0.005, 0.001))
        optimizer = "SGD" if lr0 >= 0.005 else "AdamW"
        epochs = max(n, 1) if status == "completed" else max(n + 1, rng.choice((150, 200, 300)))
        epoch_time = max(2.0, spec.train / imgs_per_s * (img / 640) ** 2 * rng.uniform(0.85, 1.2))
        peak = min(0.93, max(0.03, coco_map * spec.difficulty * (1 + 0.06 * rng.gauss(0, 1))))
        ratio50 = rng.uniform(1.3, 1.55)
        train_seconds = n * epoch_time
        if status == "running":
            started = now - dt.timedelta(seconds=train_seconds + rng.uniform(5, 60))
            created = started - dt.timedelta(seconds=rng.uniform(1, 10))
            completed = None
            heartbeat = now - dt.timedelta(seconds=rng.uniform(0, 20))
        else:
            created = start_of_history + span * (i / max(1, n_older))
            started = created + dt.timedelta(seconds=rng.uniform(1, 30))
            tail = rng.uniform(10, 120) if status == "completed" else rng.uniform(1, 60)
            completed = started + dt.timedelta(seconds=train_seconds + tail)
            heartbeat = started + dt.timedelta(seconds=train_seconds + min(tail, 5))
        sid = _uuid(rng)
        gpu = rng.choice(GPUS)
        reason = (
            rng.choice(FAILURES)
            if status == "failed"
            else rng.choice(CANCELS)
            if status == "cancelled"
            else None
        )
        sessions.append(
            (
                sid,
                rng.choice(owners),
                f"{model}-{spec.name}-{i:06d}",
                model,
                spec.name,
                ds_ids[spec.name],
                spec.train,
                epochs,
                batch,
                lr0,
                img,
                Jsonb(
                    {
                        "optimizer": optimizer,
                        "lr0": lr0,
                        "lrf": 0.01,
                        "momentum": 0.937,
                        "weight_decay": 0.0005,
                        "warmup_epochs": 3.0,
                        "mosaic": 1.0,
                        "patience": 100,
                        "seed": i % 1000,
                        "amp": True,
                    }
                ),
                Jsonb(
                    {
                        "gpu": gpu,
                        "gpu_count": rng.choice((1, 1, 1, 2, 4, 8)),
                        "cuda": "12.1",
                        "torch": "2.1.0",
                        "hostname": f"train-{rng.randint(1, 40):02d}",
                    }
                ),
                status,
                reason,
                f"runs/detect/train{i}/weights/best.pt" if status == "completed" else None,
                status == "cancelled",
                heartbeat,
                started,
                completed,
                created,
                completed or heartbeat,
            )
        )
        rate = rng.uniform(4.0, 7.0) / epochs
        params.append(
            (
                sid,
                n,
                epochs,
                started,
                epoch_time,
                peak,
                ratio50,
                min(0.98, peak * ratio50 + rng.uniform(0.05, 0.12)),
                min(0.97, peak * ratio50 - rng.uniform(0.0, 0.05)),
                rate,
                rng.uniform(3.0, 6.0) / epochs,
                rng.uniform(0.03, 0.08),
                rng.uniform(1.0, 1.4),
                rng.uniform(1.2, 2.8),
                rng.uniform(1.0, 1.3),
                lr0,
                max(800.0, gpu_mb16 * batch / 16 * (img / 640) ** 2),
            )
        )
        if status == "completed" and rng.random() < 0.5:  # benchmarked models
            for j in range(rng.choice((1, 1, 2, 3))):
                on_gpu = rng.random() < 0.6
                fmt, dtype, speed = rng.choice(
                    (
                        ("pytorch", "fp32", 1.0),
                        ("onnx", "fp32", 0.8),
                        ("engine", "fp16", 0.45),
                        ("openvino", "fp32", 0.7),
                    )
                )
                if not on_gpu and fmt == "engine":
                    fmt, dtype, speed = "onnx", "fp32", 0.8
                bbatch = rng.choice((1, 1, 1, 8, 32)) if on_gpu else 1
                avg = (
                    (gpu_ms if on_gpu else cpu_ms)
                    * speed
                    * (img / 640) ** 2
                    * rng.uniform(0.9, 1.15)
                    * (bbatch**0.7)
                )
                benchmarks.append(
                    (
                        _uuid(rng),
                        sid,
                        "cuda:0" if on_gpu else "cpu",
                        gpu if on_gpu else rng.choice(CPUS),
                        Jsonb({"runtime": fmt}),
                        fmt,
                        dtype,
                        bbatch,
                        img,
                        200,
                        20,
                        avg,
                        avg * rng.uniform(0.8, 0.95),
                        avg * rng.uniform(1.6, 2.5),
                        avg * rng.uniform(0.96, 1.0),
                        avg * rng.uniform(1.1, 1.4),
                        1000.0 * bbatch / avg,
                        rng.uniform(0.3, 1.5),
                        rng.uniform(0.4, 2.0),
                        completed + dt.timedelta(minutes=5 * (j + 1)),  # type: ignore[operator]
                    )
                )
        if status == "completed" and rng.random() < 0.2:  # validated models
            at = completed + dt.timedelta(seconds=30)  # type: ignore[operator]
            val_m = peak * rng.uniform(0.96, 1.0)
            validation.append(
                (
                    sid,
                    "val",
                    "all",
                    None,
                    spec.val,
                    spec.val * 7,
                    min(1.0, peak * ratio50 + 0.08),
                    min(1.0, peak * ratio50 - 0.03),
                    min(1.0, val_m * ratio50),
                    val_m,
                    at,
                )
            )
            for k, cls in enumerate(spec.classes[:12]):
                m = min(0.99, max(0.0, val_m * (1 + 0.25 * rng.gauss(0, 1))))
                validation.append(
                    (
                        sid,
                        "val",
                        cls,
                        k,
                        rng.randint(1, max(1, spec.val)),
                        rng.randint(1, 2000),
                        min(1.0, max(0.0, m * ratio50 + rng.uniform(0.0, 0.15))),
                        min(1.0, max(0.0, m * ratio50 - rng.uniform(0.0, 0.1))),
                        min(1.0, m * ratio50),
                        m,
                        at,
                    )
                )
    return SyntheticData(datasets, sessions, params, benchmarks, validation, statuses)


# Every metric row is computed in the server from its session's parameters; r1..r9 are the
# noise. The innermost query has volatile random() in its target list, so Postgres never inlines
# it: each r is drawn once per row. mAP follows 1 - exp(-rate * epoch) towards the session's peak
# with multiplicative noise; mAP50 = mAP50-95 * ratio (never below it); losses decay towards a
# floor, validation losses sit above them and drift up late in training (overfitting);
# learning_rate decays linearly as in Ultralytics (lrf = 0.01).
METRICS_INSERT = """
insert into public.training_metrics (
  session_id, epoch, box_loss, cls_loss, dfl_loss, total_loss, val_box_loss, val_cls_loss,
  val_dfl_loss, precision, recall, map50, map50_95, learning_rate, epoch_time_seconds,
  gpu_memory_mb, recorded_at)
select y.session_id, y.epoch, y.box, y.cls, y.dfl, y.box + y.cls + y.dfl,
       y.box * (1.08 + 0.10 * y.r7 + y.overfit), y.cls * (1.05 + 0.10 * y.r7 + y.overfit),
       y.dfl * (1.02 + 0.04 * y.r7),
       y.prec, y.rec, least(1.0, greatest(y.m5095, y.m5095 * y.ratio50 + 0.03 * (y.r2 - 0.5))),
       y.m5095, y.lr, y.et, y.gpu,
       y.started_at + make_interval(secs => y.epoch * y.epoch_time)
from (
  select x.session_id, x.epoch, x.started_at, x.epoch_time, x.ratio50, x.r2, x.r7,
         least(0.999, greatest(0.0,
           x.peak * (1 - exp(-x.rate * x.epoch)) * (1 + x.noise * (x.r1 - 0.5)))) as m5095,
         least(1.0, greatest(0.0,
           x.prec_peak * (1 - exp(-1.3 * x.rate * x.epoch)) + 0.04 * (x.r3 - 0.5))) as prec,
         least(1.0, greatest(0.0,
           x.rec_peak * (1 - exp(-x.rate * x.epoch)) + 0.04 * (x.r4 - 0.5))) as rec,
         x.box0 * (0.5 + 0.5 * exp(-x.decay * x.epoch)) * (1 + 0.04 * (x.r5 - 0.5)) as box,
         x.cls0 * (0.25 + 0.75 * exp(-1.5 * x.decay * x.epoch)) * (1 + 0.06 * (x.r6 - 0.5)) as cls,
         x.dfl0 * (0.8 + 0.2 * exp(-x.decay * x.epoch)) * (1 + 0.02 * (x.r5 - 0.5)) as dfl,
         x.lr0 * ((1 - (x.epoch - 1)::float8 / x.epochs) * 0.99 + 0.01) as lr,
         x.epoch_time * (1 + 0.06 * (x.r8 - 0.5))
           + case when x.epoch = 1 then 0.3 * x.epoch_time else 0 end as et,
         x.gpu_mb * (0.97 + 0.06 * x.r9) as gpu,
         greatest(0.0, x.epoch::float8 / x.epochs - 0.6) * 0.3 as overfit
  from (
    select p.*, e.epoch, random() as r1, random() as r2, random() as r3, random() as r4,
           random() as r5, random() as r6, random() as r7, random() as r8, random() as r9
      from bench_params p
      cross join lateral generate_series(1, p.n) as e(epoch)
  ) x
) y
"""

# What the triggers leave in a session after its epochs, benchmarks and finish_session() without
# final values: metrics_written (current_epoch = max epoch, epochs_completed = rows inserted,
# best = highest mAP50-95, then mAP50 (nulls last), then the earliest epoch), the state machine
# (a completed session's empty finals from its best epoch) and benchmark_written (the benchmark
# with the lowest avg_inference_ms, then the earliest).
SUMMARY_SELECT = """
create temp table bench_summary as
select s.id, a.max_epoch, a.n_rows, b.epoch as best_epoch, b.map50, b.map50_95, b.precision,
       b.recall, b.total_loss, k.avg_inference_ms, k.fps
  from public.training_sessions s
  left join (select m.session_id, max(m.epoch) as max_epoch, count(*)::integer as n_rows
               from public.training_metrics m group by m.session_id) a on a.session_id = s.id
  left join (select distinct on (m.session_id) m.session_id, m.epoch, m.map50, m.map50_95,
                    m.precision, m.recall, m.total_loss
               from public.training_metrics m
              where m.map50_95 is not null
              order by m.session_id, m.map50_95 desc, m.map50 desc nulls last, m.epoch) b
         on b.session_id = s.id
  left join (select distinct on (bb.session_id) bb.session_id, bb.avg_inference_ms, bb.fps
               from public.model_benchmarks bb
              order by bb.session_id, bb.avg_inference_ms, bb.created_at) k on k.session_id = s.id
"""
SUMMARY_UPDATE = """
update public.training_sessions s
   set current_epoch = x.max_epoch,
       epochs_completed = coalesce(x.n_rows, 0),
       best_epoch = x.best_epoch,
       best_map50 = x.map50,
       best_map50_95 = x.map50_95,
       final_map50 = case when s.status = 'completed' and x.best_epoch is not null
                          then coalesce(s.final_map50, x.map50) else s.final_map50 end,
       final_map50_95 = case when s.status = 'completed' and x.best_epoch is not null
                             then coalesce(s.final_map50_95, x.map50_95) else s.final_map50_95 end,
       final_precision = case when s.status = 'completed' and x.best_epoch is not null
                              then coalesce(s.final_precision, x.precision)
                              else s.final_precision end,
       final_recall = case when s.status = 'completed' and x.best_epoch is not null
                           then coalesce(s.final_recall, x.recall) else s.final_recall end,
       final_loss = case when s.status = 'completed' and x.best_epoch is not null
                         then coalesce(s.final_loss, x.total_loss) else s.final_loss end,
       best_inference_ms = x.avg_inference_ms,
       best_fps = x.fps
  from bench_summary x
 where x.id = s.id
"""


def _copy(
    cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    query = sql.SQL("copy {} ({}) from stdin").format(
        sql.SQL(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(query) as cp:
        for row in rows:
            cp.write_row(row)


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as c:
        out = {}
        for table in (
            "training_datasets",
            "training_sessions",
            "training_metrics",
            "model_benchmarks",
            "validation_results",
        ):
            row = c.execute(
                sql.SQL("select count(*) from public.{}").format(sql.Identifier(table))
            ).fetchone()
            out[table] = int(row[0]) if row else 0
        for status, n in c.execute(
            "select status, count(*) from public.training_sessions group by status"
        ):
            out[f"sessions_{status}"] = int(n)
    return out


def table_sizes(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as c:
        return {
            name: size
            for name, size in c.execute(
                "select c.relname, pg_size_pretty(pg_total_relation_size(c.oid))"
                "  from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = 'public' and c.relkind = 'r' order by 1"
            )
        }


def create_plain_table(conn: psycopg.Connection[Any]) -> None:
    """The baseline: training_metrics' columns, defaults and primary key; nothing else."""
    conn.execute(
        "create table if not exists public.bench_plain"
        " (like public.training_metrics including defaults including indexes)"
    )


def load_data(
    url: str,
    n_sessions: int,
    n_metrics: int,
    seed: int = 42,
    *,
    prefill_plain: bool = True,
    log: Log = _print,
) -> dict[str, Any]:
    """Bulk-load synthetic data with triggers off, then fill the summary columns set-based.

    Returns the phase timings (seconds) and the row counts.
    """
    if n_sessions < 1:
        raise ValueError("n_sessions must be at least 1")
    phases: dict[str, float] = {}
    t_all = time.perf_counter()
    t = time.perf_counter()
    data = generate(n_sessions, n_metrics, seed, dt.datetime.now(UTC))
    phases["generate_python"] = time.perf_counter() - t
    log(
        f"  generated {len(data.sessions):,} sessions in Python ({phases['generate_python']:.1f} s)"
    )

    with psycopg.connect(url, autocommit=True) as conn:
        # Superuser only: turns off every trigger, the foreign-key ones included. CHECKs stay.
        conn.execute("set session_replication_role = replica")
        conn.execute("set work_mem = '512MB'")
        conn.execute("set maintenance_work_mem = '1GB'")
        cur = conn.cursor()

        t = time.perf_counter()
        with conn.transaction():
            _copy(cur, "public.training_datasets", DATASET_COLUMNS, data.datasets)
            _copy(cur, "public.training_sessions", SESSION_COLUMNS, data.sessions)
        conn.execute("""
            create temp table bench_params (
              session_id uuid, n integer, epochs integer, started_at timestamptz,
              epoch_time float8, peak float8, ratio50 float8, prec_peak float8, rec_peak float8,
              rate float8, decay float8, noise float8, box0 float8, cls0 float8, dfl0 float8,
              lr0 float8, gpu_mb float8)""")
        with conn.transaction():
            _copy(cur, "bench_params", PARAM_COLUMNS, data.params)
        phases["copy_sessions"] = time.perf_counter() - t
        log(f"  COPY datasets + sessions: {phases['copy_sessions']:.1f} s")

        t = time.perf_counter()
        with conn.transaction():
            conn.execute("select setseed(%s)", ((seed % 1000) / 1000.0,))
            inserted = conn.execute(METRICS_INSERT).rowcount
        phases["insert_metrics"] = time.perf_counter() - t
        log(
            f"  INSERT ... SELECT {inserted:,} metric rows: {phases['insert_metrics']:.1f} s"
            f" ({inserted / max(phases['insert_metrics'], 1e-9):,.0f} rows/s)"
        )

        t = time.perf_counter()
        with conn.transaction():
            _copy(cur, "public.model_benchmarks", BENCHMARK_COLUMNS, data.benchmarks)
            _copy(cur, "public.validation_results", VALIDATION_COLUMNS, data.validation)
        phases["copy_benchmarks_validation"] = time.perf_counter() - t
        log(
            f"  COPY {len(data.benchmarks):,} benchmarks + {len(data.validation):,} validation"
            f" rows: {phases['copy_benchmarks_validation']:.1f} s"
        )

        t = time.perf_counter()
        with conn.transaction():
            conn.execute(SUMMARY_SELECT)
            updated = conn.execute(SUMMARY_UPDATE).rowcount
            conn.execute("drop table bench_summary")
        phases["summary_update"] = time.perf_counter() - t
        log(f"  summary UPDATE of {updated:,} sessions: {phases['summary_update']:.1f} s")

        if prefill_plain:
            t = time.perf_counter()
            with conn.transaction():
                create_plain_table(conn)
                conn.execute("insert into public.bench_plain select * from public.training_metrics")
            phases["prefill_bench_plain"] = time.perf_counter() - t
            log(f"  copy of the metrics into bench_plain: {phases['prefill_bench_plain']:.1f} s")

        conn.execute("reset session_replication_role")
        t = time.perf_counter()
        conn.execute("vacuum (analyze)")
        conn.execute("checkpoint")
        phases["vacuum_analyze_checkpoint"] = time.perf_counter() - t
        log(f"  VACUUM (ANALYZE) + CHECKPOINT: {phases['vacuum_analyze_checkpoint']:.1f} s")

    total = time.perf_counter() - t_all
    return {
        "phases_s": phases,
        "total_s": total,
        "metrics_inserted": inserted,
        "statuses": vars(data.statuses),
    }


# =============================================================================== reads

QUERIES: list[tuple[str, str]] = [
    ("models_leaderboard", "select * from models_leaderboard"),
    ("active_training_sessions", "select * from active_training_sessions"),
    (
        "training_performance_summary",
        "select * from training_performance_summary order by created_at desc limit 50",
    ),
    ("session_metrics", "select * from training_metrics where session_id = %s order by epoch"),
]


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


def bench_queries(
    url: str, iterations: int = 200, warmup: int = 20, seed: int = 42, log: Log = _print
) -> list[dict[str, Any]]:
    """Client-side latency of the four read queries (rows fetched)."""
    rng = random.Random(seed + 1)
    results = []
    with psycopg.connect(url, autocommit=True) as conn:
        ids = _session_ids(conn)
        for name, query in QUERIES:
            needs_id = "%s" in query
            rows = 0
            samples = []
            for i in range(warmup + iterations):
                args = (rng.choice(ids),) if needs_id else None
                t = time.perf_counter()
                rows = len(conn.execute(query, args).fetchall())
                elapsed = time.perf_counter() - t
                if i >= warmup:
                    samples.append(elapsed)
            stats = _stats_ms(samples)
            results.append(
                {
                    "name": name,
                    "sql": query,
                    "iterations": iterations,
                    "warmup": warmup,
                    "rows": rows,
                    **stats,
                    "goal_p50_ms": GOAL_QUERY_P50_MS,
                    "meets_goal": stats["p50_ms"] <= GOAL_QUERY_P50_MS,
                }
            )
            log(
                f"  {name:<30} p50 {stats['p50_ms']:8.2f} ms  p95 {stats['p95_ms']:8.2f} ms"
                f"  mean {stats['mean_ms']:8.2f} ms  ({rows} rows)"
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


# =============================================================================== writes

METRIC_KEYS = (
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
    "epoch_time_seconds",
    "gpu_memory_mb",
)
_COLS = ("session_id", "epoch", *METRIC_KEYS)

API_SINGLE = (
    "select * from public.log_epoch(session_id => %s::uuid, epoch => %s::integer, "
    + ", ".join(f'"{k}" => %s::float8' for k in METRIC_KEYS)
    + ")"
)
PLAIN_SINGLE = (
    f"insert into public.bench_plain ({', '.join(_COLS)}) values (%s::uuid, "
    "%s::integer, " + ", ".join("%s::float8" for _ in METRIC_KEYS) + ")"
)
API_BATCH = "select public.log_epochs(%s::uuid, %s::jsonb)"
PLAIN_BATCH = (
    f"insert into public.bench_plain ({', '.join(_COLS)}, extra)"
    " select %s::uuid, r.epoch, "
    + ", ".join(f"r.{k}" for k in METRIC_KEYS)
    + ", coalesce(r.extra, '{}') from jsonb_populate_recordset(null::public.bench_plain,"
    " %s::jsonb) as r"
)


@dataclass(frozen=True)
class WriteMode:
    key: str
    batch: int
    epochs_per_session: int
    method: str  # "call": one autocommitted call per batch; "executemany": psycopg pipeline
    api: str
    plain: str


WRITE_MODES: tuple[WriteMode, ...] = (
    WriteMode("batch1_call", 1, 10, "call", "log_epoch(...) per row", "INSERT ... VALUES per row"),
    WriteMode(
        "batch1_executemany",
        1,
        10,
        "executemany",
        "executemany log_epoch(...)",
        "executemany INSERT ... VALUES",
    ),
    WriteMode(
        "batch100",
        100,
        200,
        "call",
        "log_epochs(id, jsonb[100])",
        "INSERT ... SELECT jsonb_populate_recordset",
    ),
    WriteMode(
        "batch1000",
        1000,
        1000,
        "call",
        "log_epochs(id, jsonb[1000])",
        "INSERT ... SELECT jsonb_populate_recordset",
    ),
)


def synthetic_epoch(rng: random.Random, epoch: int, epochs: int, peak: float) -> dict[str, Any]:
    """One realistic epoch (same shape as the bulk-loaded ones)."""
    m = min(0.999, peak * (1 - math.exp(-5.0 * epoch / epochs)) * (1 + 0.05 * (rng.random() - 0.5)))
    box = 1.2 * (0.5 + 0.5 * math.exp(-4.0 * epoch / epochs)) * (1 + 0.04 * (rng.random() - 0.5))
    cls = 2.0 * (0.25 + 0.75 * math.exp(-6.0 * epoch / epochs)) * (1 + 0.06 * (rng.random() - 0.5))
    dfl = 1.1 * (0.8 + 0.2 * math.exp(-4.0 * epoch / epochs))
    return {
        "epoch": epoch,
        "box_loss": box,
        "cls_loss": cls,
        "dfl_loss": dfl,
        "total_loss": box + cls + dfl,
        "val_box_loss": box * 1.1,
        "val_cls_loss": cls * 1.08,
        "val_dfl_loss": dfl * 1.03,
        "precision": min(1.0, m * 1.45 + 0.1 * rng.random()),
        "recall": min(1.0, m * 1.35 + 0.05 * rng.random()),
        "map50": min(1.0, m * 1.42),
        "map50_95": m,
        "learning_rate": 0.01 * ((1 - (epoch - 1) / epochs) * 0.99 + 0.01),
        "epoch_time_seconds": 30.0 * (1 + 0.06 * (rng.random() - 0.5)),
        "gpu_memory_mb": 4100.0 + 50 * rng.random(),
    }


def _start_sessions(url: str, n: int, epochs: int, tag: str) -> list[uuid.UUID]:
    with psycopg.connect(url, autocommit=True) as c, c.transaction():
        return [
            c.execute(
                "select id from public.start_session(session_name => %s, model_type => %s,"
                " epochs => %s, dataset_name => 'coco128', batch_size => 16, img_size => 640,"
                " learning_rate => 0.01, hardware_info => %s)",
                (
                    f"bench-{tag}-{i}",
                    list(MODELS)[i % len(MODELS)],
                    epochs,
                    Jsonb({"gpu": GPUS[0]}),
                ),
            ).fetchone()[0]  # type: ignore[index]
            for i in range(n)
        ]


def _make_calls(
    mode: WriteMode, sessions: Sequence[uuid.UUID], rng: random.Random
) -> list[tuple[Any, ...]]:
    """Parameters of every call, in the order they are made: round-robin over the sessions,
    as concurrent training runs log their epochs. The API and the plain side get the same."""
    peaks = {sid: rng.uniform(0.3, 0.8) for sid in sessions}
    calls = []
    for r in range(mode.epochs_per_session // mode.batch):
        for sid in sessions:
            rows = [
                synthetic_epoch(rng, e, mode.epochs_per_session, peaks[sid])
                for e in range(r * mode.batch + 1, (r + 1) * mode.batch + 1)
            ]
            if mode.batch == 1:
                calls.append((sid, rows[0]["epoch"], *(rows[0][k] for k in METRIC_KEYS)))
            else:
                calls.append((sid, json.dumps(rows)))
    return calls


def _run_calls(url: str, query: str, calls: Sequence[tuple[Any, ...]], method: str) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        # Both sides start from the same state: no dirty buffers, and the first change of every
        # page writes a full-page image to the WAL again (as after any checkpoint).
        conn.execute("checkpoint")
        t = time.perf_counter()
        if method == "executemany":
            conn.cursor().executemany(query, calls)
        else:
            for args in calls:
                cur = conn.execute(query, args)
                if cur.description is not None:
                    cur.fetchall()
        return time.perf_counter() - t


def bench_writes(
    url: str,
    write_sessions: int = 200,
    repeats: int = 2,
    seed: int = 42,
    modes: Sequence[WriteMode] = WRITE_MODES,
    log: Log = _print,
) -> list[dict[str, Any]]:
    """Rows/s through the API (all triggers) vs. plain inserts of the same rows into bench_plain."""
    rng = random.Random(seed + 3)
    with psycopg.connect(url, autocommit=True) as conn:
        create_plain_table(conn)
        conn.execute("analyze public.bench_plain")
    results = []
    for mode in modes:
        api_s = plain_s = 0.0
        rows_total = 0
        reps = []
        for rep in range(repeats):
            sessions = _start_sessions(
                url, write_sessions, mode.epochs_per_session, f"{mode.key}-{rep}"
            )
            calls = _make_calls(mode, sessions, rng)
            n_rows = len(calls) * mode.batch
            api_q = API_SINGLE if mode.batch == 1 else API_BATCH
            plain_q = PLAIN_SINGLE if mode.batch == 1 else PLAIN_BATCH
            order = ("api", "plain") if rep % 2 == 0 else ("plain", "api")
            took = {}
            for side in order:
                took[side] = _run_calls(
                    url, api_q if side == "api" else plain_q, calls, mode.method
                )
            api_s += took["api"]
            plain_s += took["plain"]
            rows_total += n_rows
            reps.append(
                {
                    "rows": n_rows,
                    "calls": len(calls),
                    "api_s": took["api"],
                    "plain_s": took["plain"],
                    "order": list(order),
                }
            )
        api_rps = rows_total / api_s
        plain_rps = rows_total / plain_s
        slowdown = plain_rps / api_rps
        results.append(
            {
                "mode": mode.key,
                "batch_size": mode.batch,
                "method": mode.method,
                "api": mode.api,
                "plain": mode.plain,
                "sessions": write_sessions,
                "rows": rows_total,
                "api_s": api_s,
                "plain_s": plain_s,
                "api_rows_per_s": api_rps,
                "plain_rows_per_s": plain_rps,
                "slowdown": slowdown,
                "goal_slowdown": GOAL_WRITE_SLOWDOWN,
                "meets_goal": slowdown <= GOAL_WRITE_SLOWDOWN,
                "repeats": reps,
            }
        )
        log(
            f"  {mode.key:<20} API {api_rps:>10,.0f} rows/s   plain {plain_rps:>10,.0f} rows/s"
            f"   API {slowdown:.2f}x slower  ({rows_total:,} rows each)"
        )
    return results


# =============================================================================== report


def server_info(url: str) -> dict[str, Any]:
    names = (
        "server_version",
        "shared_buffers",
        "max_wal_size",
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "wal_level",
        "work_mem",
        "jit",
        "random_page_cost",
        "effective_cache_size",
    )
    with psycopg.connect(url, autocommit=True) as c:
        return {
            n: c.execute(sql.SQL("show {}").format(sql.Identifier(n))).fetchone()[0]  # type: ignore[index]
            for n in names
        }


def print_summary(report: dict[str, Any], log: Log = _print) -> None:
    log("")
    log("=" * 96)
    log("mltrack database benchmark")
    env = report["environment"]
    log(
        f"Postgres {env['server']['server_version']} ({env['database']}), {env['cpus']} CPUs;"
        f" fsync={env['server']['fsync']} synchronous_commit={env['server']['synchronous_commit']}"
        f" shared_buffers={env['server']['shared_buffers']}"
    )
    load = report.get("load")
    if load:
        log(
            f"Load: {load['total_s']:.1f} s total  "
            + "  ".join(f"{k}={v:.1f}s" for k, v in load["phases_s"].items())
        )
    counts = report.get("counts", {})
    log("Rows: " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))
    log("-" * 96)
    log(
        f"{'read query':<32}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}{'rows':>8}   goal p50 <= "
        f"{GOAL_QUERY_P50_MS:g} ms"
    )
    for q in report.get("queries", []):
        log(
            f"{q['name']:<32}{q['p50_ms']:>10.2f}{q['p95_ms']:>10.2f}{q['mean_ms']:>10.2f}"
            f"{q['rows']:>8}   {'ok' if q['meets_goal'] else 'MISSED'}"
        )
    log("-" * 96)
    log(
        f"{'write (same rows both sides)':<32}{'API rows/s':>12}{'plain rows/s':>14}"
        f"{'API slower':>12}   goal <= {GOAL_WRITE_SLOWDOWN:g}x"
    )
    for w in report.get("writes", []):
        log(
            f"{w['mode']:<32}{w['api_rows_per_s']:>12,.0f}{w['plain_rows_per_s']:>14,.0f}"
            f"{w['slowdown']:>11.2f}x   {'ok' if w['meets_goal'] else 'MISSED'}"
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
        help="runs of each write test, API/plain order alternating",
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
    server = TempPostgres(args.pg_bin, log)
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


def main(argv: Sequence[str] | None = None, log: Log = _print) -> dict[str, Any]:
    args = parse_args(argv)
    report: dict[str, Any] = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
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
        if kind == "external":
            with psycopg.connect(url, autocommit=True) as c:
                c.execute("drop table if exists public.bench_plain")

    print_summary(report, log)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        log(f"results written to {args.json}")
    return report


if __name__ == "__main__":
    main()
