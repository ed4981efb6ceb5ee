"""A real, tiny training for examples 1-3: logistic regression by gradient descent (numpy only).

Two overlapping clouds of points (the classes) are generated with a seed; each epoch is one pass
of mini-batch gradient descent on the binary cross-entropy, and the loss, precision and recall it
reports are measured on held-out points. Nothing here knows about mltrack.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: What examples 1-3 agree on: the session they create, continue and complete.
SESSION_NAME = "Tiny classifier (numpy)"
EPOCHS, BATCH_SIZE, LEARNING_RATE = 20, 32, 0.05


def make_data(n: int = 600, features: int = 8, seed: int = 0) -> tuple[np.ndarray, ...]:
    """``x_train, y_train, x_val, y_val``: two Gaussian clouds, 3/4 for training."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    centre = np.zeros(features)
    centre[:3] = 0.6  # the classes differ along three features only, and overlap
    x = rng.normal(size=(n, features)) + np.outer(2 * y - 1, centre)
    cut = n * 3 // 4
    return x[:cut], y[:cut], x[cut:], y[cut:]


class LogisticRegression:
    def __init__(self, features: int, seed: int = 0) -> None:
        self.w = np.random.default_rng(seed).normal(scale=1.0, size=features)
        self.b = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probability of class 1 for each row of ``x``."""
        return 1.0 / (1.0 + np.exp(-(x @ self.w + self.b)))

    def train_epoch(self, x: np.ndarray, y: np.ndarray, lr: float, batch: int, seed: int) -> float:
        """One pass over ``x`` in shuffled mini-batches; returns the mean training loss."""
        order = np.random.default_rng(seed).permutation(len(x))
        losses = []
        for start in range(0, len(x), batch):
            xb, yb = x[order[start : start + batch]], y[order[start : start + batch]]
            p = self.predict(xb)
            losses.append(_bce(p, yb))
            self.w -= lr * xb.T @ (p - yb) / len(xb)
            self.b -= lr * float(np.mean(p - yb))
        return float(np.mean(losses))

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Loss, precision, recall and accuracy of class 1 at a 0.5 threshold."""
        p = self.predict(x)
        hit = p >= 0.5
        tp = float(np.sum(hit & (y == 1)))
        return {
            "loss": _bce(p, y),
            "precision": tp / max(float(np.sum(hit)), 1.0),
            "recall": tp / max(float(np.sum(y == 1)), 1.0),
            "accuracy": float(np.mean(hit == (y == 1))),
        }

    def save(self, path: Path) -> None:
        with open(path, "wb") as file:  # a file object: numpy adds no ".npz" to the name
            np.savez(file, w=self.w, b=self.b)

    @classmethod
    def load(cls, path: Path) -> LogisticRegression:
        saved = np.load(path)
        model = cls(len(saved["w"]))
        model.w, model.b = saved["w"], float(saved["b"])
        return model


def _bce(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
