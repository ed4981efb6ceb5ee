"""A small YOLO-format dataset of coloured shapes on noise, made on the spot.

For demos, tests and benchmarks that need a real training without downloading anything: every
image holds one to three shapes (the classes) in random colours on a noisy background, with
their boxes in YOLO txt labels. The same arguments always give the same files.

Example::

    from ultralytics import YOLO
    from mltrack_sdk.synthetic import make_dataset

    data = make_dataset("shapes", train=64, val=16, imgsz=128)   # shapes/shapes.yaml
    YOLO("yolov8n.yaml").train(data=str(data), epochs=3, imgsz=128)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mltrack_sdk import checks

#: The shapes a class can be: class names are chosen among these.
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
_MAX_IMAGES = 100_000
_HEADER = "# mltrack synthetic dataset: "


def make_dataset(
    root: str | Path,
    *,
    classes: tuple[str, ...] | list[str] = ("circle", "square", "triangle"),
    train: int = 64,
    val: int = 16,
    imgsz: int = 128,
    seed: int = 0,
) -> Path:
    """Write a YOLO dataset under ``root`` and return the path of its data yaml
    (``<root>/<root name>.yaml`` with ``path``, ``train``, ``val``, ``nc`` and ``names``).

    ``classes`` are names among :data:`SHAPES`; ``train``/``val`` are image counts; ``imgsz``
    the side of the square images in pixels (32 to 4096). ``root`` must be new or empty, or hold
    a dataset made with the same arguments (then it is returned as it is). Needs numpy and
    Pillow (both come with ultralytics).

    Example::

        data = make_dataset("/tmp/shapes", classes=("circle", "square"), train=32, val=8)
    """
    names = _check_classes(classes)
    counts = {
        "train": _check_count("train", train),
        "val": _check_count("val", val),
    }
    size = checks.check_positive_int("imgsz", imgsz, required=True) or 0
    if not 32 <= size <= 4096:
        raise checks.invalid("imgsz", "must be between 32 and 4096 pixels", size)
    seed = checks.to_int("seed", seed)
    if seed < 0:
        raise checks.invalid("seed", "must be an integer >= 0", seed)
    if not isinstance(root, (str, Path)):
        raise checks.invalid("root", "must be a path (str or pathlib.Path)", type(root).__name__)
    base = Path(root).expanduser().absolute()
    params = {"classes": names, **counts, "imgsz": size, "seed": seed}
    yaml_path = base / f"{base.name}.yaml"
    if base.exists():
        if not base.is_dir():
            raise checks.invalid("root", "must be a directory", str(base))
        if _made_with(yaml_path, params):
            return yaml_path
        if any(base.iterdir()):
            raise checks.invalid(
                "root",
                "must be a new or empty directory, or hold a dataset made with the same arguments",
                str(base),
            )

    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for split, count in counts.items():
        images, labels = base / "images" / split, base / "labels" / split
        images.mkdir(parents=True, exist_ok=True)
        labels.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            image = Image.fromarray(noise, "RGB")
            lines = [
                _draw(ImageDraw.Draw(image), rng, names, size) for _ in range(rng.integers(1, 4))
            ]
            stem = f"{split}_{index:05d}"
            image.save(images / f"{stem}.png")
            (labels / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    yaml_path.write_text(_yaml(base, names, params))
    return yaml_path


def _check_classes(classes: Any) -> list[str]:
    if isinstance(classes, str) or not isinstance(classes, (tuple, list)):
        raise checks.invalid("classes", "must be a tuple or list of shape names", classes)
    if not classes:
        raise checks.invalid("classes", "must name at least one shape")
    for name in classes:
        if name not in SHAPES:
            raise checks.invalid("classes", "must hold only " + ", ".join(SHAPES), name)
    if len(set(classes)) != len(classes):
        raise checks.invalid("classes", "must not repeat a shape", list(classes))
    return list(classes)


def _check_count(field: str, value: Any) -> int:
    number = checks.check_positive_int(field, value, required=True) or 0
    if number > _MAX_IMAGES:
        raise checks.invalid(field, f"must be at most {_MAX_IMAGES} images", number)
    return number


def _made_with(yaml_path: Path, params: dict[str, Any]) -> bool:
    """Whether ``yaml_path`` is a dataset this function made with ``params``."""
    try:
        first = yaml_path.read_text().split("\n", 1)[0]
    except OSError:
        return False
    return first == _HEADER + json.dumps(params)


def _draw(draw: Any, rng: Any, names: list[str], size: int) -> str:
    """Draw one random shape; return its YOLO label line (class x_center y_center w h)."""
    cls = int(rng.integers(len(names)))
    side = float(rng.uniform(0.2, 0.45)) * size
    x0 = float(rng.uniform(0, size - side))
    y0 = float(rng.uniform(0, size - side))
    x1, y1 = x0 + side, y0 + side
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    shape = names[cls]
    if shape == "circle":
        draw.ellipse((x0, y0, x1, y1), fill=colour)
    elif shape == "square":
        draw.rectangle((x0, y0, x1, y1), fill=colour)
    elif shape == "triangle":
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)
    elif shape == "diamond":
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=colour)
    else:  # cross
        bar = side / 3
        draw.rectangle((x0 + bar, y0, x1 - bar, y1), fill=colour)
        draw.rectangle((x0, y0 + bar, x1, y1 - bar), fill=colour)
    cx, cy, w = (x0 + x1) / 2 / size, (y0 + y1) / 2 / size, side / size
    return f"{cls} {cx:.6f} {cy:.6f} {w:.6f} {w:.6f}"


def _yaml(base: Path, names: list[str], params: dict[str, Any]) -> str:
    # JSON strings are valid YAML scalars: no YAML library needed to write it.
    lines = [
        _HEADER + json.dumps(params),
        f"path: {json.dumps(str(base))}",
        "train: images/train",
        "val: images/val",
        f"nc: {len(names)}",
        "names:",
        *(f"  {i}: {json.dumps(name)}" for i, name in enumerate(names)),
    ]
    return "\n".join(lines) + "\n"
