"""Tokens and row-level security: a bearer JWT (HS256, the project's secret) decides the role and
claims of each request's transaction, so the API refuses exactly what PostgREST would."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest

from mltrack_sdk.api_server import ApiServer

from .conftest import JWT_SECRET, token
from .openapi import Api

Session = Callable[..., dict[str, Any]]
NewUser = Callable[[], tuple[str, str]]


@pytest.fixture(scope="module")
def deployed(api_db_url: str, deno: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The function as Supabase deploys it (index.ts): no token, no answer."""
    log = tmp_path_factory.mktemp("deployed") / "stderr.log"
    with ApiServer(api_db_url, port=0, jwt_secret=JWT_SECRET, require_token=True, log=log) as s:
        yield Api(s.url, api_db_url)


def unsigned(payload: dict[str, Any]) -> str:
    """A token with ``alg: none`` (no signature), as an attacker would send."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


ROUTES = [
    ("GET", "/sessions", None),
    ("POST", "/sessions", {"session_name": "x", "model_type": "m", "epochs": 1}),
    ("GET", f"/sessions/{uuid.uuid4()}", None),
    ("PATCH", f"/sessions/{uuid.uuid4()}", {"status": "running"}),
    ("POST", "/metrics", {"session_id": str(uuid.uuid4()), "epoch": 0}),
    ("GET", f"/metrics?session_id={uuid.uuid4()}", None),
    ("GET", "/active", None),
    ("GET", "/leaderboard", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_deployed_every_route_needs_a_token(
    deployed: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    error = deployed.error(
        method, path, json=body, expect=401, code="PGRST302", field="authorization"
    )
    assert "no bearer token" in error["message"]


def test_deployed_serves_its_document_and_a_valid_token(deployed: Api) -> None:
    assert deployed.call("GET", "/openapi.json", expect=200)["openapi"] == "3.1.0"
    listed = deployed.call("GET", "/sessions", token=token("service_role"), expect=200)
    assert listed["success"] is True


BAD_TOKENS: list[tuple[str, Callable[[], str], str, str]] = [
    (
        "forged",
        lambda: token("service_role", secret="not-the-project-secret-but-long-enough"),
        "PGRST301",
        "signature does not match",
    ),
    ("expired", lambda: token("service_role", expires_in=-60), "PGRST303", "JWT expired"),
    (
        "unsigned",
        lambda: unsigned({"role": "service_role"}),
        "PGRST301",
        "must be signed with HS256",
    ),
    (
        "HS384",
        lambda: jwt.encode({"role": "service_role"}, JWT_SECRET, algorithm="HS384"),
        "PGRST301",
        "must be signed with HS256",
    ),
    ("not a JWT", lambda: "abc", "PGRST301", "not a JWT"),
    ("superuser role", lambda: token("postgres"), "PGRST301", "role must be anon, authenticated"),
    (
        "no role",
        lambda: jwt.encode({"sub": str(uuid.uuid4())}, JWT_SECRET, algorithm="HS256"),
        "PGRST301",
        "role must be",
    ),
    ("user without id", lambda: token("authenticated", "me"), "PGRST301", "sub must be"),
    ("not yet valid", lambda: token("service_role", nbf=4102444800), "PGRST301", "not valid yet"),
]


@pytest.mark.parametrize(
    ("kind", "make", "code", "says"), BAD_TOKENS, ids=[t[0] for t in BAD_TOKENS]
)
def test_bad_tokens_are_401_locally_and_deployed(
    api: Api, deployed: Api, kind: str, make: Callable[[], str], code: str, says: str
) -> None:
    for server in (api, deployed):
        error = server.error(
            "GET", "/sessions", token=make(), expect=401, code=code, field="authorization"
        )
        assert says in error["message"], (kind, error)


def test_a_header_that_is_not_bearer_is_401(api: Api) -> None:
    error = api.error(
        "GET",
        "/active",
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
        expect=401,
        code="PGRST301",
        field="authorization",
    )
    assert "Bearer" in error["message"]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_anon_gets_nothing(
    api: Api, db: psycopg.Connection[Any], method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = db.execute("select count(*) as n from training_sessions").fetchone()
    api.error(method, path, json=body, token=token("anon"), expect=403, code="42501")
    assert db.execute("select count(*) as n from training_sessions").fetchone() == before


def test_a_user_owns_what_it_creates_and_writes_it(api: Api, new_user: NewUser) -> None:
    user_id, user = new_user()
    body = {"session_name": "mine", "model_type": "yolov8n", "epochs": 5}
    s = api.call("POST", "/sessions", json=body, token=user, expect=201)["session"]
    assert s["owner_id"] == user_id
    api.call("PATCH", f"/sessions/{s['id']}", json={"status": "running"}, token=user, expect=200)
    api.call(
        "POST",
        "/metrics",
        token=user,
        expect=200,
        json={"session_id": s["id"], "epoch": 0, "map50": 0.4, "map50_95": 0.3},
    )
    done = api.call(
        "PATCH", f"/sessions/{s['id']}", json={"status": "completed"}, token=user, expect=200
    )
    assert (done["session"]["status"], done["session"]["final_map50"]) == ("completed", 0.4)


def with_metrics(db: psycopg.Connection[Any], session_id: str) -> Any:
    """The session's row with its metrics, as stored."""
    return db.execute(
        "select s.*, (select json_agg(m order by epoch) from training_metrics m"
        " where m.session_id = s.id) as metrics from training_sessions s where s.id = %s",
        (session_id,),
    ).fetchone()


