"""What :mod:`mltrack_sdk.integrations.ultralytics` reads from an Ultralytics trainer: the run's
description, an epoch's values, per-class validation results, memory. Plain functions of the
trainer; torch and ultralytics are imported inside them (they are loaded once a trainer exists).
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Ultralytics' metric names -> training_metrics columns; other values go to ``extra``.
COLUMNS = {
    "train/box_loss": "box_loss",
    "train/cls_loss": "cls_loss",
    "train/dfl_loss": "dfl_loss",
    "val/box_loss": "val_box_loss",
    "val/cls_loss": "val_cls_loss",
    "val/dfl_loss": "val_dfl_loss",
    "metrics/precision(B)": "precision",
    "metrics/recall(B)": "recall",
    "metrics/mAP50(B)": "map50",
    "metrics/mAP50-95(B)": "map50_95",
    "lr/pg0": "learning_rate",
}
#: Image files Ultralytics trains on (its IMG_FORMATS), for counting split sizes.
_IMAGE_SUFFIXES = {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp"}
_IMAGE_SUFFIXES |= {".pfm", ".heic", ".avif", ".jp2"}


def split_values(values: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """Ultralytics' named values as (columns, extra). A value that is not a finite number (a
    diverged loss) is left out of both and named in ``extra["non_finite"]``."""
    columns: dict[str, float] = {}
    extra: dict[str, Any] = {}
    for key, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            extra.setdefault("non_finite", []).append(key)
        elif key in COLUMNS:
            columns[COLUMNS[key]] = number
        else:
            extra[key] = number
    return columns, extra


def run_info(trainer: Any) -> dict[str, Any]:
    """start_session()'s description of the run, and the dataset for upsert_dataset()."""
    args, data = trainer.args, trainer.data
    model_type = _model_type(trainer)
    data_file = Path(str(data.get("yaml_file") or args.data))
    names = data.get("names") or {}
    class_names = [str(names[k]) for k in sorted(names)] if isinstance(names, Mapping) else names
    sizes = {f"{split}_size": count_images(data, split) for split in ("train", "val", "test")}
    optimizer = getattr(trainer, "optimizer", None)
    groups = getattr(optimizer, "param_groups", None) or [{}]
    return {
        "model_type": model_type,
        "epochs": int(trainer.epochs),
        "dataset_name": data_file.stem,
        "dataset_size": sizes["train_size"],
        "batch_size": int(trainer.batch_size),
        # lr0, or what optimizer=auto chose in its place (then lr0 is ignored).
        "learning_rate": float(groups[0].get("initial_lr", args.lr0)),
        "img_size": img_size(args.imgsz),
        "config": {k: _jsonable(v) for k, v in vars(args).items()},
        "hardware_info": hardware(trainer.device),
        "dataset": {
            "name": data_file.stem,
            "class_names": [str(c) for c in class_names],
            **sizes,
            "path": str(data_file.absolute()) if data_file.exists() else str(data_file),
            "metadata": {"task": str(args.task), "nc": int(data.get("nc") or len(class_names))},
        },
    }


def _model_type(trainer: Any) -> str:
    """yolov8n from the model's yaml (kept in weights too), else the name of the model file."""
    from ultralytics.utils.torch_utils import unwrap_model

    model = unwrap_model(trainer.model) if trainer.model is not None else None
    spec = getattr(model, "yaml", None)
    source = spec.get("yaml_file") if isinstance(spec, Mapping) else None
    return Path(str(source or trainer.args.model)).stem


def img_size(value: Any) -> int:
    """Ultralytics' imgsz (an int, or [h, w]) as one number: the larger side."""
    return int(max(value)) if isinstance(value, (list, tuple)) else int(value)


