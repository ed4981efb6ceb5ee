"""Example 2: train a tiny classifier and record its metrics during training, epoch by epoch.

    python examples/02_log_metrics.py [--session ID] [--model tiny_classifier.npz]

Continues the session of example 1 (by id, or the newest session with its name), trains as many
epochs as the session plans, and saves the model for example 3.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tiny_classifier import (
    BATCH_SIZE,
    EPOCHS,
    LEARNING_RATE,
    SESSION_NAME,
    LogisticRegression,
    make_data,
)

import mltrack_sdk as mlt

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--session", default=SESSION_NAME, help="session id or name (example 1's)")
parser.add_argument("--model", type=Path, default=Path("tiny_classifier.npz"), help="saved here")
args = parser.parse_args()

run = mlt.start_session(resume=args.session)  # raises if it does not exist or has ended
x_train, y_train, x_val, y_val = make_data()
model = LogisticRegression(x_train.shape[1])

for epoch in range(run.epochs or EPOCHS):  # None only when resumed offline
    started = time.perf_counter()
    train_loss = model.train_epoch(x_train, y_train, LEARNING_RATE, BATCH_SIZE, seed=epoch)
    val = model.evaluate(x_val, y_val)
    run.log_epoch(
        epoch,
        total_loss=train_loss,
        val_cls_loss=val["loss"],
        precision=val["precision"],
        recall=val["recall"],
        learning_rate=LEARNING_RATE,
        epoch_time_seconds=time.perf_counter() - started,
        extra={"accuracy": val["accuracy"]},  # anything without a column of its own
    )
    print(
        f"epoch {epoch}: loss {train_loss:.4f}, val loss {val['loss']:.4f},"
        f" precision {val['precision']:.3f}, recall {val['recall']:.3f}"
    )
    if run.stop_requested:  # someone called request_stop() for this session
        print("Stop requested: ending early")
        break

model.save(args.model)
run.flush()  # every epoch is in the database (or the local spool) before this script ends
print(f"Logged {epoch + 1} epochs to session {run.id}; model saved to {args.model}")
print("Next: python examples/03_finish_session.py")
