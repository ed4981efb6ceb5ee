"""The measuring half of :mod:`mltrack_sdk.benchmark`: images, model, device, timed runs.

Each function checks what it is given and raises the SDK's typed errors naming the
:func:`~mltrack_sdk.benchmark.benchmark` argument at fault. Ultralytics, torch and OpenCV are
imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mltrack_sdk import checks
from mltrack_sdk.errors import MissingValueError

#: Image suffixes read from a folder or a split (Ultralytics' IMG_FORMATS that OpenCV reads).
IMAGE_SUFFIXES = frozenset(
    {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm"}
)


# -- images ------------------------------------------------------------------------------------


def image_files(images: Any, data: Any, yolo: Any) -> list[Path]:
    """The image files to benchmark on: ``images`` (folders searched recursively, or files),
    else the val split of ``data``, else of the data ``yolo`` was trained on."""
    if images is not None:
        field = "images"
        entries = [images] if isinstance(images, (str, os.PathLike)) else list(images)
        files = []
        for entry in entries:
            path = Path(entry).expanduser()
            if path.is_dir():
                files += _folder_images(path)
            elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                files.append(path)
            else:
                raise checks.invalid(field, "must be a folder or existing image files", str(entry))
    else:
        field = "data"
        if data is None:
            data = _trained_on(yolo)
        files = _split_images(data)
    if not files:
        raise checks.invalid(
            field,
            "holds no images",
            str(images if images is not None else data),
            "Images are files ending in " + ", ".join(sorted(IMAGE_SUFFIXES)) + ".",
        )
    return files


def _folder_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _trained_on(yolo: Any) -> str:
    """The data yaml the model was trained on, as its weights remember it."""
    found = (getattr(yolo, "overrides", None) or {}).get("data")
    if not found:
        raise MissingValueError(
            "images or data is required: the model does not say which data it was trained on",
            sqlstate="MT002",
            field="images",
        )
    return str(found)


def _split_images(data: Any) -> list[Path]:
    """The val split of a data yaml, its paths resolved the way Ultralytics resolves them."""
    path = Path(data).expanduser()
    if not path.is_file() or path.suffix.lower() not in (".yaml", ".yml"):
        raise checks.invalid("data", "must be an existing data yaml file", str(data))
    from ultralytics.data.utils import check_det_dataset

    try:
        info = check_det_dataset(str(path), autodownload=False)
    except (FileNotFoundError, SyntaxError, TypeError, ValueError, KeyError) as exc:
        raise checks.invalid("data", f"is not a usable data yaml: {exc}", str(data)) from exc
    split = info.get("val")
    files: list[Path] = []
    for entry in split if isinstance(split, list) else [split]:
        entry = Path(entry)
        if entry.is_dir():
            files += _folder_images(entry)
        elif entry.suffix == ".txt":  # a list of images, "./" relative to the list's folder
            for line in entry.read_text().splitlines():
                line = line.strip()
                if line:
                    image = entry.parent / line if line.startswith("./") else Path(line)
                    files.append(image)
        elif entry.is_file():
            files.append(entry)
    return [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]


def read_images(files: list[Path]) -> list[Any]:
    """The images in memory, so that no disk read is timed."""
    import cv2  # Ultralytics' own reader: BGR arrays, as its loaders give the model

    loaded = []
    for file in files:
        image = cv2.imread(str(file))
        if image is None:
            raise checks.invalid("images", "must be readable image files", str(file))
        loaded.append(image)
    return loaded


# -- the model and its device ------------------------------------------------------------------


def load_model(model: Any, weights: Path | None) -> Any:
    """A YOLO object: ``model`` itself, or loaded from the weights file."""
    if not isinstance(model, (str, os.PathLike)):
        return model
    from ultralytics import YOLO

    try:
        return YOLO(str(weights))
    except Exception as exc:  # any failure to load is a bad weights file, reported as such
        raise checks.invalid(
            "model", f"could not be loaded by Ultralytics: {exc}", str(weights)
        ) from exc


def select_device(device: str | int | None, half: bool) -> Any:
    """The torch device Ultralytics would run on for ``device`` (checked to exist)."""
    from ultralytics.utils.torch_utils import select_device

    try:
        chosen = select_device("" if device is None else device, verbose=False)
    except ValueError as exc:
        raise checks.invalid("device", f"is not available: {exc}", device) from exc
    if half and chosen.type != "cuda":
        raise checks.invalid("half", "needs a CUDA device", str(chosen), "Use half=False on a CPU.")
    return chosen


def check_stride(yolo: Any, imgsz: int) -> None:
    """``imgsz`` must be a multiple of the model's largest stride (64 for P6 models), or
    Ultralytics would silently run at another size than the one recorded."""
    strides = getattr(getattr(yolo, "model", None), "stride", None)
    if strides is None or not hasattr(strides, "max"):
        return  # an exported format: Ultralytics checks the size itself
    stride = int(strides.max())
    if imgsz % stride:
        raise checks.invalid("imgsz", f"must be a multiple of the model's stride ({stride})", imgsz)


# -- timing ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """One timed ``predict`` call: Ultralytics' stage times for the whole batch, and the wall
    time of the call."""

    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float
    wall_ms: float
    images: int


def measure(
    yolo: Any,
    loaded: list[Any],
    *,
    imgsz: int,
    batch: int,
    device: Any,
    half: bool,
    warmup: int,
    runs: int,
    progress: bool,
) -> list[Timing]:
    """``warmup`` untimed then ``runs`` timed ``predict`` calls of ``batch`` images each, cycling
    through ``loaded``; CUDA is synchronized before each clock reading."""
    sync = _synchronizer(device)
    precision = _precision_args(half)
    timings: list[Timing] = []
    with _progress_bar(progress, warmup + runs) as advance:
        for call in range(warmup + runs):
            first = call * batch
            frames = [loaded[(first + k) % len(loaded)] for k in range(batch)]
            sync()
            start = time.perf_counter()
            results = yolo.predict(
                frames, imgsz=imgsz, batch=batch, device=str(device), verbose=False, **precision
            )
            sync()
            wall = time.perf_counter() - start
            if call >= warmup:
                # Ultralytics' speeds are per image of the call: times its images, per batch.
                n = len(results)
                speed = results[0].speed
                timings.append(
                    Timing(
                        speed["preprocess"] * n,
                        speed["inference"] * n,
                        speed["postprocess"] * n,
                        wall * 1000.0,
                        n,
                    )
                )
            advance("warm-up" if call + 1 < warmup else "timed runs")
    return timings


def _precision_args(half: bool) -> dict[str, Any]:
    # Ultralytics 8.4 replaced `half` by `quantize` (and warns about `half`); older ones lack it.
    from ultralytics.cfg import DEFAULT_CFG_DICT

    if "quantize" in DEFAULT_CFG_DICT:
        return {"quantize": 16} if half else {}
    return {"half": half}


def _synchronizer(device: Any) -> Callable[[], None]:
    if device.type != "cuda":
        return lambda: None
    import torch

    return lambda: torch.cuda.synchronize(device)


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[str], None]]:
    if not enabled:
        yield lambda _description: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("benchmark: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("warm-up", total=total)
        yield lambda description: bar.update(task, advance=1, description=description)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between the nearest ranks (as
    numpy's default); never outside the two values it lies between.

    Example::

        percentile([1.0, 2.0, 3.0, 4.0], 50)   # 2.5
    """
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    a, b = ordered[low], ordered[high]
    return min(max(a + (b - a) * (position - low), a), b)


