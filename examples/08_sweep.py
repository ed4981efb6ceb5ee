"""A hyperparameter sweep: one tracked training per trial, the best trial kept by the database.

    python examples/08_sweep.py shapes/shapes.yaml --lr0 0.01,0.001 --epochs 10 --imgsz 128

A grid over the initial learning rate (add keys to `space` for more): one hyperparameter_runs
row, one session per trial (named "<run> #<n>"), ranked by the final mAP50-95.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mltrack_sdk as mlt
from mltrack_sdk.integrations.ultralytics import prepare_offline
from mltrack_sdk.sweep import sweep

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data", type=Path, help="a YOLO data yaml (e.g. from 05_make_dataset.py)")
parser.add_argument("--lr0", default="0.01,0.001", help="initial learning rates to try")
parser.add_argument("--epochs", type=int, default=10, help="epochs per trial")
parser.add_argument("--imgsz", type=int, default=128)
parser.add_argument("--device", help="cpu, 0, ... (default: the first GPU, else the CPU)")
parser.add_argument("--workers", type=int, default=8, help="data loader processes")
args = parser.parse_args()

prepare_offline()  # sweep() imports ultralytics: keep it off the network
space = {"lr0": [float(lr) for lr in args.lr0.split(",")]}
result = sweep(
    "yolov8n.yaml",
    data=args.data,
    space=space,
    # A fixed optimizer: with "auto", Ultralytics picks its own learning rate over lr0.
    train_args={"epochs": args.epochs, "imgsz": args.imgsz, "device": args.device,
                "workers": args.workers, "optimizer": "SGD", "amp": False, "plots": False},
)  # fmt: skip
print(f"Hyperparameter run {result.run_id} ({result.name}), by {result.objective}:")
for trial in result.trials:
    value = "-" if trial.value is None else f"{trial.value:.4f}"
    print(f"  #{trial.number} {trial.params}: {trial.status}, {value}, session {trial.session_id}")

with mlt.Client() as client:
    (run,) = [r for r in client.hyperparameter_runs() if str(r.id) == result.run_id]
best = {key: (run.best_params or {}).get(key) for key in space}
print(f"Best (kept by the database): session {run.best_session_id}, {best}, {run.best_value}")
