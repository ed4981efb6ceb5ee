"""Fixtures of the REST API tests: the ``training-api`` function under Deno on a real database.

One database and one Deno server per test module (``api``); tests create their own sessions,
so they do not see each other's rows except in lists, where they look for their own ids.
Every answer goes through :meth:`Api.call`, which checks it against the OpenAPI document.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import psycopg
import pytest
from conftest import PgServer, create_database, drop_database
from psycopg.rows import dict_row

from mltrack_sdk.api_server import ApiServer, find_deno
from mltrack_sdk.errors import NotConfiguredError

from .openapi import Api

JWT_SECRET = "mltrack-api-test-secret-of-at-least-32-characters"
_counter = itertools.count()


def token(
    role: str,
    sub: str | None = None,
    *,
    secret: str = JWT_SECRET,
    expires_in: int = 3600,
    **claims: Any,
) -> str:
    """A JWT as Supabase Auth issues it (HS256, ``role``, ``sub``, ``exp``)."""
    payload: dict[str, Any] = {"role": role, "exp": int(time.time()) + expires_in, **claims}
    if sub is not None:
        payload["sub"] = sub
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.fixture(scope="session")
def deno() -> str:
    """The deno executable; without one the API tests cannot run (``make node`` installs it)."""
    try:
        return find_deno()
    except NotConfiguredError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the REST API tests: {exc.message}")
        pytest.skip(exc.message)


@pytest.fixture(scope="module")
def api_db_url(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """A fresh migrated database for this test module (superuser URL)."""
    name = f"api_{os.getpid()}_{next(_counter)}"
    url = create_database(pg_server, name, template=template_db)
    yield url
    drop_database(pg_server, name)


@pytest.fixture(scope="module")
def api(api_db_url: str, deno: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The function as ``mltrack api`` serves it (no token: the local service role; tokens
    verified with :data:`JWT_SECRET`), on a free port."""
    log = tmp_path_factory.mktemp("deno") / "stderr.log"
    with ApiServer(api_db_url, port=0, jwt_secret=JWT_SECRET, log=log) as server:
        yield Api(server.url, api_db_url)


@pytest.fixture
def db(api_db_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """Autocommit superuser connection to the API's database: to look behind the API."""
    with psycopg.connect(api_db_url, autocommit=True, row_factory=dict_row) as c:
        yield c


@pytest.fixture
def new_user(db: psycopg.Connection[dict[str, Any]]) -> Callable[[], tuple[str, str]]:
    """``new_user() -> (user_id, access_token)``: a user of Supabase Auth (owner_id references
    auth.users) and a token for it."""

    def make() -> tuple[str, str]:
        user_id = str(uuid.uuid4())
        db.execute("insert into auth.users (id, email) values (%s, %s)", (user_id, f"{user_id}@x"))
        return user_id, token("authenticated", user_id)

    return make


@pytest.fixture
def session(api: Api) -> Callable[..., dict[str, Any]]:
    """``session(**fields) -> row``: a session created through POST /sessions (as the local
    service role unless ``token=`` is given), ``running`` unless ``status=`` says otherwise."""

    def make(token: str | None = None, status: str = "running", **fields: Any) -> dict[str, Any]:
        body = {"session_name": "api test", "model_type": "yolov8n", "epochs": 10, **fields}
        if status == "running":
            created = api.call("POST", "/sessions", json=body, token=token, expect=201)
            return api.call(
                "PATCH",
                f"/sessions/{created['session']['id']}",
                json={"status": "running"},
                token=token,
                expect=200,
            )["session"]
        body["status"] = status
        return api.call("POST", "/sessions", json=body, token=token, expect=201)["session"]

    return make