def summarize(yolo: Any, timings: list[Timing], device: Any, batch: int) -> dict[str, Any]:
    """The figures of :class:`~mltrack_sdk.benchmark.BenchmarkResult` that the runs measured,
    and what they ran on (device, dtype and format as the model actually ran)."""
    inference = [t.inference_ms for t in timings]
    low, high = min(inference), max(inference)
    # fmean may land one ulp outside [min, max] when all values are equal; the table checks order.
    avg = min(max(statistics.fmean(inference), low), high)
    backend = yolo.predictor.model
    total_s = sum(t.wall_ms for t in timings) / 1000.0
    return {
        "avg_inference_ms": avg,
        "min_inference_ms": low,
        "max_inference_ms": high,
        "p50_inference_ms": percentile(inference, 50),
        "p95_inference_ms": percentile(inference, 95),
        "fps": 1000.0 * batch / avg,
        "preprocess_ms": statistics.fmean(t.preprocess_ms for t in timings),
        "postprocess_ms": statistics.fmean(t.postprocess_ms for t in timings),
        "pipeline_ms": statistics.fmean(t.wall_ms for t in timings),
        "pipeline_fps": sum(t.images for t in timings) / total_s,
        "device": str(device),
        "device_name": _device_name(device),
        "dtype": "fp16" if getattr(backend, "fp16", False) else "fp32",
        "model_format": _format_name(getattr(backend, "format", "pt")),
        "num_runs": len(timings),
        "hardware_info": _hardware_info(device),
    }


def _format_name(fmt: str) -> str:
    # The table's default is "pytorch"; Ultralytics calls it "pt".
    return "pytorch" if fmt == "pt" else fmt


def _device_name(device: Any) -> str:
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    from ultralytics.utils.torch_utils import get_cpu_info

    return get_cpu_info() or platform.processor() or platform.machine()


def _hardware_info(device: Any) -> dict[str, Any]:
    import torch
    import ultralytics
    from ultralytics.utils.torch_utils import get_cpu_info

    info: dict[str, Any] = {
        "cpu": get_cpu_info(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            gpu=props.name,
            gpu_memory_mb=round(props.total_memory / 2**20),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
    return info
