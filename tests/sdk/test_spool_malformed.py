"""Fault injection for the spool, corrupted files: malformed records of every kind and torn
last lines. Each good record is still replayed, in order, to the real test database; each bad one
goes to the dead-letter file with its reason."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mltrack_sdk as mlt
from mltrack_sdk import spool as spool_module
from mltrack_sdk.cli import app
from mltrack_sdk.spool import Spool
from mltrack_sdk.transports.postgres import PostgresTransport
from tests.sdk.spool_support import (
    epoch_call,
    epochs_in,
    line,
    new_id,
    query,
    start_call,
    write_spool,
)

CLI_ENV = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"}
MIGRATIONS = Path(__file__).resolve().parents[2] / "supabase" / "migrations"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    for name in ("MLTRACK_DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


@pytest.fixture
def transport(db_url: str) -> Iterator[PostgresTransport]:
    t = PostgresTransport(db_url)
    yield t
    t.close()


def test_the_spool_knows_every_function_of_the_sql_api() -> None:
    """A spooled call of a function outside API_FUNCTIONS is malformed: the list must follow the
    migrations, or calls of a new function would be dead-lettered instead of sent."""
    created = set()
    for migration in MIGRATIONS.glob("*.sql"):
        text = migration.read_text(encoding="utf-8")
        created |= set(re.findall(r"create (?:or replace )?function public\.(\w+)", text, re.I))
    assert created == spool_module.API_FUNCTIONS


# -- malformed records ---------------------------------------------------------------------

#: (id, the bad line ({sid} is the session's id), how many malformed records it holds)
MALFORMED = [
    ("number", b"42\n", 1),
    ("array", b"[1, 2]\n", 1),
    ("string", b'"log_epochs"\n', 1),
    ("null", b"null\n", 1),
    ("no-args", b'{"function": "log_epochs"}\n', 1),
    ("no-function", b'{"args": {}}\n', 1),
    ("function-not-text", b'{"function": 7, "args": {}}\n', 1),
    ("unknown-function", b'{"function": "nope", "args": {}}\n', 1),
    ("args-not-object", b'{"function": "log_epochs", "args": 5}\n', 1),
    (
        "metrics-not-array",
        b'{"function": "log_epochs", "args": {"session_id": "{sid}", "metrics": "abc"}}\n',
        1,
    ),
    (
        "row-not-object",
        b'{"function": "log_epochs", "args": {"session_id": "{sid}", "metrics": [1]}}\n',
        1,
    ),
    (
        "row-without-epoch",
        b'{"function": "log_epochs", "args": {"session_id": "{sid}",'
        b' "metrics": [{"box_loss": 1.0}]}}\n',
        1,
    ),
    (
        "epoch-not-integer",
        b'{"function": "log_epochs", "args": {"session_id": "{sid}",'
        b' "metrics": [{"epoch": [1]}]}}\n',
        1,
    ),
    (
        "extra-not-object",
        b'{"function": "log_epochs", "args": {"session_id": "{sid}",'
        b' "metrics": [{"epoch": 1, "extra": 3}]}}\n',
        1,
    ),
    ("object-for-uuid", b'{"function": "heartbeat", "args": {"session_id": {"a": 1}}}\n', 1),
    ("nul-in-text", b'{"function": "heartbeat", "args": {"session_id": "a\\u0000b"}}\n', 1),
    ("invalid-utf8", b'{"function": "heartbeat", "args": {"session_id": "\xff\xfe"}}\n', 1),
    ("nul-bytes", b"\x00\x00\x00\x00\n", 1),
    ("cut-short", b'{"function": "log_epochs", "args": {"sess\n', 1),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000 + b"\n", 1),
    ("several", b'42\n{"function": "nope", "args": {}}\n\xc3\x28\n', 3),
    ("empty-lines", b"\n\n   \n\r\n", 0),
]


@pytest.mark.parametrize(
    ("bad", "malformed"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_a_malformed_record_is_dead_lettered_and_the_rest_replayed(
    db_url: str, transport: PostgresTransport, bad: bytes, malformed: int
) -> None:
    sid = new_id()
    bad = bad.replace(b"{sid}", sid.encode())
    good = [start_call(sid), *(epoch_call(sid, e) for e in range(5))]
    path = write_spool(sid, b"".join(map(line, good[:3])) + bad + b"".join(map(line, good[3:])))
    other = new_id()  # a later file: replay_all goes on past the bad one
    write_spool(other, line(start_call(other)) + line(epoch_call(other, 0)))
    os.utime(Spool().path(other), (path.stat().st_mtime + 1,) * 2)

    result = Spool().replay_all(transport)

    assert (result.sent, result.dead, result.malformed) == (8, 0, malformed)
    assert epochs_in(db_url, sid) == [0, 1, 2, 3, 4]
    assert epochs_in(db_url, other) == [0]
    assert not path.exists()
    dead = Spool().dead_letters()
    assert len(dead) == malformed
    assert len(result.errors or []) == malformed
    raw_lines = [raw for raw in bad.split(b"\n") if raw.strip()]
    for entry, raw in zip(dead, raw_lines, strict=True):
        assert entry["error"].startswith("malformed spool record: ")
        assert entry["raw"] == raw.decode("utf-8", errors="backslashreplace")
        assert entry["function"] is None and entry["args"] is None
        assert entry["file"] == path.name
    for message in result.errors or []:
        assert message.startswith(f"malformed spool record ({path.name}, line ")
    # Reported, never retried as a call: it stays in the dead-letter file.
    retried = Spool().retry_dead_letters(transport)
    assert (retried.sent, retried.dead, retried.malformed) == (0, 0, malformed)
    assert len(Spool().dead_letters()) == malformed


@pytest.mark.parametrize(
    "bad",
    [
        b"42\n",
        b'{"function": "log_epochs"}\n',
        b'{"function": "nope", "args": {}}\n',
        b'{"function": "log_epochs", "args": 5}\n',
        b"\xff\xfe\xfd\n",
    ],
    ids=["number", "no-args", "unknown-function", "args-not-object", "invalid-utf8"],
)
def test_the_next_start_session_survives_a_malformed_spool(db_url: str, bad: bytes) -> None:
    earlier = new_id()
    write_spool(earlier, line(start_call(earlier)) + bad + line(epoch_call(earlier, 0, 1)))
    with mlt.start_session("later", model_type="yolov8n", epochs=50, database_url=db_url) as run:
        for epoch in range(50):
            run.log_epoch(epoch, box_loss=1.0 / (epoch + 1))
    assert epochs_in(db_url, run.id) == list(range(50))
    row = query(db_url, "select status from training_sessions where id = %s", run.id)[0]
    assert row["status"] == "completed"
    assert epochs_in(db_url, earlier) == [0, 1]
    assert not Spool().has_pending(earlier)
    assert [d["error"][:24] for d in Spool().dead_letters()] == ["malformed spool record: "]


def test_sync_reports_malformed_records(db_url: str) -> None:
    sid = new_id()
    write_spool(sid, line(start_call(sid)) + b"42\n" + line(epoch_call(sid, 0)) + b"\xff\n")
    done = CliRunner(env=CLI_ENV).invoke(app, ["sync", "--database-url", db_url])
    assert done.exit_code == 0, done.output
    assert "Replayed 2 call(s)." in done.output
    assert f"2 malformed spool record(s) could not be replayed: see {Spool().dead_letter_path}" in (
        done.output
    )
    assert "expected a JSON object" in done.output and "not UTF-8" in done.output
    assert epochs_in(db_url, sid) == [0]

    retried = CliRunner(env=CLI_ENV).invoke(
        app, ["sync", "--database-url", db_url, "--dead-letters"]
    )
    assert retried.exit_code == 0, retried.output
    assert "Retried dead letters: 0 sent, 0 rejected again." in retried.output
    assert f"2 malformed dead letter(s) kept in {Spool().dead_letter_path}" in retried.output


def test_spooled_start_skips_malformed_records() -> None:
    sid = new_id()
    write_spool(
        sid, b'42\n{"function": "start_session", "args": 5}\n\xff\n' + line(start_call(sid))
    )
    assert Spool().spooled_start(sid) == start_call(sid)["args"]
    only_bad = new_id()
    write_spool(only_bad, b'[1]\n{"function": "start_session"}\n')
    assert Spool().spooled_start(only_bad) is None
    assert Spool().spooled_start(new_id()) is None  # no file at all


def test_malformed_dead_letters_stay_and_are_reported(
    db_url: str, transport: PostgresTransport
) -> None:
    sid = str(transport.rpc("start_session", start_call(new_id())["args"])["id"])
    good = {
        "at": "2026-01-01T00:00:00+0000",
        "error": "an old message",
        "sqlstate": "MT005",
        "function": "log_epochs",
        "args": epoch_call(sid, 3)["args"],
    }
    bad = [
        b"42",
        b'{"function": "log_epochs", "args": 5, "error": "x"}',
        b"\xff\xfe garbage",
        b'{"no": "call"}',
        b"\x00\x00",
    ]
    torn = b'{"function": "heartbeat", "ar'
    content = b"\n".join([bad[0], line(good).rstrip(b"\n"), *bad[1:]]) + b"\n" + torn
    Spool().root.mkdir(parents=True)
    Spool().dead_letter_path.write_bytes(content)

    listed = Spool().dead_letters()
    assert len(listed) == 7
    for entry in listed:
        assert {"at", "error", "sqlstate", "function", "args"} <= entry.keys()
    assert listed[0]["error"].startswith("malformed dead-letter entry: ")
    assert listed[0]["raw"] == "42"
    assert listed[1] == good
    assert listed[3]["raw"] == "\\xff\\xfe garbage"
    assert listed[6]["raw"] == torn.decode()

    result = Spool().retry_dead_letters(transport)
    assert (result.sent, result.dead, result.malformed) == (1, 0, 6)
    assert len(result.errors or []) == 6
    assert epochs_in(db_url, sid) == [3]
    # What could not be retried stays byte for byte (the torn tail now ends its line).
    assert Spool().dead_letter_path.read_bytes() == b"\n".join([*bad, torn]) + b"\n"


# -- torn last lines -----------------------------------------------------------------------

TORN = [
    b'{"function": "log_epochs", "args": {"session_id": "',
    b"\xe2\x82",
    b'{"function": "heartbeat"',
    b"4",
]


@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "one-batch"])
@pytest.mark.parametrize("torn", TORN, ids=["mid-string", "mid-utf8", "mid-object", "number"])
def test_a_torn_last_line_does_not_swallow_later_appends(
    db_url: str, transport: PostgresTransport, torn: bytes, batched: bool
) -> None:
    sid = new_id()
    spool = Spool()
    spool.append(sid, [start_call(sid)])
    with open(spool.path(sid), "ab") as f:  # a crash mid-write: no newline
        f.write(torn)
    if batched:
        spool.append(sid, [epoch_call(sid, e) for e in range(10)])
    else:
        for epoch in range(10):
            spool.append(sid, [epoch_call(sid, epoch)])
    result = spool.replay_all(transport)
    assert epochs_in(db_url, sid) == list(range(10))
    assert (result.sent, result.malformed) == (11, 1)
    [dead] = spool.dead_letters()
    assert dead["error"].startswith("malformed spool record: ")
    assert dead["raw"] == torn.decode("utf-8", errors="backslashreplace")


def test_a_torn_last_line_at_replay_is_reported_and_the_rest_sent(
    db_url: str, transport: PostgresTransport
) -> None:
    sid = new_id()
    path = write_spool(sid, line(start_call(sid)) + line(epoch_call(sid, 0)) + b'{"function": "l')
    result = Spool().replay(transport, sid)
    assert (result.sent, result.malformed) == (2, 1)
    assert "torn last line" in Spool().dead_letters()[0]["error"]
    assert epochs_in(db_url, sid) == [0]
    assert not path.exists()


def test_a_whole_last_record_without_its_newline_is_replayed(
    db_url: str, transport: PostgresTransport
) -> None:
    sid = new_id()
    write_spool(sid, line(start_call(sid)) + line(epoch_call(sid, 0)).rstrip(b"\n"))
    Spool().append(sid, [epoch_call(sid, 1)])
    result = Spool().replay(transport, sid)
    assert (result.sent, result.malformed) == (3, 0)
    assert epochs_in(db_url, sid) == [0, 1]
    assert not Spool().dead_letter_path.exists()