def count_images(data: Mapping[str, Any], split: str) -> int:
    """Images of a split as the data yaml gives it: folders (searched recursively), list files
    (.txt, one image a line) or single images, or a list of those."""
    entries = data.get(split)
    if not entries:
        return 0
    total = 0
    for entry in entries if isinstance(entries, (list, tuple)) else [entries]:
        path = Path(str(entry))
        if path.is_dir():
            total += sum(
                1
                for _, _, files in os.walk(path)
                for name in files
                if Path(name).suffix.lower() in _IMAGE_SUFFIXES
            )
        elif path.suffix == ".txt" and path.is_file():
            total += sum(1 for line in path.read_text().splitlines() if line.strip())
        elif path.suffix.lower() in _IMAGE_SUFFIXES and path.is_file():
            total += 1
    return total


def hardware(device: Any) -> dict[str, Any]:
    """Device, GPU name and memory on CUDA, CPU model, RAM and the versions that matter."""
    import psutil
    import torch
    import ultralytics
    from ultralytics.utils.torch_utils import get_cpu_info

    info: dict[str, Any] = {
        "device": str(device),
        "cpu": get_cpu_info(),
        "cpu_count": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "cuda": torch.version.cuda,
    }
    if getattr(device, "type", None) == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info["gpu"] = properties.name
        info["gpu_memory_mb"] = round(properties.total_memory / 2**20)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def _jsonable(value: Any) -> Any:
    """A train argument as JSON: paths and other objects as text, non-finite numbers as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def reset_gpu_peak(trainer: Any) -> None:
    """Start measuring this epoch's peak GPU memory."""
    if getattr(trainer.device, "type", None) == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats(trainer.device)


def gpu_peak_mb(device: Any) -> float:
    """Peak GPU memory reserved since the epoch began, in MB (0 off CUDA)."""
    if getattr(device, "type", None) != "cuda":
        return 0.0
    import torch

    return torch.cuda.max_memory_reserved(device) / 2**20


def rss_mb() -> dict[str, float]:
    """The process' resident memory now and its peak so far, in MB."""
    import psutil

    values = {"rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1)}
    try:
        import resource
    except ImportError:  # Windows
        return values
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    values["rss_peak_mb"] = round(peak / (2**20 if platform.system() == "Darwin" else 2**10), 1)
    return values


def validation_rows(trainer: Any) -> list[dict[str, Any]]:
    """record_validation() rows of the last validation (best.pt's, after training): the overall
    row and one per class of the dataset (a class absent from the val split: no metrics)."""
    validator = getattr(trainer, "validator", None)
    metrics = getattr(validator, "metrics", None)
    box = getattr(metrics, "box", None)
    if box is None:  # classification has no boxes: its accuracy is in the epoch rows
        return []
    per_class = _as_list(getattr(metrics, "nt_per_class", None))
    per_image = _as_list(getattr(metrics, "nt_per_image", None))
    names = trainer.data.get("names") or {}
    overall = _box_values(box.mean_results())
    rows = [
        {
            "class_name": "all",
            "images": int(getattr(validator, "seen", 0)),
            "instances": int(sum(per_class)),
            **overall,
        }
    ]
    found = [int(i) for i in box.ap_class_index]
    for class_id in sorted(names):
        row: dict[str, Any] = {"class_name": str(names[class_id]), "class_id": int(class_id)}
        if class_id < len(per_class):
            row["instances"] = int(per_class[class_id])
            row["images"] = int(per_image[class_id]) if class_id < len(per_image) else 0
        if class_id in found:
            result = box.class_result(found.index(class_id))
            row.update(_box_values(result))
        rows.append(row)
    return rows


def _box_values(result: Any) -> dict[str, float]:
    """(precision, recall, mAP50, mAP50-95) as validation fields; non-finite ones left out."""
    keys = ("precision", "recall", "map50", "map50_95")
    return {k: float(v) for k, v in zip(keys, result[:4], strict=True) if math.isfinite(float(v))}


def _as_list(values: Any) -> list[int]:
    return [] if values is None else [int(v) for v in values]
