"""Getting through trouble: resuming offline, heartbeats across an outage, retrying dead
letters, and a live feed that gives up on a URL that can never work. Real Postgres throughout."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

import mltrack_sdk as mlt
from mltrack_sdk.cli import app
from mltrack_sdk.errors import DatabaseError, MltrackError
from mltrack_sdk.live import change_feed
from mltrack_sdk.migrate import migrate
from mltrack_sdk.spool import Spool

from .data import start

CLI_ENV = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    for name in ("MLTRACK_DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def query(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as c:
        cur = c.execute(sql, params)
        return cur.fetchall() if cur.description else []


def session_row(url: str, session_id: str) -> dict[str, Any]:
    return query(url, "select * from training_sessions where id = %s", session_id)[0]


def mltrack_warnings(record: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, mlt.MltrackWarning)]


def test_resume_by_id_while_the_database_is_down(pg_server_factory: Callable[[], Any]) -> None:
    server = pg_server_factory()
    url = server.admin_url
    migrate(url)
    with psycopg.connect(url, autocommit=True) as c:
        sid = str(start(c, "resumed offline", epochs=5)["id"])
    server.stop()

    with pytest.raises(mlt.DatabaseUnreachableError, match=r"resume=.*unreachable") as caught:
        mlt.start_session(resume="resumed offline", database_url=url)
    assert caught.value.field == "resume"

    with pytest.warns(mlt.MltrackWarning, match="resumes offline") as record:
        run = mlt.start_session(resume=sid.upper(), database_url=url, heartbeat_interval=0.2)
        assert (run.id, run.epochs) == (sid, None)  # epochs are checked by the database
        for epoch in range(3):
            run.log_epoch(epoch, box_loss=1.0 - epoch / 10, map50=0.5)
        assert run._writer.flush(10)
        assert Spool().has_pending(sid)
        server.start()
        run.finish(timeout=20)
    assert len(mltrack_warnings(record)) == 1, mltrack_warnings(record)

    row = session_row(url, sid)
    assert row["status"] == "completed" and row["last_heartbeat_at"] is not None
    epochs = query(url, "select epoch from training_metrics where session_id = %s", sid)
    assert sorted(r["epoch"] for r in epochs) == [0, 1, 2]
    assert not Spool().has_pending(sid)
    assert not Spool().dead_letter_path.exists()


def test_heartbeat_gets_through_soon_after_an_outage(pg_server_factory: Callable[[], Any]) -> None:
    server = pg_server_factory()
    url = server.admin_url
    migrate(url)
    interval = 0.3
    with pytest.warns(mlt.MltrackWarning, match="backend unavailable") as record:
        run = mlt.start_session(
            "outage", model_type="yolov8n", epochs=5, database_url=url, heartbeat_interval=interval
        )
        run.log_epoch(0, box_loss=1.0)
        assert run._writer.flush(10)

        server.stop()
        run.log_epoch(1, box_loss=0.9)  # the writer goes offline with it
        # Long enough for the writer's backoff to outgrow the 2 s bound below: the heartbeat
        # must not wait for the writer's next retry to get through.
        time.sleep(3.5)
        server.start()
        restarted = query(url, "select clock_timestamp() as t")[0]["t"]
        deadline = time.monotonic() + 2.0
        while (beat := session_row(url, run.id)["last_heartbeat_at"]) <= restarted:
            assert time.monotonic() < deadline, "no heartbeat within 2 s of the restart"
            time.sleep(0.05)
        assert query(url, "select * from mark_stale_sessions(2)") == []
        run.finish(timeout=20)
    # Writer and heartbeat both hit the outage, and retried many times: one warning.
    assert len(mltrack_warnings(record)) == 1, mltrack_warnings(record)
    row = session_row(url, run.id)
    assert row["status"] == "completed" and row["last_heartbeat_at"] >= beat
    assert row["current_epoch"] == 1


def sync(*args: str) -> Any:
    return CliRunner(env=CLI_ENV).invoke(app, ["sync", *args])


def test_sync_dead_letters_retries_once_the_cause_is_fixed(db_url: str) -> None:
    run = mlt.start_session("extended", model_type="yolov8n", epochs=3, database_url=db_url)
    run.log_epoch(0, box_loss=1.0)
    assert run._writer.flush(10)
    # The database holds fewer epochs than this process believes: epoch 2 is out of range.
    query(db_url, "update training_sessions set epochs = 1 where id = %s", run.id)
    run.log_epoch(2, box_loss=0.5)
    with pytest.warns(mlt.MltrackWarning, match=r"rejected log_epochs\(\)"):
        run.finish()
    missing = str(uuid.uuid4())
    lost = {"function": "heartbeat", "args": {"session_id": missing}}
    Spool().dead_letter(lost, "an old message", "MT005")
    assert [d["sqlstate"] for d in Spool().dead_letters()] == ["MT001", "MT005"]

    # While the database cannot be reached, nothing moves.
    before = Spool().dead_letter_path.read_text()
    down = sync("--database-url", "postgresql://postgres@127.0.0.1:1/postgres", "--dead-letters")
    assert down.exit_code == 1 and "cannot reach the database" in down.output
    assert Spool().dead_letter_path.read_text() == before

    query(db_url, "update training_sessions set epochs = 3 where id = %s", run.id)
    done = sync("--database-url", db_url, "--dead-letters")
    assert done.exit_code == 0, done.output
    assert "Retried dead letters: 1 sent, 1 rejected again." in done.output
    assert "session_id does not match any training session" in done.output
    metrics = query(db_url, "select epoch from training_metrics where session_id = %s", run.id)
    assert sorted(r["epoch"] for r in metrics) == [0, 2]
    assert session_row(db_url, run.id)["current_epoch"] == 2

    # The failure stays, with the database's new message instead of the old one.
    kept = [json.loads(line) for line in Spool().dead_letter_path.read_text().splitlines()]
    assert [(k["function"], k["args"], k["sqlstate"]) for k in kept] == [
        ("heartbeat", {"session_id": missing}, "MT005")
    ]
    assert "does not match any training session" in kept[0]["error"]

    again = sync("--database-url", db_url, "--dead-letters")
    assert "Retried dead letters: 0 sent, 1 rejected again." in again.output
    query(
        db_url,
        "select start_session(session_name => 'late', model_type => 'x', epochs => 1,"
        " session_id => %s)",
        missing,
    )
    assert "1 sent, 0 rejected again" in sync("--database-url", db_url, "--dead-letters").output
    assert not Spool().dead_letter_path.exists()


def with_url_part(url: str, *, user: str | None = None, dbname: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if user is not None:
        netloc = user + "@" + netloc.split("@", 1)[-1]
    path = parts.path if dbname is None else "/" + dbname
    return urlunsplit(parts._replace(netloc=netloc, path=path))


@pytest.mark.parametrize(
    ("change", "sqlstate"),
    [({"dbname": "no_such_database"}, "3D000"), ({"user": "no_such_role"}, "28000")],
)
def test_live_feed_raises_for_a_url_that_cannot_work(
    db_url: str, change: dict[str, str], sqlstate: str
) -> None:
    t0 = time.monotonic()
    url = with_url_part(db_url, **change)
    with (
        change_feed(url, backoff_initial=0.05) as feed,
        pytest.raises(DatabaseError, match="live feed cannot connect") as caught,
    ):
        feed.get(timeout=10)
    assert caught.value.sqlstate == sqlstate
    assert time.monotonic() - t0 < 5


def test_live_feed_raises_for_an_invalid_url_and_retries_a_refused_one() -> None:
    with (
        change_feed("postgresql://localhost/db?no_such_option=1") as feed,
        pytest.raises(MltrackError, match="invalid database URL"),
    ):
        feed.get(timeout=10)
    with change_feed("postgresql://postgres@127.0.0.1:1/postgres", backoff_initial=0.05) as feed:
        assert feed.get(timeout=0.5) is None  # still retrying: the server may come up
        assert not feed.closed


@pytest.mark.parametrize(
    ("change", "sqlstate"),
    [({"dbname": "no_such_database"}, "3D000"), ({"user": "no_such_role"}, "28000")],
)
def test_start_session_raises_for_settings_that_cannot_work(
    direct_db_url: str, tmp_path: Path, change: dict[str, str], sqlstate: str
) -> None:
    """A wrong database name or user is the caller's mistake, not an outage: nothing is spooled.
    (Postgres' own answer: PgBouncer answers a wrong database name with a login timeout, which
    looks like any outage.)"""
    url = with_url_part(direct_db_url, **change)
    spool_dir = tmp_path / "spool"
    with pytest.raises(DatabaseError, match="cannot connect") as caught:
        mlt.start_session(
            "misconfigured", model_type="yolov8n", epochs=3, database_url=url, spool_dir=spool_dir
        )
    assert caught.value.sqlstate == sqlstate
    assert not spool_dir.exists() or not any(spool_dir.iterdir())
