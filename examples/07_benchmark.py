"""Benchmark a trained model's inference speed and record it for the session that trained it.

    python examples/07_benchmark.py runs/train/weights/best.pt --data shapes/shapes.yaml

The images (the data's val split) are read into memory first; after a few untimed warm-up
predictions come --runs timed ones. The figures land in model_benchmarks, for the newest session
whose model_path is this file (as a tracked training records it); the leaderboard shows them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mltrack_sdk as mlt
from mltrack_sdk.benchmark import benchmark
from mltrack_sdk.integrations.ultralytics import prepare_offline

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("weights", type=Path, help="best.pt of a tracked training")
parser.add_argument("--data", type=Path, help="data yaml (default: the model's own)")
parser.add_argument("--imgsz", type=int, default=128)
parser.add_argument("--runs", type=int, default=100, help="timed predictions")
parser.add_argument("--device", help="cpu, 0, ... (default: the first GPU, else the CPU)")
args = parser.parse_args()

prepare_offline()  # benchmark() imports ultralytics: keep it off the network
result = benchmark(
    args.weights, data=args.data, imgsz=args.imgsz, runs=args.runs, device=args.device
)
print(f"Recorded for session {result.session_id} on {result.device} ({result.device_name})")
print(
    f"inference {result.avg_inference_ms:.2f} ms (p95 {result.p95_inference_ms:.2f} ms),"
    f" {result.fps:.0f} images/s; whole pipeline {result.pipeline_ms:.2f} ms"
)

with mlt.Client() as client:
    for entry in client.leaderboard(limit=5):
        speed = "-" if entry.inference_ms is None else f"{entry.inference_ms:.2f} ms"
        print(f"#{entry.rank} {entry.session_name}: mAP50-95 {entry.final_map50_95:.3f}, {speed}")
