"""Contract tests of the Supabase transport: supabase-py -> FAKE Supabase -> the REAL migrated DB.

The fake (tests/fakes/fake_supabase.py) stands only at the PostgREST/Realtime wire; the SQL
functions, RLS and errors behind it are the real ones, so these tests pin that the Supabase path
gives the same results and the same typed exceptions as the direct Postgres path.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from mltrack_sdk.errors import (
    DatabaseError,
    InvalidValueError,
    NotOwnerError,
    PermissionDeniedError,
)
from mltrack_sdk.transports.base import TransportUnavailable
from mltrack_sdk.transports.supabase import SupabaseTransport
from tests.fakes.fake_supabase import RunningFake, make_key

USER_A = "aaaaaaaa-0000-4000-8000-00000000000a"
USER_B = "bbbbbbbb-0000-4000-8000-00000000000b"


@pytest.fixture
def fake(direct_db_url: str) -> Iterator[RunningFake]:
    server = RunningFake(direct_db_url)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def transport_for(fake: RunningFake) -> Iterator[Any]:
    """``transport_for(role, user=None)``: a SupabaseTransport with that role's key/JWT."""
    made: list[SupabaseTransport] = []

    def _make(role: str, user: str | None = None) -> SupabaseTransport:
        anon_key = make_key("anon")
        if role == "authenticated":
            token = make_key(role, fake.sign_up(user) if user else None)
            t = SupabaseTransport(fake.url, anon_key, access_token=token)
        else:
            t = SupabaseTransport(fake.url, make_key(role))
        made.append(t)
        return t

    yield _make
    for t in made:
        t.close()


def start(t: SupabaseTransport, name: str = "sb run", **extra: Any) -> dict[str, Any]:
    args = {"session_name": name, "model_type": "yolov8n", "epochs": 3, **extra}
    row = t.rpc("start_session", args)
    assert isinstance(row, dict), row
    return row


def test_service_role_runs_a_whole_session(transport_for: Any) -> None:
    t = transport_for("service_role")
    session = start(t, config={"lr0": 0.01}, hardware_info={"gpu": "none"})
    sid = session["id"]
    assert session["status"] == "running"
    assert session["config"] == {"lr0": 0.01}

    metrics = [{"epoch": e, "map50": 0.3 + e / 10, "map50_95": 0.2 + e / 10} for e in range(3)]
    assert t.rpc("log_epochs", {"session_id": uuid.UUID(sid), "metrics": metrics}) == 3
    # A replayed batch is an upsert, not a duplicate.
    assert t.rpc("log_epochs", {"session_id": sid, "metrics": metrics[-1:]}) == 1
    assert t.rpc("heartbeat", {"session_id": sid}) is False

    bench = t.rpc("record_benchmark", {"session_id": sid, "avg_inference_ms": 12.5, "fps": 80})
    assert bench["session_id"] == sid and bench["avg_inference_ms"] == 12.5

    done = t.rpc("finish_session", {"session_id": sid, "final_map50": 0.5})
    assert done["status"] == "completed" and done["final_map50"] == 0.5

    [row] = t.select("training_sessions", filters={"id": sid})
    assert row["status"] == "completed" and row["best_epoch"] == 2

    newest = t.select(
        "training_metrics", filters={"session_id": sid}, order=[("epoch", True)], limit=2
    )
    assert [m["epoch"] for m in newest] == [2, 1]
    some = t.select(
        "training_metrics", filters={"session_id": sid, "epoch": [0, 2]}, order=[("epoch", False)]
    )
    assert [m["epoch"] for m in some] == [0, 2]

    [summary] = t.select("training_performance_summary", filters={"id": sid})
    assert summary["session_name"] == "sb run"
    board = t.select("models_leaderboard", order=[("rank", False)])
    assert [b["id"] for b in board if b["id"] == sid] == [sid]
    assert t.select("active_training_sessions", filters={"id": sid}) == []


def test_setof_function_returns_a_list(transport_for: Any) -> None:
    t = transport_for("service_role")
    assert t.rpc("mark_stale_sessions", {"timeout_seconds": 3600}) == []


def test_invalid_value_names_the_field_like_the_direct_path(
    transport_for: Any, conn: psycopg.Connection[Any]
) -> None:
    t = transport_for("service_role")
    sid = start(t)["id"]
    bad = {"session_id": sid, "metrics": [{"epoch": 0, "map50": 1.5}]}
    with pytest.raises(InvalidValueError) as info:
        t.rpc("log_epochs", bad)
    err = info.value
    assert err.sqlstate == "MT001" and err.field == "map50"
    assert "map50" in err.message and "1.5" in err.message

    with pytest.raises(psycopg.Error) as direct:
        conn.execute(
            "select log_epochs(session_id => %s, metrics => %s::jsonb)",
            (sid, '[{"epoch": 0, "map50": 1.5}]'),
        )
    same = DatabaseError.from_driver(direct.value)
    assert (type(same), same.sqlstate, same.field, same.message, same.hint) == (
        type(err),
        err.sqlstate,
        err.field,
        err.message,
        err.hint,
    )


