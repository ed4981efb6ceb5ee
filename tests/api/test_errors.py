"""Every refused request answers the status the issue names, with the error shape
``{"success": false, "error": {"code", "message", "hint", "field"}}``, a message naming the field
and the rule - and changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from conftest import LocalServer
from psycopg.rows import dict_row

from mltrack_sdk.api_server import ApiServer
from mltrack_sdk.migrate import migrate
from mltrack_sdk.testing.postgres import free_port

from .openapi import Api, check_answer

Session = Callable[..., dict[str, Any]]


def snapshot(db: psycopg.Connection[Any]) -> list[Any]:
    """Everything the API could have written."""
    return [
        db.execute(
            f"select coalesce(json_agg(t order by t::text), '[]') as rows from {table} t"
        ).fetchone()["rows"]  # type: ignore[index]
        for table in ("training_sessions", "training_metrics")
    ]


@pytest.fixture
def unchanged(db: psycopg.Connection[Any]) -> Callable[[], AbstractContextManager[None]]:
    """``with unchanged(): ...``: the refused requests in the block leave the database as it
    was."""

    @contextmanager
    def block() -> Iterator[None]:
        before = snapshot(db)
        yield
        assert snapshot(db) == before

    return block


Unchanged = Callable[[], AbstractContextManager[None]]


BASE = {"session_name": "bad input", "model_type": "yolov8n", "epochs": 10}


@pytest.mark.parametrize(
    ("body", "code", "field", "says"),
    [
        ({**BASE, "epochs": "ten"}, "MT001", "epochs", "epochs must be an integer (got ten)"),
        ({**BASE, "learning_rate": -0.1}, "MT001", "learning_rate", "learning_rate must be"),
        ({**BASE, "session_name": " "}, "MT002", "session_name", "session_name is required"),
        ({"model_type": "m", "epochs": 3}, "MT002", "session_name", "session_name is required"),
        ({**BASE, "config": {"x": "y" * 70000}}, "MT003", "config", "config must be at most"),
        ({**BASE, "colour": "red"}, "MT001", "colour", "colour is not a known field"),
        ({**BASE, "config": [1]}, "MT001", "config", "config must be a JSON object"),
        ({**BASE, "owner_id": "me"}, "MT001", "owner_id", "owner_id must be a UUID"),
    ],
)
def test_bad_session_fields_are_400(
    api: Api, unchanged: Unchanged, body: dict[str, Any], code: str, field: str, says: str
) -> None:
    with unchanged():
        error = api.error("POST", "/sessions", json=body, expect=400, code=code, field=field)
    assert error["message"].startswith(says), error
    assert error["hint"]


@pytest.mark.parametrize(
    ("row", "code", "field", "says"),
    [
        ({"epoch": 1, "map50": 1.5}, "MT001", "map50", "map50 must be between 0 and 1 (got 1.5)"),
        ({"epoch": 11}, "MT001", "epoch", "epoch must be between 0 and the session's epochs"),
        ({"epoch": 1, "box_loss": "1"}, "MT001", "box_loss", "box_loss must be a number"),
        ({"map50": 0.5}, "MT002", "epoch", "epoch is required"),
        ({"epoch": 1, "mAP": 0.5}, "MT001", "mAP", "mAP is not a known field"),
        ({"epoch": 1.5}, "MT001", "epoch", "epoch must be an integer"),
    ],
)
def test_bad_metrics_are_400(
    api: Api,
    session: Session,
    unchanged: Unchanged,
    row: dict[str, Any],
    code: str,
    field: str,
    says: str,
) -> None:
    s = session()
    with_id = {"session_id": s["id"], **row}
    with unchanged():
        error = api.error("POST", "/metrics", json=with_id, expect=400, code=code, field=field)
    assert error["message"].startswith(says), error


def test_a_number_beyond_double_precision_is_400_not_infinity(
    api: Api, session: Session, unchanged: Unchanged
) -> None:
    s = session()
    text = f'{{"session_id": "{s["id"]}", "epoch": 1, "box_loss": 1e400}}'
    with unchanged():
        error = api.error("POST", "/metrics", data=text, expect=400, code="MT001", field="box_loss")
    assert error["message"].startswith("box_loss must be a finite number")


def test_a_bad_row_refuses_the_whole_batch(
    api: Api, session: Session, unchanged: Unchanged
) -> None:
    s = session()
    rows = [{"epoch": 0, "map50": 0.1}, {"epoch": 1, "recall": 7}]
    with unchanged():
        error = api.error(
            "POST",
            "/metrics",
            json={"session_id": s["id"], "metrics": rows},
            expect=400,
            code="MT001",
            field="recall",
        )
    assert "recall must be between 0 and 1" in error["message"]


@pytest.mark.parametrize(
    ("data", "code", "says"),
    [
        ("{not json", "MT001", "body must be valid JSON"),
        ("[1, 2]", "MT001", "body must be a JSON object"),
        ("", "MT002", "body is required"),
        (b"\xff\xfe", "MT001", "body must be UTF-8"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    api: Api, unchanged: Unchanged, data: str | bytes, code: str, says: str
) -> None:
    with unchanged():
        error = api.error("POST", "/sessions", data=data, expect=400, code=code, field="body")
    assert error["message"].startswith(says)


@pytest.mark.parametrize(
    ("path", "code", "field"),
    [
        ("/sessions/not-a-uuid", "MT001", "id"),
        ("/sessions?limit=0", "MT001", "limit"),
        ("/sessions?limit=ten", "MT001", "limit"),
        ("/sessions?status=done", "MT001", "status"),
        ("/sessions?colour=red", "MT001", "colour"),
        ("/metrics", "MT002", "session_id"),
        ("/metrics?session_id=42", "MT001", "session_id"),
        ("/leaderboard?limit=51", "MT001", "limit"),
        ("/active?all=1", "MT001", "all"),
    ],
)
def test_bad_paths_and_query_parameters_are_400(api: Api, path: str, code: str, field: str) -> None:
    api.error("GET", path, expect=400, code=code, field=field)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "MT002", "body"),
        ({"stop_requested": False}, "MT001", "stop_requested"),
        ({"status": "done"}, "MT001", "status"),
        ({"final_map50": 0.5}, "MT001", "final_map50"),
        ({"status": "running", "model_path": "/m.pt"}, "MT001", "model_path"),
        ({"stop_requested": True, "status": "failed"}, "MT001", "status"),
        ({"status": "completed", "final_map50": 2}, "MT001", "final_map50"),
        ({"status": "completed", "completed_at": "yesterday"}, "MT001", "completed_at"),
    ],
)
def test_bad_patches_are_400(
    api: Api, session: Session, unchanged: Unchanged, body: dict[str, Any], code: str, field: str
) -> None:
    s = session()
    with unchanged():
        api.error("PATCH", f"/sessions/{s['id']}", json=body, expect=400, code=code, field=field)


NOBODY = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", f"/sessions/{NOBODY}", None, "session_id"),
        ("PATCH", f"/sessions/{NOBODY}", {"status": "running"}, "session_id"),
        ("POST", "/metrics", {"session_id": NOBODY, "epoch": 0}, "session_id"),
        ("GET", f"/metrics?session_id={NOBODY}", None, "session_id"),
        ("POST", "/sessions", {**BASE, "hyperparameter_run_id": NOBODY}, "hyperparameter_run_id"),
    ],
)
def test_unknown_ids_are_404(
    api: Api, unchanged: Unchanged, method: str, path: str, body: Any, field: str
) -> None:
    with unchanged():
        error = api.error(method, path, json=body, expect=404, code="MT005", field=field)
    assert error["message"].startswith(f"{field} does not match any")


def test_unknown_routes_are_404_and_other_methods_405(api: Api) -> None:
    api.error("GET", "/runs", expect=404, code="PGRST125")
    api.error("GET", "/sessions/x/metrics", expect=404, code="PGRST125")
    error = api.error("DELETE", "/sessions", expect=405, code="PGRST117")
    assert "allowed: GET, POST" in error["message"]
    assert api.request("DELETE", "/sessions").headers["allow"] == "GET, POST"
    api.error("PUT", "/metrics", json={}, expect=405, code="PGRST117")


@pytest.mark.parametrize(
    ("start", "body", "field", "says"),
    [
        (
            "completed",
            {"status": "running"},
            "status",
            "status cannot change: the session is already completed",
        ),
        ("completed", {"final_map50_95": 0.9}, "final_map50_95", "final_map50_95 cannot change"),
        (
            "pending",
            {"status": "completed"},
            "status",
            "status cannot go from pending to completed",
        ),
        ("running", {"status": "pending"}, "status", "status cannot go from running to pending"),
    ],
)
def test_invalid_status_transitions_are_409(
    api: Api,
    session: Session,
    unchanged: Unchanged,
    start: str,
    body: dict[str, Any],
    field: str,
    says: str,
) -> None:
    s = session(status="pending" if start == "pending" else "running")
    if start == "completed":
        finish = {"status": "completed", "final_map50_95": 0.5}
        api.call("PATCH", f"/sessions/{s['id']}", json=finish, expect=200)
    with unchanged():
        error = api.error(
            "PATCH", f"/sessions/{s['id']}", json=body, expect=409, code="MT004", field=field
        )
    assert error["message"].startswith(says), error


def test_a_new_session_must_start_pending_or_running(api: Api, unchanged: Unchanged) -> None:
    with unchanged():
        api.error(
            "POST",
            "/sessions",
            json={**BASE, "status": "completed"},
            expect=409,
            code="MT004",
            field="status",
        )


def test_a_body_over_the_limit_is_413(api: Api, session: Session, unchanged: Unchanged) -> None:
    s = session()
    rows = [{"epoch": 0, "map50": 0.1}] * 260_000  # about 5 MB of JSON
    body = json.dumps({"session_id": s["id"], "metrics": rows}).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it is read
        for at in range(0, len(body), 65536):
            yield body[at : at + 65536]

    with unchanged():
        error = api.error("POST", "/metrics", data=body, expect=413, code="MT003", field="body")
        assert error["message"].startswith("body must be at most 4194304 bytes")
        api.error("POST", "/metrics", data=chunks(), expect=413, code="MT003", field="body")


def test_a_database_that_cannot_be_reached_is_503(deno: str, tmp_path: Path) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with ApiServer(closed, port=0, log=tmp_path / "deno.log") as server:
        response = requests.get(f"{server.url}/sessions", timeout=30)
    body = response.json()
    check_answer("GET", "/sessions", response.status_code, body)
    assert (response.status_code, body["error"]["code"]) == (503, "08001")
    assert "cannot be reached" in body["error"]["message"]


def test_the_api_answers_503_while_the_database_is_down_and_recovers(
    deno: str, pg_server_factory: Callable[[], LocalServer], tmp_path: Path
) -> None:
    server = pg_server_factory()
    url = server.url("postgres")
    migrate(url)
    with ApiServer(url, port=0, log=tmp_path / "deno.log") as api:
        sessions = f"{api.url}/sessions"
        assert requests.get(sessions, timeout=30).status_code == 200
        server.stop()
        down = requests.get(sessions, timeout=30)
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] in ("08001", "08006")
        server.start()
        again = requests.post(sessions, json=BASE, timeout=30)
        assert again.status_code == 201, again.text
    with psycopg.connect(url, row_factory=dict_row) as c:
        row = c.execute("select count(*) as n from training_sessions").fetchone()
    assert row is not None and row["n"] == 1
