"""Every route of the REST API does what the seed says, with the seed's JSON shapes (checked
against the OpenAPI document by ``api.call``), and stores what the SQL API stores."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
import pytest

from .openapi import Api, document

Session = Callable[..., dict[str, Any]]


def test_create_session_stores_every_field_and_starts_pending(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    body = {
        "session_name": "YOLOv8n Mastomys Detection v1",
        "model_type": "yolov8n",
        "dataset_name": "mastomys_dataset_v2",
        "dataset_size": 5000,
        "epochs": 100,
        "batch_size": 16,
        "learning_rate": 0.01,
        "img_size": 640,
        "config": {"augment": True, "mosaic": 1.0},
        "hardware_info": {"device": "cuda", "gpu": "NVIDIA RTX 3090"},
    }
    response = api.request("POST", "/sessions", json=body)
    assert response.status_code == 201
    created = response.json()["session"]
    assert response.headers["location"].endswith(f"/api/training/sessions/{created['id']}")
    row = db.execute("select * from training_sessions where id = %s", (created["id"],)).fetchone()
    assert row is not None
    assert {k: row[k] for k in body} == body
    assert (row["status"], row["started_at"], row["owner_id"]) == ("pending", None, None)
    # The same instant; JSON drops a trailing zero of the microseconds (.71186 for .711860).
    assert datetime.fromisoformat(created["created_at"]) == row["created_at"]


def test_create_with_a_chosen_id_twice_returns_the_same_session(api: Api) -> None:
    body = {
        "session_id": str(uuid.uuid4()),
        "session_name": "replayed",
        "model_type": "m",
        "epochs": 5,
        "status": "running",
    }
    first = api.call("POST", "/sessions", json=body, expect=201)["session"]
    again = api.call("POST", "/sessions", json=body, expect=201)["session"]
    assert first["id"] == again["id"] == body["session_id"]
    assert first["status"] == "running" and first["started_at"] == again["started_at"]


def test_list_sessions_newest_first_with_filters_and_limit(api: Api, session: Session) -> None:
    model = f"model-{uuid.uuid4()}"
    older = session(model_type=model, status="pending")
    newer = session(model_type=model, dataset_name="d2")
    listed = api.call("GET", f"/sessions?model_type={model}", expect=200)
    assert [s["id"] for s in listed["sessions"]] == [newer["id"], older["id"]]
    assert listed["count"] == 2
    running = api.call("GET", f"/sessions?model_type={model}&status=running", expect=200)
    assert [s["id"] for s in running["sessions"]] == [newer["id"]]
    by_dataset = api.call("GET", f"/sessions?model_type={model}&dataset_name=d2", expect=200)
    assert by_dataset["count"] == 1
    first = api.call("GET", f"/sessions?model_type={model}&limit=1", expect=200)
    assert [s["id"] for s in first["sessions"]] == [newer["id"]]


def test_get_session_with_metrics_validation_results_and_benchmarks(
    api: Api, session: Session, db: psycopg.Connection[Any]
) -> None:
    s = session()
    for epoch in (1, 0):
        api.call(
            "POST",
            "/metrics",
            json={"session_id": s["id"], "epoch": epoch, "map50": 0.5},
            expect=200,
        )
    db.execute(
        "select record_validation(%s, %s::jsonb)",
        (s["id"], '[{"class_name": "all", "map50": 0.5}, {"class_name": "mouse", "class_id": 0}]'),
    )
    db.execute("select record_benchmark(%s, avg_inference_ms => 4.0)", (s["id"],))
    detail = api.call("GET", f"/sessions/{s['id']}", expect=200)
    assert detail["session"]["id"] == s["id"]
    assert [m["epoch"] for m in detail["metrics"]] == [0, 1]
    assert [v["class_name"] for v in detail["validation_results"]] == ["all", "mouse"]
    assert [(b["avg_inference_ms"], b["fps"]) for b in detail["benchmarks"]] == [(4.0, 250.0)]


def test_patch_pending_to_running_stamps_started_at(api: Api, session: Session) -> None:
    s = session(status="pending")
    running = api.call("PATCH", f"/sessions/{s['id']}", json={"status": "running"}, expect=200)
    assert running["session"]["status"] == "running"
    assert running["session"]["started_at"] is not None
    assert "ignored" not in running


def test_patch_completed_fills_finals_from_the_best_epoch(api: Api, session: Session) -> None:
    s = session()
    for epoch, m in ((0, 0.2), (1, 0.6), (2, 0.4)):
        api.call(
            "POST",
            "/metrics",
            json={
                "session_id": s["id"],
                "epoch": epoch,
                "map50": m,
                "map50_95": m / 2,
                "total_loss": 1 - m,
            },
            expect=200,
        )
    done = api.call(
        "PATCH",
        f"/sessions/{s['id']}",
        json={"status": "completed", "model_path": "/m.pt"},
        expect=200,
    )["session"]
    assert (done["status"], done["best_epoch"], done["final_map50"], done["final_loss"]) == (
        "completed",
        1,
        0.6,
        0.4,
    )
    assert done["completed_at"] > done["started_at"]
    # The path of a finished model may still change; its results may not (see test_errors).
    moved = api.call("PATCH", f"/sessions/{s['id']}", json={"model_path": "/b.pt"}, expect=200)
    assert (moved["session"]["model_path"], moved["session"]["status"]) == ("/b.pt", "completed")


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_patch_ends_a_run_failed_or_cancelled_with_a_reason(
    api: Api, session: Session, status: str
) -> None:
    s = session()
    ended = api.call(
        "PATCH",
        f"/sessions/{s['id']}",
        json={"status": status, "status_reason": "CUDA out of memory"},
        expect=200,
    )
    assert (ended["session"]["status"], ended["session"]["status_reason"]) == (
        status,
        "CUDA out of memory",
    )


def test_patch_stop_requested_reaches_the_next_heartbeat(
    api: Api, session: Session, db: psycopg.Connection[Any]
) -> None:
    s = session()
    asked = api.call(
        "PATCH",
        f"/sessions/{s['id']}",
        json={"stop_requested": True, "status_reason": "enough"},
        expect=200,
    )
    assert asked["session"]["stop_requested"] is True
    beat = db.execute("select heartbeat(%s) as stop", (s["id"],)).fetchone()
    assert beat is not None and beat["stop"] is True


def test_patch_times_of_the_client_are_listed_as_ignored(api: Api, session: Session) -> None:
    s = session(status="pending")
    answer = api.call(
        "PATCH",
        f"/sessions/{s['id']}",
        expect=200,
        json={"status": "running", "started_at": "2025-11-04T14:00:00Z"},
    )
    assert answer["ignored"] == ["started_at"]
    assert not answer["session"]["started_at"].startswith("2025-11-04")


def test_post_metrics_upserts_on_session_and_epoch(api: Api, session: Session) -> None:
    s = session()
    first = api.call(
        "POST",
        "/metrics",
        expect=200,
        json={
            "session_id": s["id"],
            "epoch": 3,
            "box_loss": 1.5,
            "map50": 0.1,
            "extra": {"note": "a"},
        },
    )["metric"]
    assert (first["epoch"], first["box_loss"], first["map50"]) == (3, 1.5, 0.1)
    again = api.call(
        "POST",
        "/metrics",
        expect=200,
        json={"session_id": s["id"], "epoch": 3, "map50": 0.2, "extra": {"other": 1}},
    )["metric"]
    # A value sent again replaces, a value left out keeps, extra merges.
    assert (again["box_loss"], again["map50"]) == (1.5, 0.2)
    assert again["extra"] == {"note": "a", "other": 1}
    listed = api.call("GET", f"/metrics?session_id={s['id']}", expect=200)
    assert (listed["count"], listed["session_id"]) == (1, s["id"])


def test_post_metrics_batch_writes_every_row(api: Api, session: Session) -> None:
    s = session()
    rows = [{"epoch": e, "map50": e / 10, "box_loss": 2.0 - e / 10} for e in range(5)]
    written = api.call(
        "POST", "/metrics", json={"session_id": s["id"], "metrics": rows}, expect=200
    )
    assert written["count"] == 5
    listed = api.call("GET", f"/metrics?session_id={s['id']}", expect=200)
    assert [(m["epoch"], m["map50"]) for m in listed["metrics"]] == [
        (r["epoch"], r["map50"]) for r in rows
    ]


def test_active_lists_running_sessions_with_their_latest_epoch(api: Api, session: Session) -> None:
    running, pending = session(), session(status="pending")
    for epoch in (0, 1):
        api.call(
            "POST",
            "/metrics",
            json={"session_id": running["id"], "epoch": epoch, "map50": 0.3 + epoch / 10},
            expect=200,
        )
    active = api.call("GET", "/active", expect=200)
    by_id = {row["id"]: row for row in active["sessions"]}
    assert pending["id"] not in by_id
    assert (by_id[running["id"]]["latest_epoch"], by_id[running["id"]]["map50"]) == (1, 0.4)
    assert active["count"] == len(active["sessions"])


def test_leaderboard_ranks_completed_models_and_takes_a_limit(api: Api, session: Session) -> None:
    ids = []
    for value in (0.3, 0.9, 0.6):
        s = session()
        api.call(
            "PATCH",
            f"/sessions/{s['id']}",
            expect=200,
            json={"status": "completed", "final_map50_95": value, "final_map50": value},
        )
        ids.append(s["id"])
    board = api.call("GET", "/leaderboard", expect=200)["leaderboard"]
    ours = [row["id"] for row in board if row["id"] in ids]
    assert ours == [ids[1], ids[2], ids[0]]
    assert [row["rank"] for row in board] == sorted(row["rank"] for row in board)
    assert api.call("GET", "/leaderboard?limit=2", expect=200)["count"] == min(2, len(board))


def test_openapi_document_is_served_as_in_the_repository(api: Api) -> None:
    assert api.call("GET", "/openapi.json", expect=200) == document()


def test_deployed_path_prefix_reaches_the_same_routes(api: Api, session: Session) -> None:
    s = session()
    base = api.url.removesuffix("/api/training")
    response = api.http.get(f"{base}/training-api/sessions/{s['id']}", timeout=10)
    assert response.status_code == 200 and response.json()["session"]["id"] == s["id"]


def test_cors_preflight_is_answered(api: Api) -> None:
    response = api.request("OPTIONS", "/sessions", headers={"Origin": "http://example.org"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "authorization" in response.headers["access-control-allow-headers"]