def test_users_read_all_and_write_only_their_own(transport_for: Any) -> None:
    alice, bob = transport_for("authenticated", USER_A), transport_for("authenticated", USER_B)
    session = start(alice, "alice's run")
    assert session["owner_id"] == USER_A
    assert alice.rpc("log_epochs", {"session_id": session["id"], "metrics": [{"epoch": 0}]}) == 1

    [seen] = bob.select("training_sessions", filters={"id": session["id"]})
    assert seen["session_name"] == "alice's run"
    with pytest.raises(NotOwnerError) as info:
        bob.rpc("finish_session", {"session_id": session["id"]})
    assert info.value.sqlstate == "MT006"
    [still] = alice.select("training_sessions", filters={"id": session["id"]})
    assert still["status"] == "running"


def test_anon_may_not_call_the_api(transport_for: Any) -> None:
    with pytest.raises(PermissionDeniedError) as info:
        start(transport_for("anon"))
    assert info.value.sqlstate == "42501"


def test_unknown_function_is_a_database_error(transport_for: Any) -> None:
    with pytest.raises(DatabaseError) as info:
        transport_for("service_role").rpc("no_such_function", {"x": 1})
    assert info.value.sqlstate == "PGRST202"


def test_unreachable_server_is_transport_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = SupabaseTransport(f"http://127.0.0.1:{port}", make_key("service_role"), timeout=2)
    try:
        with pytest.raises(TransportUnavailable):
            t.rpc("heartbeat", {"session_id": str(uuid.uuid4())})
        with pytest.raises(TransportUnavailable):
            t.select("training_sessions")
    finally:
        t.close()


def test_import_of_the_sdk_does_not_import_supabase() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mltrack_sdk, mltrack_sdk.transports.supabase; print('supabase' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- Realtime ----------------------------------------------------------------------------------


class Collected:
    def __init__(self) -> None:
        self.changes: list[Any] = []
        self.cond = threading.Condition()

    def emit(self, change: Any) -> None:
        with self.cond:
            self.changes.append(change)
            self.cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 10) -> list[Any]:
        with self.cond:
            assert self.cond.wait_for(lambda: any(predicate(c) for c in self.changes), timeout), (
                self.changes
            )
            return [c for c in self.changes if predicate(c)]


@pytest.fixture
def realtime(fake: RunningFake) -> Iterator[Any]:
    """``realtime(role, user=None) -> Collected``: a RealtimeSource running in a thread."""
    from mltrack_sdk.live_realtime import RealtimeSource

    running: list[tuple[threading.Thread, threading.Event]] = []

    def _start(role: str, user: str | None = None, **kwargs: Any) -> Collected:
        token = make_key(role, user and fake.sign_up(user)) if role == "authenticated" else None
        key = make_key("anon") if token else make_key(role)
        source = RealtimeSource(fake.url, key, access_token=token, **kwargs)
        got, stop = Collected(), threading.Event()
        thread = threading.Thread(target=source.run, args=(got.emit, stop), daemon=True)
        thread.start()
        running.append((thread, stop))
        assert source.wait_subscribed(10), "no subscription"
        return got

    yield _start
    for thread, stop in running:
        stop.set()
        thread.join(10)
        assert not thread.is_alive()


def test_realtime_delivers_inserts_and_updates(realtime: Any, transport_for: Any) -> None:
    got = realtime("service_role")
    t = transport_for("service_role")
    sid = start(t)["id"]
    t.rpc("log_epochs", {"session_id": sid, "metrics": [{"epoch": 0, "map50": 0.4}]})

    [insert] = got.wait_for(lambda c: c.table == "training_sessions" and c.operation == "INSERT")
    assert insert.row["id"] == sid and insert.row["status"] == "running"
    assert insert.commit_time is not None
    [metric] = got.wait_for(lambda c: c.table == "training_metrics")
    assert metric.operation == "INSERT" and metric.row["epoch"] == 0
    updates = got.wait_for(
        lambda c: (
            c.table == "training_sessions"
            and c.operation == "UPDATE"
            and c.row["current_epoch"] == 0
        )
    )
    assert updates[-1].row["id"] == sid


def test_realtime_delete_is_one_event_per_row_with_its_key(
    realtime: Any, transport_for: Any, conn: Any
) -> None:
    """As Realtime does (replica identity default): deleting a session with three epochs gives
    three metrics DELETE events whose old_record is the row's primary key, and the session's."""
    got = realtime("service_role")
    t = transport_for("service_role")
    sid = start(t)["id"]
    t.rpc("log_epochs", {"session_id": sid, "metrics": [{"epoch": e} for e in range(3)]})
    got.wait_for(lambda c: c.table == "training_metrics" and c.operation == "INSERT")
    conn.execute("delete from training_sessions where id = %s", (sid,))

    deletes = got.wait_for(
        lambda c: c.operation == "DELETE" and c.table == "training_sessions", timeout=10
    )
    got.wait_for(lambda c: c.operation == "DELETE" and c.row == {"session_id": sid, "epoch": 2})
    metrics = sorted(
        (c for c in got.changes if c.operation == "DELETE" and c.table == "training_metrics"),
        key=lambda c: c.row["epoch"],
    )
    assert [c.row for c in metrics] == [{"session_id": sid, "epoch": e} for e in range(3)]
    assert [c.ids for c in metrics] == [
        {"session_id": sid, "min_epoch": e, "max_epoch": e, "count": 1} for e in range(3)
    ]
    assert deletes[-1].row == {"id": sid}


