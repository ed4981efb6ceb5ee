"""The product description's Python usage examples 1-3 run as written against the API.

The code below is the seed's, character for character; only the port differs (the server
listens on a free port instead of 5000). Example 2 leaves the training itself to the reader
("# ... train one epoch ..."): the names it reads from that training are given values here.
"""

from __future__ import annotations

import textwrap
from typing import Any

import psycopg

from .openapi import Api

EXAMPLE_1 = """
import requests

# Create session
response = requests.post('http://localhost:5000/api/training/sessions', json={
    "session_name": "YOLOv8s Mastomys v3",
    "model_type": "yolov8s",
    "dataset_name": "mastomys_aug_v3",
    "epochs": 150,
    "batch_size": 32,
    "learning_rate": 0.01,
    "config": {
        "imgsz": 640,
        "augment": True,
        "workers": 8
    }
})

session = response.json()['session']
session_id = session['id']

# Update to running status
requests.patch(f'http://localhost:5000/api/training/sessions/{session_id}', json={
    "status": "running",
    "started_at": "2025-11-04T14:00:00Z"
})
"""

EXAMPLE_2 = """
# Inside your training loop
for epoch in range(epochs):
    # ... train one epoch ...
    
    # Record metrics
    requests.post('http://localhost:5000/api/training/metrics', json={
        "session_id": session_id,
        "epoch": epoch,
        "total_loss": train_loss,
        "precision": metrics['precision'],
        "recall": metrics['recall'],
        "map50": metrics['map50'],
        "map50_95": metrics['map50_95'],
        "epoch_time_seconds": epoch_duration,
        "gpu_memory_mb": gpu_memory
    })
"""  # noqa: W293 (the seed's blank line holds spaces)

EXAMPLE_3 = """
# After training finishes
requests.patch(f'http://localhost:5000/api/training/sessions/{session_id}', json={
    "status": "completed",
    "completed_at": "2025-11-04T16:30:00Z",
    "final_map50": 0.892,
    "final_map50_95": 0.754,
    "final_precision": 0.865,
    "final_recall": 0.823,
    "model_path": "/models/yolov8s_best.pt"
})
"""

# What example 2's training loop would have computed.
TRAINING = {
    "epochs": 3,
    "train_loss": 0.0813,
    "metrics": {"precision": 0.834, "recall": 0.812, "map50": 0.867, "map50_95": 0.723},
    "epoch_duration": 120,
    "gpu_memory": 8432,
}


def run_example(code: str, namespace: dict[str, Any], api: Api) -> None:
    port = api.url.split(":")[2].split("/")[0]
    exec(textwrap.dedent(code).replace("localhost:5000", f"localhost:{port}"), namespace)


def test_examples_1_to_3_run_as_written(api: Api, db: psycopg.Connection[Any]) -> None:
    namespace: dict[str, Any] = {}
    run_example(EXAMPLE_1, namespace, api)
    session_id = namespace["session_id"]
    after_1 = db.execute("select * from training_sessions where id = %s", (session_id,)).fetchone()
    assert after_1 is not None
    assert (after_1["status"], after_1["epochs"], after_1["batch_size"]) == ("running", 150, 32)
    assert after_1["config"] == {"imgsz": 640, "augment": True, "workers": 8}
    assert after_1["started_at"] is not None  # stamped by the database when it started running

    namespace.update(TRAINING)
    run_example(EXAMPLE_2, namespace, api)
    rows = db.execute(
        "select epoch, total_loss, precision, recall, map50, map50_95, epoch_time_seconds,"
        " gpu_memory_mb from training_metrics where session_id = %s order by epoch",
        (session_id,),
    ).fetchall()
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert all(
        (r["total_loss"], r["precision"], r["map50_95"], r["gpu_memory_mb"])
        == (0.0813, 0.834, 0.723, 8432)
        for r in rows
    )

    run_example(EXAMPLE_3, namespace, api)
    done = api.call("GET", f"/sessions/{session_id}", expect=200)
    session = done["session"]
    assert session["status"] == "completed"
    assert (
        session["final_map50"],
        session["final_map50_95"],
        session["final_precision"],
        session["final_recall"],
        session["model_path"],
    ) == (0.892, 0.754, 0.865, 0.823, "/models/yolov8s_best.pt")
    assert session["duration_seconds"] > 0 and session["epochs_completed"] == 3
    assert [m["epoch"] for m in done["metrics"]] == [0, 1, 2]
    leaderboard = api.call("GET", "/leaderboard?limit=20", expect=200)["leaderboard"]
    assert session_id in [row["id"] for row in leaderboard]
