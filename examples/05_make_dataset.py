"""Generate a synthetic YOLO dataset: coloured shapes on noise, one to three per image.

    python examples/05_make_dataset.py shapes --train 128 --val 32 --imgsz 128 --classes 3

Writes images/{train,val}, labels/{train,val} and shapes/shapes.yaml (the data yaml to train
on). The same arguments always give the same files; running it again reuses them.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from mltrack_sdk.synthetic import SHAPES, make_dataset


def classes(text: str) -> list[str]:
    """``3`` (the first three shapes) or names: ``circle,cross``."""
    if text.isdigit():
        return list(SHAPES[: int(text)])
    return text.split(",")


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("root", type=Path, help="a new or empty directory")
parser.add_argument("--train", type=int, default=128, help="training images")
parser.add_argument("--val", type=int, default=32, help="validation images")
parser.add_argument("--imgsz", type=int, default=128, help="image side in pixels")
parser.add_argument("--classes", type=classes, default="3", help=f"a count or names: {SHAPES}")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

data = make_dataset(
    args.root, classes=args.classes, train=args.train, val=args.val, imgsz=args.imgsz,
    seed=args.seed,
)  # fmt: skip
print(f"Data yaml: {data}")
for split in ("train", "val"):
    labels = sorted((data.parent / "labels" / split).glob("*.txt"))
    boxes = Counter(int(line.split()[0]) for f in labels for line in f.read_text().splitlines())
    per_class = ", ".join(f"{boxes[i]} {name}" for i, name in enumerate(args.classes))
    print(f"{split}: {len(labels)} images of {args.imgsz} px; boxes: {per_class}")
