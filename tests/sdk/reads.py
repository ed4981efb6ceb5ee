"""Helpers of the read tests: a run to read from, and the reference reading (``select *`` rows
validated one by one by pydantic) that every fast read path must equal."""

from __future__ import annotations

from typing import Any

from mltrack_sdk.client import Client
from mltrack_sdk.models import EpochMetrics


def validated(transport: Any, sid: str) -> list[EpochMetrics]:
    """The reference: ``select *`` rows, each validated by pydantic."""
    rows = transport.select(
        "training_metrics", filters={"session_id": sid}, order=[("epoch", False)]
    )
    return [EpochMetrics.model_validate(r) for r in rows]


def start_run(client: Client, name: str = "r") -> str:
    """A session with room for 5,001 epochs; its id."""
    row = client.transport.rpc(
        "start_session", {"session_name": name, "model_type": "yolov8n", "epochs": 5001}
    )
    return str(row["id"])
