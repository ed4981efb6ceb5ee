"""Helpers of the spool fault-injection tests (test_spool_malformed, test_spool_faults):
an ``os`` whose functions fail on demand, a transport that goes away, spool lines and files."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from mltrack_sdk import spool as spool_module
from mltrack_sdk.spool import Spool
from mltrack_sdk.transports.base import TransportUnavailable
from mltrack_sdk.transports.postgres import PostgresTransport


class OsProxy:
    """The ``os`` module with some functions replaced (only :mod:`mltrack_sdk.spool` sees it)."""

    def __init__(self, **overrides: Callable[..., Any]) -> None:
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def inject(monkeypatch: pytest.MonkeyPatch, **overrides: Callable[..., Any]) -> None:
    monkeypatch.setattr(spool_module, "os", OsProxy(**overrides))


def heal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk works again (``monkeypatch.undo()`` would also undo ``MLTRACK_HOME``)."""
    monkeypatch.setattr(spool_module, "os", os)


def failing(code: int) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code))

    return fail


class FlakyTransport:
    """Sends ``ok`` calls through ``inner``, then the backend is gone."""

    name = "postgres"

    def __init__(self, inner: PostgresTransport, ok: int) -> None:
        self.inner = inner
        self.ok = ok

    def rpc(self, function: str, args: dict[str, Any]) -> Any:
        if self.ok <= 0:
            raise TransportUnavailable("cannot reach the database: injected outage")
        self.ok -= 1
        return self.inner.rpc(function, args)


def query(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as c:
        cur = c.execute(sql, params)
        return cur.fetchall() if cur.description else []


def epochs_in(url: str, session_id: str) -> list[int]:
    rows = query(
        url, "select epoch from training_metrics where session_id = %s order by epoch", session_id
    )
    return [r["epoch"] for r in rows]


def start_call(session_id: str) -> dict[str, Any]:
    return {
        "function": "start_session",
        "args": {
            "session_name": "faulty",
            "model_type": "yolov8n",
            "epochs": 60,
            "session_id": session_id,
        },
    }


def epoch_call(session_id: str, *epochs: int) -> dict[str, Any]:
    metrics = [{"epoch": e, "box_loss": 1.0 / (e + 1)} for e in epochs]
    return {"function": "log_epochs", "args": {"session_id": session_id, "metrics": metrics}}


def line(call: dict[str, Any]) -> bytes:
    return json.dumps(call, separators=(",", ":")).encode() + b"\n"


def new_id() -> str:
    return str(uuid.uuid4())


def write_spool(session_id: str, content: bytes) -> Path:
    path = Spool().path(session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path
