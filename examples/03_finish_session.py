"""Example 3: complete a session with its final metrics.

    python examples/03_finish_session.py [--session ID] [--model tiny_classifier.npz]

Evaluates the model example 2 saved on held-out data, completes the session with those final
metrics and the model's path, and reads the session back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tiny_classifier import SESSION_NAME, LogisticRegression, make_data

import mltrack_sdk as mlt

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--session", default=SESSION_NAME, help="session id or name (example 1's)")
parser.add_argument(
    "--model", type=Path, default=Path("tiny_classifier.npz"), help="from example 2"
)
args = parser.parse_args()

run = mlt.start_session(resume=args.session)
model = LogisticRegression.load(args.model)
_, _, x_val, y_val = make_data()
final = model.evaluate(x_val, y_val)
run.finish(
    "completed",
    final_loss=final["loss"],
    final_precision=final["precision"],
    final_recall=final["recall"],
    model_path=str(args.model.absolute()),
)

with mlt.Client() as client:
    session = client.session(run.id).session
print(f"Session {session.id} ({session.session_name}): {session.status}")
print(
    f"final loss {session.final_loss:.4f}, precision {session.final_precision:.3f},"
    f" recall {session.final_recall:.3f}; {session.epochs_completed} epochs in"
    f" {session.duration_seconds:.1f} s"
)
