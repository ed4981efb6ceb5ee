"""Fault injection for the spool: short writes, a full or failing disk, a failing rewrite and a
read-only spool directory. Replays go to the real test database.

Faults are injected by replacing the ``os`` that :mod:`mltrack_sdk.spool` sees with a proxy that
overrides a few functions, so nothing else in the process is affected. (The tests run as root,
where ``chmod`` stops nothing, so read-only directories are injected too, or made with a path
under a regular file.)
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mltrack_sdk.errors import MltrackError
from mltrack_sdk.spool import Spool, SpoolWriteError
from mltrack_sdk.transports.base import TransportUnavailable
from mltrack_sdk.transports.postgres import PostgresTransport
from tests.sdk.spool_support import (
    FlakyTransport,
    epoch_call,
    epochs_in,
    failing,
    heal,
    inject,
    line,
    new_id,
    start_call,
    write_spool,
)


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
