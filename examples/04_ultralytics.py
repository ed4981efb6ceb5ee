"""Example 4: track an Ultralytics YOLO training in a session you started (track(model, session=)).

    python examples/04_ultralytics.py [--data shapes.yaml] [--epochs 10] [--imgsz 128]

You start the session with what you know (name, dataset, notes); track() logs every epoch into
it, then the per-class validation of best.pt, the final metrics and the model path, and
completes it. Without --data it trains on a small generated dataset of shapes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mltrack_sdk as mlt
from mltrack_sdk.integrations.ultralytics import prepare_offline, track
from mltrack_sdk.synthetic import make_dataset

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", type=Path, help="a YOLO data yaml (default: generated shapes)")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--imgsz", type=int, default=128)
parser.add_argument("--images", type=int, default=64, help="training images to generate")
parser.add_argument("--device", help="cpu, 0, ... (default: the first GPU, else the CPU)")
parser.add_argument("--workers", type=int, default=8, help="data loader processes")
args = parser.parse_args()

prepare_offline()  # before importing ultralytics: no model hub, no telemetry
from ultralytics import YOLO  # noqa: E402

data = args.data or make_dataset(
    f"shapes_{args.images}_{args.imgsz}", train=args.images, val=16, imgsz=args.imgsz
)
with mlt.start_session(
    "YOLOv8n shapes (example 4)",
    model_type="yolov8n",
    dataset_name=data.stem,
    epochs=args.epochs,
    config={"notes": "trained from scratch on generated shapes"},
) as run:
    model = YOLO("yolov8n.yaml")  # a new model from its yaml: nothing to download
    track(model, session=run)  # every epoch, the validation and the finals go to this session
    # amp=False: on a GPU, Ultralytics' AMP check would download a model.
    model.train(
        data=str(data), epochs=args.epochs, imgsz=args.imgsz, batch=16, device=args.device,
        workers=args.workers, amp=False, plots=False,
    )  # fmt: skip

with mlt.Client() as client:
    detail = client.session(run.id)
session = detail.session
print(f"Session {session.id} ({session.session_name}): {session.status}")
print(f"{len(detail.metrics)} epochs logged; best epoch {session.best_epoch}")
print(f"final mAP50 {session.final_map50:.3f}, mAP50-95 {session.final_map50_95:.3f}")
print(f"{len(detail.validation_results)} validation rows; model {session.model_path}")
