"""Rows of the synthetic data set, made in Python from ``--seed``.

Every table but training_metrics, plus per-session parameters from which the server computes
the metric rows (see ``dbbench_load.METRICS_INSERT``).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dbbench_catalog import (
    CANCELS,
    CPUS,
    FAILURES,
    GPUS,
    MODELS,
    DatasetSpec,
    StatusPlan,
    dataset_specs,
    plan_statuses,
    rows_per_session,
)
from psycopg.types.json import Jsonb


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
