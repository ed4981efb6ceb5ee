"""Fault injection for the spool: corrupted files of every kind, short writes, a full or failing
disk, a failing rewrite and a read-only spool directory. Replays go to the real test database.

Faults are injected by replacing the ``os`` that :mod:`mltrack_sdk.spool` sees with a proxy that
overrides a few functions, so nothing else in the process is affected. (The tests run as root,
where ``chmod`` stops nothing, so read-only directories are injected too, or made with a path
under a regular file.)
"""

from __future__ import annotations

import errno
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

import mltrack_sdk as mlt
from mltrack_sdk import spool as spool_module
from mltrack_sdk.cli import app
from mltrack_sdk.errors import MltrackError
from mltrack_sdk.spool import Spool, SpoolWriteError
from mltrack_sdk.transports.base import TransportUnavailable
from mltrack_sdk.transports.postgres import PostgresTransport

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


class OsProxy:
    """The ``os`` module with some functions replaced (only :mod:`mltrack_sdk.spool` sees it)."""

    def __init__(self, **overrides: Callable[..., Any]) -> None:
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def inject(monkeypatch: pytest.MonkeyPatch, **overrides: Callable[..., Any]) -> None:
    monkeypatch.setattr(spool_module, "os", OsProxy(**overrides))


def heal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk works again (``monkeypatch.undo()`` would also undo ``MLTRACK_HOME``)."""
    monkeypatch.setattr(spool_module, "os", os)


def failing(code: int) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code))

    return fail


class FlakyTransport:
    """Sends ``ok`` calls through ``inner``, then the backend is gone."""

    name = "postgres"

    def __init__(self, inner: PostgresTransport, ok: int) -> None:
        self.inner = inner
        self.ok = ok

    def rpc(self, function: str, args: dict[str, Any]) -> Any:
        if self.ok <= 0:
            raise TransportUnavailable("cannot reach the database: injected outage")
        self.ok -= 1
        return self.inner.rpc(function, args)


def query(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as c:
        cur = c.execute(sql, params)
        return cur.fetchall() if cur.description else []


def epochs_in(url: str, session_id: str) -> list[int]:
    rows = query(
        url, "select epoch from training_metrics where session_id = %s order by epoch", session_id
    )
    return [r["epoch"] for r in rows]


def start_call(session_id: str) -> dict[str, Any]:
    return {
        "function": "start_session",
        "args": {
            "session_name": "faulty",
            "model_type": "yolov8n",
            "epochs": 60,
            "session_id": session_id,
        },
    }


def epoch_call(session_id: str, *epochs: int) -> dict[str, Any]:
    metrics = [{"epoch": e, "box_loss": 1.0 / (e + 1)} for e in epochs]
    return {"function": "log_epochs", "args": {"session_id": session_id, "metrics": metrics}}


def line(call: dict[str, Any]) -> bytes:
    return json.dumps(call, separators=(",", ":")).encode() + b"\n"


def new_id() -> str:
    return str(uuid.uuid4())


def write_spool(session_id: str, content: bytes) -> Path:
    path = Spool().path(session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


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


# -- short writes and a failing disk ----------------------------------------------------------


def test_short_writes_are_completed(
    db_url: str, transport: PostgresTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []

    def short(fd: int, data: bytes) -> int:
        chunk = bytes(data[:7])
        sizes.append(len(chunk))
        return os.write(fd, chunk)

    inject(monkeypatch, write=short)
    sid = new_id()
    calls = [start_call(sid), *(epoch_call(sid, e) for e in range(10))]
    Spool().append(sid, calls[:1])
    Spool().append(sid, calls[1:])
    heal(monkeypatch)
    assert len(sizes) > 20
    assert Spool().path(sid).read_bytes() == b"".join(map(line, calls))
    assert Spool().replay(transport, sid).sent == 11
    assert epochs_in(db_url, sid) == list(range(10))


def test_a_write_that_makes_no_progress_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    sid = new_id()
    Spool().append(sid, [start_call(sid)])
    before = Spool().path(sid).read_bytes()
    inject(monkeypatch, write=lambda fd, data: 0)
    with pytest.raises(SpoolWriteError):
        Spool().append(sid, [epoch_call(sid, 0)])
    assert Spool().path(sid).read_bytes() == before


CODES = [errno.ENOSPC, errno.EIO, errno.EROFS, errno.EACCES]
#: Bytes written before the error: none, one, part of a record, all but the last byte.
BUDGETS = [0, 1, 30, -1]


def failing_after(budget: int, code: int) -> Callable[[int, bytes], int]:
    """``os.write`` that writes ``budget`` bytes in all (short writes), then fails."""
    left = [budget]

    def write(fd: int, data: bytes) -> int:
        if left[0] <= 0:
            raise OSError(code, os.strerror(code))
        n = os.write(fd, bytes(data[: left[0]]))
        left[0] -= n
        return n

    return write


@pytest.mark.parametrize("budget", BUDGETS, ids=["none", "one", "part", "all-but-one"])
@pytest.mark.parametrize("code", CODES, ids=[errno.errorcode[c] for c in CODES])
@pytest.mark.parametrize("existing", [True, False], ids=["existing-file", "new-file"])
def test_a_failing_append_keeps_nothing_and_raises_spool_write_error(
    db_url: str,
    transport: PostgresTransport,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    budget: int,
    existing: bool,
) -> None:
    sid = new_id()
    spool = Spool()
    if existing:
        spool.append(sid, [start_call(sid)])
    else:
        transport.rpc("start_session", start_call(sid)["args"])
    before = spool.path(sid).read_bytes() if existing else None
    calls = [epoch_call(sid, e) for e in range(3)]
    size = len(b"".join(map(line, calls)))
    inject(monkeypatch, write=failing_after(size - 1 if budget < 0 else budget, code))

    with pytest.raises(SpoolWriteError) as info:
        spool.append(sid, calls)

    error = info.value
    assert isinstance(error, MltrackError)
    assert error.errno == code
    assert error.path == spool.path(sid)
    assert str(spool.path(sid)) in error.message and os.strerror(code) in error.message
    if existing:
        assert spool.path(sid).read_bytes() == before
    else:
        assert not spool.has_pending(sid)  # nothing kept: never reported as pending
    heal(monkeypatch)
    spool.append(sid, calls)  # the disk has room again
    result = spool.replay(transport, sid)
    assert (result.sent, result.malformed) == (len(calls) + existing, 0)
    assert epochs_in(db_url, sid) == [0, 1, 2]


@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC], ids=["EIO", "ENOSPC"])
def test_a_failing_fsync_keeps_nothing(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    sid = new_id()
    Spool().append(sid, [start_call(sid)])
    before = Spool().path(sid).read_bytes()
    inject(monkeypatch, fsync=failing(code))
    with pytest.raises(SpoolWriteError) as info:
        Spool().append(sid, [epoch_call(sid, 0)])
    assert info.value.errno == code
    assert Spool().path(sid).read_bytes() == before


@pytest.mark.parametrize("budget", [0, 10], ids=["none", "part"])
def test_a_failing_dead_letter_keeps_nothing_and_raises(
    monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    sid = new_id()
    Spool().dead_letter(epoch_call(sid, 0), "first", "MT001")
    before = Spool().dead_letter_path.read_bytes()
    inject(monkeypatch, write=failing_after(budget, errno.ENOSPC))
    with pytest.raises(SpoolWriteError) as info:
        Spool().dead_letter(epoch_call(sid, 1), "second", "MT001")
    assert info.value.path == Spool().dead_letter_path and info.value.errno == errno.ENOSPC
    assert Spool().dead_letter_path.read_bytes() == before


# -- a failing rewrite -----------------------------------------------------------------------


def no_space(monkeypatch: pytest.MonkeyPatch) -> None:
    inject(monkeypatch, write=failing(errno.ENOSPC), fsync=failing(errno.ENOSPC))


def test_a_failing_rewrite_after_an_outage_keeps_the_original_file(
    db_url: str, transport: PostgresTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_id()
    Spool().append(sid, [start_call(sid), epoch_call(sid, 0), start_call(sid), epoch_call(sid, 1)])
    path = Spool().path(sid)
    before = path.read_bytes()
    no_space(monkeypatch)
    with pytest.raises(TransportUnavailable):
        Spool().replay(FlakyTransport(transport, ok=2), sid)
    assert path.read_bytes() == before
    assert list(path.parent.glob("*.tmp")) == []
    heal(monkeypatch)
    # Sent again: the SQL API is idempotent.
    assert Spool().replay(transport, sid).sent == 4
    assert epochs_in(db_url, sid) == [0, 1]
    assert not path.exists() and list(path.parent.glob("*.tmp")) == []


def test_a_failing_rewrite_of_dead_letters_keeps_them(
    db_url: str, transport: PostgresTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = str(transport.rpc("start_session", start_call(new_id())["args"])["id"])
    for epoch in range(3):
        Spool().dead_letter(epoch_call(sid, epoch), "old", "MT001")
    path = Spool().dead_letter_path
    before = path.read_bytes()
    no_space(monkeypatch)
    with pytest.raises(TransportUnavailable):
        Spool().retry_dead_letters(FlakyTransport(transport, ok=1))
    assert path.read_bytes() == before
    assert list(path.parent.glob("*.tmp")) == []
    heal(monkeypatch)
    assert Spool().retry_dead_letters(transport).sent == 3
    assert epochs_in(db_url, sid) == [0, 1, 2]


def test_replay_on_a_full_disk_never_raises_and_loses_nothing(
    db_url: str, transport: PostgresTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_id()
    missing = new_id()
    content = (
        line(start_call(sid))
        + line(epoch_call(sid, 0))
        + b"42\n"  # malformed: cannot be moved to the dead-letter file
        + line({"function": "heartbeat", "args": {"session_id": missing}})  # rejected: MT005
        + line(epoch_call(sid, 1))
    )
    path = write_spool(sid, content)
    no_space(monkeypatch)

    result = Spool().replay_all(transport)

    assert result.sent == 3 and (result.dead, result.malformed) == (0, 0)
    assert any("No space left on device" in message for message in result.errors or [])
    assert epochs_in(db_url, sid) == [0, 1]
    assert path.read_bytes() == content  # the rewrite failed too: all of it is kept
    assert list(path.parent.glob("*.tmp")) == []
    assert not Spool().dead_letter_path.exists()

    heal(monkeypatch)
    again = Spool().replay_all(transport)
    assert (again.sent, again.dead, again.malformed) == (3, 1, 1)
    assert not path.exists()
    assert [d["sqlstate"] for d in Spool().dead_letters()] == [None, "MT005"]


# -- a read-only or unusable spool directory ------------------------------------------------


def test_a_spool_under_a_file_raises_spool_write_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    spool = Spool(blocker / "spool")
    sid = new_id()
    with pytest.raises(SpoolWriteError) as info:
        spool.append(sid, [start_call(sid)])
    assert str(blocker / "spool") in info.value.message
    with pytest.raises(SpoolWriteError):
        spool.dead_letter(start_call(sid), "rejected", "MT001")
    assert spool.pending() == [] and spool.dead_letters() == []
    assert spool.spooled_start(sid) is None


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES], ids=["EROFS", "EACCES"])
@pytest.mark.parametrize("target", [".lock", ".jsonl"])
def test_a_read_only_spool_raises_spool_write_error(
    monkeypatch: pytest.MonkeyPatch, code: int, target: str
) -> None:
    real_open = os.open

    def guarded(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith(target) and flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    sid = new_id()
    Spool().root.mkdir(parents=True)
    inject(monkeypatch, open=guarded)
    with pytest.raises(SpoolWriteError) as info:
        Spool().append(sid, [start_call(sid)])
    assert info.value.errno == code and os.strerror(code) in info.value.message
    assert not Spool().has_pending(sid)
    with pytest.raises(SpoolWriteError):
        Spool().dead_letter(start_call(sid), "rejected", "MT001")


def test_replay_on_a_read_only_spool_reports_instead_of_raising(
    db_url: str, transport: PostgresTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_id()
    Spool().append(sid, [start_call(sid), epoch_call(sid, 0)])
    before = Spool().path(sid).read_bytes()
    inject(monkeypatch, unlink=failing(errno.EROFS), replace=failing(errno.EROFS))
    result = Spool().replay_all(transport)
    assert result.sent == 2
    assert any("Read-only file system" in message for message in result.errors or [])
    assert Spool().path(sid).read_bytes() == before  # sent again later: idempotent
    assert epochs_in(db_url, sid) == [0]


def test_an_unencodable_call_raises_spool_write_error_and_keeps_nothing() -> None:
    sid = new_id()
    with pytest.raises(SpoolWriteError, match="not JSON serializable"):
        Spool().append(sid, [start_call(sid), {"function": "heartbeat", "args": {"x": object()}}])
    assert not Spool().has_pending(sid)
    with pytest.raises(SpoolWriteError):
        Spool().dead_letter({"function": "heartbeat", "args": {"x": object()}}, "rejected")
    assert not Spool().dead_letter_path.exists()


def test_an_unreadable_spool_file_is_reported_and_the_others_replayed(
    db_url: str, transport: PostgresTransport
) -> None:
    unreadable = Spool().path(new_id())
    unreadable.mkdir(parents=True)  # reading it fails with EISDIR
    sid = new_id()
    Spool().append(sid, [start_call(sid), epoch_call(sid, 0)])
    result = Spool().replay_all(transport)
    assert result.sent == 2
    assert [m for m in result.errors or [] if str(unreadable) in m and "Is a directory" in m]
    assert epochs_in(db_url, sid) == [0]
