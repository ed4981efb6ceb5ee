"""A tracked YOLO training: track(model) starts a session when training starts.

    python examples/06_train_yolo.py shapes/shapes.yaml --epochs 30 --imgsz 128

The session gets the model type, dataset, train arguments and hardware from the trainer; each
epoch its losses, precision, recall and mAP; at the end best.pt's metrics, its path and the
status. Prints the session and where the model landed (benchmark it with example 7).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mltrack_sdk as mlt
from mltrack_sdk.integrations.ultralytics import prepare_offline, track

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data", type=Path, help="a YOLO data yaml (e.g. from 05_make_dataset.py)")
parser.add_argument("--model", default="yolov8n.yaml", help="a model yaml or local weights")
parser.add_argument("--epochs", type=int, default=30)
parser.add_argument("--imgsz", type=int, default=128)
parser.add_argument("--batch", type=int, default=16)
parser.add_argument("--device", help="cpu, 0, ... (default: the first GPU, else the CPU)")
parser.add_argument("--workers", type=int, default=8, help="data loader processes")
parser.add_argument("--name", help="session name (default: model and dataset)")
args = parser.parse_args()

prepare_offline()  # before importing ultralytics: no model hub, no telemetry
from ultralytics import YOLO  # noqa: E402

model = YOLO(args.model)
tracker = track(model, session_name=args.name)
# amp=False: on a GPU, Ultralytics' AMP check would download a model.
model.train(
    data=str(args.data), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
    device=args.device, workers=args.workers, amp=False, plots=False,
)  # fmt: skip

with mlt.Client() as client:
    session = client.session(tracker.session_id).session
print(f"Session {session.id} ({session.session_name}): {session.status}")
print(
    f"{session.epochs_completed} epochs in {session.duration_seconds:.0f} s; best epoch"
    f" {session.best_epoch}: mAP50 {session.best_map50:.3f}, mAP50-95 {session.best_map50_95:.3f}"
)
print(f"Model: {session.model_path}")
print(f"Next: python examples/07_benchmark.py {session.model_path} --data {args.data}")
