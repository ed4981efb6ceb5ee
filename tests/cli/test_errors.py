"""Every command's error exits: the database unreachable or misnamed (one red line naming the
URL it tried, password hidden), nothing configured, and malformed ids (typer's usage, exit 2)."""

from __future__ import annotations

import pytest
from conftest import with_dbname

from mltrack_sdk.cli import redact_url
from mltrack_sdk.testing.postgres import free_port

from .support import assert_red_line, assert_usage_error, invoke

ID = "6f1c0a2e-7b7d-4c55-9a43-0c6f3a1d2b10"
OTHER = "91d2c3b4-1111-4222-8333-444455556666"

#: Every command that reads or writes the database.
DATABASE_COMMANDS = [
    ["sessions", "list"],
    ["sessions", "show", ID],
    ["metrics", ID],
    ["compare", ID, OTHER],
    ["stop", ID],
    ["leaderboard"],
    ["datasets"],
    ["sweeps", "list"],
    ["sweeps", "show", ID],
    ["watch"],
    ["watch", "--once"],
    ["db", "migrate"],
]

#: Every command that takes ids.
ID_COMMANDS = [
    ["sessions", "show"],
    ["metrics"],
    ["compare", ID],
    ["stop"],
    ["sweeps", "show"],
    ["watch"],
]


@pytest.fixture(scope="module")
def nowhere() -> str:
    """A URL with a password where nothing listens."""
    return f"postgresql://tracker:s3cret-pw@127.0.0.1:{free_port()}/mltrack"


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_unreachable_database_is_one_line_with_the_url(command: list[str], nowhere: str) -> None:
    result = invoke(*command, "--database-url", nowhere)
    port = nowhere.rsplit(":", 1)[1].split("/")[0]
    assert_red_line(
        result, f"postgresql://tracker:***@127.0.0.1:{port}/mltrack", "Connection refused"
    )
    assert "s3cret-pw" not in result.stderr


def test_the_url_from_the_environment_is_named_too(nowhere: str) -> None:
    result = invoke("leaderboard", env={"MLTRACK_DATABASE_URL": nowhere})
    assert_red_line(result, "cannot reach the database", "tracker:***@127.0.0.1")
    assert "s3cret-pw" not in result.stderr


def test_a_database_that_does_not_exist_is_named(db_url: str) -> None:
    missing = with_dbname(db_url, "no_such_database_xyz")
    assert_red_line(invoke("sessions", "list", "--database-url", missing), "no_such_database_xyz")


def test_nothing_configured_says_what_to_do() -> None:
    result = invoke("sessions", "list")
    assert_red_line(result, "no database configured", "mltrack up", "MLTRACK_DATABASE_URL")


@pytest.mark.parametrize("command", ID_COMMANDS, ids=" ".join)
def test_malformed_ids_are_usage_errors(command: list[str]) -> None:
    assert_usage_error(invoke(*command, "6f1c0a2e"), "Invalid value", "UUID")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://me:secret@db:5432/x", "postgresql://me:***@db:5432/x"),
        (
            "postgres://me:p%40ss:word@db/x?sslmode=require",
            "postgres://me:***@db/x?sslmode=require",
        ),
        ("postgresql://me@db/x", "postgresql://me@db/x"),
        (
            "postgresql://u@h/db?password=xyz&sslmode=disable",
            "postgresql://u@h/db?password=***&sslmode=disable",
        ),
        ("host=db password=secret port=5432", "host=db password=*** port=5432"),
        ("host=db password='two words'", "host=db password=***"),
        ("https://abcd.supabase.co", "https://abcd.supabase.co"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown
