"""The OpenAPI document of the REST API, and a client that checks every answer against it."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import requests
from jsonschema import Draft202012Validator

DOC_PATH = (
    Path(__file__).resolve().parents[2] / "supabase" / "functions" / "training-api" / "openapi.json"
)
METHODS = ("get", "post", "patch", "put", "delete")


@cache
def document() -> dict[str, Any]:
    """The document in the repository (what the function serves)."""
    return json.loads(DOC_PATH.read_text(encoding="utf-8"))


def operations() -> list[tuple[str, str]]:
    """Every (METHOD, path template) the document declares."""
    return [
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in METHODS
        if method in item
    ]


def template_of(path: str) -> str | None:
    """The document's path template that ``path`` (under the server URL) matches."""
    for template in document()["paths"]:
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path.split("?")[0]):
            return template
    return None


def validate(schema: dict[str, Any], value: Any) -> None:
    """Raise jsonschema's ValidationError unless ``value`` matches ``schema`` (whose
    ``#/components/...`` references resolve in the document)."""
    root = {**schema, "components": document()["components"]}
    Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(value)


def check_answer(method: str, path: str, status: int, body: Any) -> None:
    """Fail unless the document declares this answer: the route, the method, the status and
    the body's shape (an undeclared route or method must be refused as such)."""
    template = template_of(path)
    error_schema = {"$ref": "#/components/schemas/Error"}
    if template is None:
        assert status == 404 and body["error"]["code"] == "PGRST125", (path, status, body)
        validate(error_schema, body)
        return
    operation = document()["paths"][template].get(method.lower())
    if operation is None:
        assert status == 405 and body["error"]["code"] == "PGRST117", (method, path, status, body)
        validate(error_schema, body)
        return
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {template} answered {status}, not documented"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    validate(schema, body)


class Api:
    """The API at ``url`` (``http://127.0.0.1:PORT/api/training``) and its database."""

    def __init__(self, url: str, db_url: str) -> None:
        self.url = url
        self.db_url = db_url
        self.http = requests.Session()

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """The raw answer (``path`` is under ``url``: ``/sessions``)."""
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def call(self, method: str, path: str, *, expect: int, **kwargs: Any) -> Any:
        """The JSON answer, after checking its status and its shape against the document."""
        response = self.request(method, path, **kwargs)
        assert response.status_code == expect, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        check_answer(method, path, response.status_code, body)
        return body

    def error(
        self,
        method: str,
        path: str,
        *,
        expect: int,
        code: str,
        field: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``error`` object of a refused request, checked: its status, code and field."""
        body = self.call(method, path, expect=expect, **kwargs)
        assert body["success"] is False
        error = body["error"]
        assert (error["code"], error["field"]) == (code, field), error
        assert error["message"]
        return error
