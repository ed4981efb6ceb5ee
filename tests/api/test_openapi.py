"""The OpenAPI 3.1 document and the function agree: the function's routes are the document's
paths (it builds its routing table from them), every documented operation answers with a
documented status and shape, nothing else is routed, and the document itself is sound."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from .openapi import DOC_PATH, METHODS, Api, document, operations

Session = Callable[..., dict[str, Any]]


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "$ref"] + [
            r for v in value.values() for r in refs(v)
        ]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


def test_the_document_is_sound() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1.")
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"], ref
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    ids = [doc["paths"][p][m]["operationId"] for m, p in ((m.lower(), p) for m, p in operations())]
    assert len(ids) == len(set(ids))
    for method, path in operations():
        item = doc["paths"][path]
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), (method, path)
        for status, response in item[method.lower()]["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", status)
            assert "application/json" in response["content"], (method, path, status)


def test_every_documented_operation_is_served(api: Api, session: Session) -> None:
    s = session()
    bodies: dict[str, Any] = {
        "createSession": {"session_name": "doc", "model_type": "m", "epochs": 2},
        "updateSession": {"status": "cancelled"},
        "logMetrics": {"session_id": s["id"], "epoch": 1, "map50": 0.5},
    }
    for method, template in operations():
        operation = document()["paths"][template][method.lower()]
        path = template.replace("{id}", s["id"])
        if operation["operationId"] == "listMetrics":
            path += f"?session_id={s['id']}"
        body = bodies.get(operation["operationId"])
        success = next(code for code in operation["responses"] if code.startswith("2"))
        api.call(method, path, json=body, expect=int(success))  # checked against the document


@pytest.mark.parametrize("template", sorted(document()["paths"]))
def test_methods_the_document_does_not_declare_are_405(api: Api, template: str) -> None:
    path = template.replace("{id}", "00000000-0000-4000-8000-000000000000")
    declared = {m for m in METHODS if m in document()["paths"][template]}
    for method in sorted(set(METHODS) - declared):
        api.error(method.upper(), path, json={}, expect=405, code="PGRST117")


def test_the_function_type_checks_and_lints(deno: str) -> None:
    folder = DOC_PATH.parent
    for command in (["check", "index.ts", "local.ts"], ["lint"], ["fmt", "--check"]):
        done = subprocess.run(
            [deno, *command],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)


def test_the_readme_lists_exactly_the_documented_routes() -> None:
    readme = (DOC_PATH.parents[3] / "README.md").read_text(encoding="utf-8")
    table = readme.split("| route | what it does |", 1)[1].split("\n\n", 1)[0]
    listed = {tuple(line.split("`")[1].split(" ", 1)) for line in table.splitlines()[2:]}
    assert listed == set(operations())
