"""Each backend is one module that provides its transport (with its batch encoding) and its
change source; the rest of the SDK never asks which backend it has."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mltrack_sdk
from mltrack_sdk.connect import Target, backend_of
from mltrack_sdk.live_postgres import PostgresSource
from mltrack_sdk.transports import postgres, supabase

TARGETS = {
    "postgres": Target(database_url="postgresql://postgres@127.0.0.1:1/postgres"),
    "supabase": Target(supabase_url="http://127.0.0.1:1", supabase_key="key"),
}


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_a_backend_module_opens_its_transport_and_change_source(kind: str) -> None:
    target = TARGETS[kind]
    backend = backend_of(target)
    assert backend is {"postgres": postgres, "supabase": supabase}[kind]
    transport = backend.open_transport(target)
    try:
        assert transport.name == kind
        assert transport.batch_encoding == {"postgres": "columns", "supabase": "json"}[kind]
    finally:
        transport.close()
    source = backend.open_change_source(target, ["training_sessions"])
    expected = "PostgresSource" if kind == "postgres" else "RealtimeSource"
    assert type(source).__name__ == expected
    if kind == "postgres":
        assert isinstance(source, PostgresSource)


def test_only_the_backend_modules_know_which_backend_is_used() -> None:
    """No `transport.name == "postgres"` or isinstance checks of a transport class elsewhere."""
    package = Path(mltrack_sdk.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.parent.name == "transports":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(
                isinstance(c, ast.Constant) and c.value in ("postgres", "supabase")
                for c in node.comparators
            ):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
            if isinstance(node, ast.Name) and node.id in ("PostgresTransport", "SupabaseTransport"):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert found == []
