"""One classification of failed calls: send later, set aside or raise (mltrack_sdk.errors.classify).

Every sender (writer, heartbeat, spool replay, batch isolation, session start) asks classify; no
module decides on SQLSTATEs by itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mltrack_sdk
from mltrack_sdk.errors import (
    DatabaseError,
    DatabaseUnreachableError,
    InvalidValueError,
    Outcome,
    TokenExpiredError,
    classify,
)
from mltrack_sdk.transports.base import TransportUnavailable

SEND_LATER, SET_ASIDE, RAISE = Outcome.SEND_LATER, Outcome.SET_ASIDE, Outcome.RAISE

CASES = [
    # (error, during a run, when a run starts)
    (TransportUnavailable("connection refused"), SEND_LATER, SEND_LATER),
    (DatabaseUnreachableError("down"), SEND_LATER, SEND_LATER),
    (DatabaseError("admin shutdown", sqlstate="57P01"), SEND_LATER, SEND_LATER),
    (DatabaseError("too many connections", sqlstate="53300"), SEND_LATER, SEND_LATER),
    (DatabaseError("serialization", sqlstate="40001"), SEND_LATER, SEND_LATER),
    (DatabaseError("PostgREST schema cache", sqlstate="PGRST002"), SEND_LATER, SEND_LATER),
    (DatabaseError("bad password", sqlstate="28P01"), SEND_LATER, RAISE),
    (DatabaseError("no such database", sqlstate="3D000"), SEND_LATER, RAISE),
    (InvalidValueError("map50 must be in [0, 1]", sqlstate="MT001"), SET_ASIDE, RAISE),
    (DatabaseError("check violation", sqlstate="23514"), SET_ASIDE, RAISE),
    (DatabaseError("numeric out of range", sqlstate="22003"), SET_ASIDE, RAISE),
    (DatabaseError("permission denied", sqlstate="42501"), SET_ASIDE, RAISE),
    (TokenExpiredError("JWT expired", sqlstate="PGRST303"), SET_ASIDE, RAISE),
    (DatabaseError("refused without a SQLSTATE"), SEND_LATER, SEND_LATER),
    (TypeError("cannot adapt type 'object'"), SET_ASIDE, RAISE),
    (KeyboardInterrupt(), RAISE, RAISE),
]


@pytest.mark.parametrize(("error", "running", "starting"), CASES, ids=lambda x: repr(x)[:40])
def test_each_failure_has_one_outcome(error: BaseException, running: Outcome, starting: Outcome):
    assert classify(error) is running
    assert classify(error, starting=True) is starting


def test_no_sender_decides_on_sqlstates_itself() -> None:
    """is_permanent / is_misconfigured are called only by classify: a second rule could drift."""
    package = Path(mltrack_sdk.__file__).parent
    callers = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and node.id in {"is_permanent", "is_misconfigured"}:
                callers.append(f"{path.relative_to(package)}:{node.lineno}")
    assert callers == []
