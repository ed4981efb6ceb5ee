"""Example 1: create a training session (status running) and print its id.

    python examples/01_start_session.py --epochs 20

Examples 2 and 3 continue this session: 2 trains a tiny classifier and logs every epoch, 3
evaluates it and completes the session. They find it by its name, or take --session ID.
"""

from __future__ import annotations

import argparse

from tiny_classifier import BATCH_SIZE, EPOCHS, LEARNING_RATE, SESSION_NAME

import mltrack_sdk as mlt

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs example 2 will train")
parser.add_argument("--name", default=SESSION_NAME, help="session name")
args = parser.parse_args()

run = mlt.start_session(
    args.name,
    model_type="logistic-regression",
    dataset_name="two-clouds",
    dataset_size=600,
    epochs=args.epochs,
    batch_size=BATCH_SIZE,
    learning_rate=LEARNING_RATE,
    config={"features": 8, "optimizer": "minibatch gradient descent", "seed": 0},
)
run.flush()  # the session row is in the database before this script ends
print(f"Created session {run.id} ({args.name!r}): status {run.status}, {args.epochs} epochs")
print("Next: python examples/02_log_metrics.py")
# No finish(): the session stays running for examples 2 and 3.
