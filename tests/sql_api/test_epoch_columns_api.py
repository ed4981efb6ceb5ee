"""log_epoch_columns: the same rows as log_epochs give the same table and session, and its array
checks reach the SDK's direct transport as typed errors naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mltrack_sdk.errors import InvalidValueError
from mltrack_sdk.transports.postgres import PostgresTransport

from .api import Conn, Row, log_epochs, metrics_rows, session_row
from .test_epochs_api import PROGRESS, epoch_row

StartFn = Callable[..., Row]
FIELDS = ("box_loss", "cls_loss", "dfl_loss", "total_loss", "precision", "recall", "map50",
          "map50_95", "learning_rate", "epoch_time_seconds", "gpu_memory_mb")  # fmt: skip


def columns_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    cols: dict[str, Any] = {"epoch": [r["epoch"] for r in rows]}
    for field in FIELDS:
        cols[field] = [r.get(field) for r in rows]
    cols["extra"] = [r.get("extra") for r in rows]
    return cols


def without_session(rows: list[Row]) -> list[Row]:
    return [{k: v for k, v in r.items() if k != "session_id"} for r in rows]


def test_columns_and_json_batches_write_the_same(conn: Conn, db_url: str, start: StartFn) -> None:
    rows = [epoch_row(e, map50_95=0.1 * e, map50=0.15 * e) for e in range(5)]
    rows[2]["extra"] = {"lr/pg1": 0.001}
    rows[3]["box_loss"] = None  # keeps what an earlier write stored: here, nothing
    rows.append(epoch_row(1, map50_95=0.05, map50=0.08))  # epoch 1 again: the last row wins
    by_json, by_columns = start(), start()
    assert log_epochs(conn, by_json["id"], rows) == 5
    transport = PostgresTransport(db_url)
    try:
        written = transport.rpc(
            "log_epoch_columns", {"session_id": by_columns["id"], **columns_of(rows)}
        )
    finally:
        transport.close()
    assert written == 5
    assert without_session(metrics_rows(conn, by_columns["id"])) == without_session(
        metrics_rows(conn, by_json["id"])
    )
    progress = [{k: session_row(conn, s["id"])[k] for k in PROGRESS} for s in (by_json, by_columns)]
    assert progress[0] == progress[1]


def test_arrays_of_unequal_length_are_rejected_naming_the_field(
    db_url: str, start: StartFn
) -> None:
    session = start()
    transport = PostgresTransport(db_url)
    try:
        with pytest.raises(InvalidValueError) as info:
            transport.rpc(
                "log_epoch_columns",
                {"session_id": session["id"], "epoch": [0, 1, 2], "map50": [0.1, 0.2]},
            )
    finally:
        transport.close()
    assert info.value.sqlstate == "MT001"
    assert info.value.field == "map50"
    assert "map50 must have one value per epoch (got 2 values for 3 epochs)" in str(info.value)