def test_one_user_cannot_patch_or_log_to_another_users_session(
    api: Api, new_user: NewUser, session: Session, db: psycopg.Connection[Any]
) -> None:
    _, alice = new_user()
    _, bob = new_user()
    s = session(token=alice)
    api.call(
        "POST",
        "/metrics",
        json={"session_id": s["id"], "epoch": 0, "map50": 0.1},
        token=alice,
        expect=200,
    )
    before = with_metrics(db, s["id"])
    # Bob reads every session of the project...
    assert (
        api.call("GET", f"/sessions/{s['id']}", token=bob, expect=200)["session"]["id"] == s["id"]
    )
    assert api.call("GET", f"/metrics?session_id={s['id']}", token=bob, expect=200)["count"] == 1
    # ...and writes none of Alice's.
    refusals = [
        ("PATCH", f"/sessions/{s['id']}", {"status": "cancelled"}),
        ("PATCH", f"/sessions/{s['id']}", {"stop_requested": True}),
        ("POST", "/metrics", {"session_id": s["id"], "epoch": 0, "map50": 0.9}),
        ("POST", "/metrics", {"session_id": s["id"], "metrics": [{"epoch": 1, "map50": 0.9}]}),
    ]
    for method, path, body in refusals:
        error = api.error(
            method, path, json=body, token=bob, expect=403, code="MT006", field="session_id"
        )
        assert "belongs to another user" in error["message"]
    after = with_metrics(db, s["id"])
    assert after == before


def test_a_user_cannot_create_a_session_for_another_user(api: Api, new_user: NewUser) -> None:
    _, alice = new_user()
    bob_id, _ = new_user()
    body = {"session_name": "x", "model_type": "m", "epochs": 1, "owner_id": bob_id}
    api.error(
        "POST", "/sessions", json=body, token=alice, expect=403, code="MT006", field="owner_id"
    )


def test_the_service_role_writes_any_users_session(
    api: Api, new_user: NewUser, session: Session
) -> None:
    _, alice = new_user()
    s = session(token=alice)
    for service in (token("service_role"), None):  # its key, or no token on `mltrack api`
        api.call(
            "POST",
            "/metrics",
            json={"session_id": s["id"], "epoch": 1, "map50": 0.2},
            token=service,
            expect=200,
        )
    stopped = api.call(
        "PATCH",
        f"/sessions/{s['id']}",
        json={"stop_requested": True},
        token=token("service_role"),
        expect=200,
    )
    assert stopped["session"]["stop_requested"] is True


def test_one_connection_carries_no_caller_over_to_the_next_request(
    api_db_url: str, deno: str, new_user: NewUser, tmp_path: Path
) -> None:
    """With a pool of one connection every request reuses it: the role and claims of one
    request (and a failed transaction) must be gone by the next."""
    user_id, user = new_user()
    body = {"session_name": "one connection", "model_type": "m", "epochs": 3}
    with ApiServer(
        api_db_url, port=0, jwt_secret=JWT_SECRET, pool_size=1, log=tmp_path / "deno.log"
    ) as server:
        api = Api(server.url, api_db_url)
        mine = api.call("POST", "/sessions", json=body, token=user, expect=201)["session"]
        service = api.call("POST", "/sessions", json=body, expect=201)["session"]
        assert (mine["owner_id"], service["owner_id"]) == (user_id, None)
        api.error("GET", "/sessions", token=token("anon"), expect=403, code="42501")
        api.error(
            "POST",
            "/sessions",
            json={**body, "epochs": 0},
            expect=400,
            code="MT001",
            field="epochs",
        )
        api.call("PATCH", f"/sessions/{mine['id']}", json={"status": "running"}, expect=200)
        api.error(
            "PATCH",
            f"/sessions/{service['id']}",
            json={"status": "running"},
            token=user,
            expect=403,
            code="MT006",
            field="session_id",
        )