def test_realtime_catches_up_after_a_reconnect(
    realtime: Any, transport_for: Any, fake: RunningFake
) -> None:
    got = realtime("service_role", backoff_initial=0.2)
    t = transport_for("service_role")
    sid = start(t)["id"]
    got.wait_for(lambda c: c.table == "training_sessions" and c.row["id"] == sid)

    # An outage: the socket drops and reconnects are refused while the run finishes.
    fake.fake.refuse_realtime = True
    fake.call(fake.fake.drop_sockets())
    t.rpc("finish_session", {"session_id": sid})
    time.sleep(0.5)
    assert not any(c.row.get("status") == "completed" for c in got.changes)
    fake.fake.refuse_realtime = False

    [done] = got.wait_for(
        lambda c: c.table == "training_sessions" and c.row.get("status") == "completed"
    )
    assert done.operation == "UPDATE" and done.catch_up
    assert done.ids == {"id": sid, "session_id": sid}


def test_realtime_catch_up_pages_past_max_rows(
    realtime: Any, transport_for: Any, fake: RunningFake
) -> None:
    """1,500 epochs logged while the socket was down all arrive in the catch-up, although
    PostgREST returns at most 1,000 rows a read (and the batch shares one recorded_at)."""
    got = realtime("service_role", backoff_initial=0.2)
    t = transport_for("service_role")
    sid = start(t, epochs=1500)["id"]
    got.wait_for(lambda c: c.table == "training_sessions" and c.row["id"] == sid)
    fake.fake.refuse_realtime = True
    fake.call(fake.fake.drop_sockets())
    t.rpc("log_epochs", {"session_id": sid, "metrics": [{"epoch": e} for e in range(1500)]})
    fake.fake.refuse_realtime = False
    deadline = time.monotonic() + 20
    epochs: set[int] = set()
    while time.monotonic() < deadline and len(epochs) < 1500:
        epochs = {
            c.row["epoch"]
            for c in list(got.changes)
            if c.table == "training_metrics" and c.catch_up
        }
        time.sleep(0.1)
    assert epochs == set(range(1500))


def test_realtime_subscribed_means_changes_flow(
    realtime: Any, transport_for: Any, fake: RunningFake
) -> None:
    """Subscribed is reported after Realtime's "Subscribed to PostgreSQL", not at the join ack:
    a change made right after wait_subscribed() is delivered."""
    fake.fake.realtime.subscribe_delay = 0.8
    got = realtime("service_role")  # returns once wait_subscribed() is true
    sid = start(transport_for("service_role"))["id"]
    got.wait_for(lambda c: c.table == "training_sessions" and c.row["id"] == sid, timeout=5)


def test_realtime_refusal_after_the_join_raises(fake: RunningFake) -> None:
    """A subscription Realtime cannot start is reported in a ``system`` error after the join
    ack; the feed used to take it for a lost link and retry every 0.5 s forever."""
    from mltrack_sdk.live import change_feed
    from mltrack_sdk.live_realtime import RealtimeRefused

    fake.fake.realtime.subscription_error = (
        "Unable to subscribe to changes with given parameters. Please check Realtime is enabled"
    )
    t0 = time.monotonic()
    with (
        change_feed(supabase_url=fake.url, supabase_key=make_key("service_role")) as feed,
        pytest.raises(RealtimeRefused, match="Unable to subscribe"),
    ):
        feed.get(timeout=15)
    assert time.monotonic() - t0 < 10


def test_change_feed_follows_the_sdk_configuration(
    fake: RunningFake, transport_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """change_feed() with no arguments used to look at $MLTRACK_DATABASE_URL only; it follows
    the same order as writes and reads, so $SUPABASE_URL + $SUPABASE_KEY mean Realtime."""
    from mltrack_sdk.live import change_feed

    monkeypatch.delenv("MLTRACK_DATABASE_URL", raising=False)
    monkeypatch.setenv("SUPABASE_URL", fake.url)
    monkeypatch.setenv("SUPABASE_KEY", make_key("service_role"))
    with change_feed() as feed:
        assert feed.source.wait_subscribed(10)  # type: ignore[attr-defined]
        sid = start(transport_for("service_role"))["id"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            change = feed.get(timeout=1)
            if change is not None and change.table == "training_sessions":
                assert change.row["id"] == sid
                break
        else:
            pytest.fail("no change arrived through Realtime")
