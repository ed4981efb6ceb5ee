"""The synthetic world of the database benchmark: models, datasets, hardware, run outcomes.

Plausible numbers for YOLOv8 models (COCO mAP, speed, memory) and well-known datasets, plus how
many sessions end in each status, and the epoch rows the write tests and the write profile send.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

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


def extra_values(epoch: int, epochs: int) -> dict[str, float]:
    """The two values a 16-metric row keeps in ``extra`` (Ultralytics' other learning rates)."""
    p = epoch / epochs
    return {"lr_pg1": 0.01 * (1 - p) + 2e-5, "lr_pg2": 0.01 * (1 - p) + 3e-5}
