"""log_epoch_columns appends a live run's batch without the upsert, and the result is the upsert's.

A batch whose epochs all follow the session's last one is written by a plain insert (the append
path); any other batch - or one that turns out not to be new, such as an epoch given twice or a
row a concurrent writer just committed - goes through the upsert. These tests prove which path a
call took (the upsert fires the UPDATE statement trigger ``metrics_updated``, the append path
does not) and that the two give the same rows, summary and LISTEN payloads: every batch of a
random history runs on two sessions, once through ``log_epoch_columns`` as it is and once through
the function as it stood before the append path (migration 20261202090003, loaded into
``pg_temp``), which always upserts.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from .api import Conn

ROOT = Path(__file__).resolve().parents[2]
UPSERT_ONLY = ROOT / "supabase" / "migrations" / "20261202090003_api_parity.sql"
FIELDS = ("box_loss", "map50", "map50_95")
SUMMARY = "status, current_epoch, epochs_completed, best_epoch, best_map50, best_map50_95"
CALL = (
    "select {fn}(session_id => %(sid)s, epoch => %(epoch)s, box_loss => %(box_loss)s,"
    " map50 => %(map50)s, map50_95 => %(map50_95)s, extra => %(extra)s::jsonb[]) as written"
)


class Writer:
    """An autocommit connection that LISTENs to its own notifications and counts, per call,
    how often the upsert's UPDATE statement trigger ran."""

    def __init__(self, url: str) -> None:
        self.conn: Conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        self.notes: list[dict[str, Any]] = []
        self.conn.add_notify_handler(lambda n: self.notes.append(json.loads(n.payload)))
        self.conn.execute("listen mltrack_changes")
        self.conn.execute("set track_functions = 'pl'")

    def _upserts(self) -> int:
        row = self.conn.execute(
            "select coalesce(sum(calls), 0)::int as n from pg_stat_xact_user_functions"
            " where schemaname = 'mltrack_internal' and funcname = 'metrics_updated'"
        ).fetchone()
        assert row is not None
        return int(row["n"])

    def call(self, fn: str, sid: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """One batch: what it returned (or raised), whether it upserted, what it notified."""
        args: dict[str, Any] = {"sid": sid, "epoch": [r["epoch"] for r in rows]}
        for f in FIELDS:
            args[f] = [r.get(f) for r in rows]
        args["extra"] = [None if r.get("extra") is None else json.dumps(r["extra"]) for r in rows]
        self.notes.clear()
        outcome: dict[str, Any] = {}
        try:
            with self.conn.transaction():
                before = self._upserts()
                row = self.conn.execute(CALL.format(fn=fn), args).fetchone()
                outcome["written"] = row["written"] if row else None
                outcome["upserted"] = self._upserts() > before
        except psycopg.Error as exc:
            outcome = {"error": (exc.sqlstate, exc.diag.message_primary)}
        outcome["notes"] = sorted(
            (json.dumps({k: v for k, v in n.items() if k not in ("id", "session_id")})
             for n in self.notes if n.get("session_id") == str(sid)),
        )  # fmt: skip
        return outcome

    def rows(self, sid: Any) -> list[dict[str, Any]]:
        return self.conn.execute(
            "select epoch, box_loss, map50, map50_95, extra from public.training_metrics"
            " where session_id = %s order by epoch",
            (sid,),
        ).fetchall()

    def summary(self, sid: Any) -> dict[str, Any]:
        row = self.conn.execute(
            f"select {SUMMARY} from public.training_sessions where id = %s", (sid,)
        ).fetchone()
        assert row is not None
        return row

    def start(self, name: str) -> Any:
        row = self.conn.execute(
            "select id from public.start_session(session_name => %s, model_type => 'yolov8n',"
            " epochs => 12)",
            (name,),
        ).fetchone()
        assert row is not None
        return row["id"]


def upsert_only_function() -> str:
    """log_epoch_columns as migration 20261202090003 defined it, as pg_temp.log_epoch_columns."""
    text = UPSERT_ONLY.read_text(encoding="utf-8")
    match = re.search(
        r"create or replace function public\.log_epoch_columns\(.*?\n\$\$;", text, re.DOTALL
    )
    assert match is not None
    return match.group(0).replace("public.log_epoch_columns(", "pg_temp.log_epoch_columns(", 1)


@pytest.fixture
def writer(direct_db_url: str) -> Iterator[Writer]:
    w = Writer(direct_db_url)
    w.conn.execute(upsert_only_function())
    try:
        yield w
    finally:
        w.conn.close()


def recomputed_summary(w: Writer, sid: Any) -> dict[str, Any]:
    """The summary the session's rows give, recounted from all of them (as a DELETE does)."""
    with w.conn.transaction(force_rollback=True):
        w.conn.execute("select mltrack_internal.recompute_summaries(array[%s]::uuid[])", (sid,))
        return w.summary(sid)


fractions = st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), st.floats(0, 1))
row_values = st.fixed_dictionaries(
    {
        "box_loss": st.one_of(st.none(), st.floats(0, 5)),
        "map50": fractions,
        "map50_95": fractions,
        "extra": st.one_of(st.none(), st.dictionaries(st.sampled_from("ab"), st.integers(0, 9))),
    }
)


@st.composite
def histories(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Batches of a run: mostly the next epochs in order (a live run), and replays, repeats,
    gaps, shuffles and epochs out of range (the session has 12) between them."""
    batches = []
    last = -1
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            n = draw(st.integers(1, 4))
            epochs = list(range(last + 1, last + 1 + n))
        else:
            epochs = draw(st.lists(st.integers(0, 13), max_size=5))
        rows = [{"epoch": e, **draw(row_values)} for e in epochs]
        if rows and draw(st.integers(0, 9)) == 0:
            rows[-1]["map50"] = 1.5  # a rejected value: the batch must change nothing
        batches.append(rows)
        last = max([last, *(e for e in epochs if e <= 12)])
    return batches


@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
def test_append_path_gives_what_the_upsert_gives(
    writer: Writer, history: list[list[dict[str, Any]]]
) -> None:
    appended = writer.start("append path")
    upserted = writer.start("upsert only")
    writer.notes.clear()
    for rows in history:
        got = writer.call("public.log_epoch_columns", appended, rows)
        want = writer.call("pg_temp.log_epoch_columns", upserted, rows)
        assert want.pop("upserted", True)
        got.pop("upserted", None)
        assert got == want, rows
        assert writer.rows(appended) == writer.rows(upserted)
        assert writer.summary(appended) == writer.summary(upserted)
    assert writer.summary(appended) == recomputed_summary(writer, appended)


def test_new_epochs_append_and_others_upsert(writer: Writer) -> None:
    sid = writer.start("paths")
    row = {"box_loss": 1.0, "map50": 0.5, "map50_95": 0.3}

    new = writer.call("public.log_epoch_columns", sid, [{"epoch": e, **row} for e in (0, 1, 2)])
    assert new["written"] == 3 and new["upserted"] is False
    assert new["notes"] == [
        json.dumps({"table": "training_metrics", "op": "INSERT", "count": 3,
                    "min_epoch": 0, "max_epoch": 2}),
        json.dumps({"table": "training_sessions", "op": "UPDATE"}),
    ]  # fmt: skip

    # New epochs, one given twice: the plain insert meets the primary key and gives way to the
    # upsert, whose last row of the epoch wins.
    twice = writer.call(
        "public.log_epoch_columns",
        sid,
        [{"epoch": 3, **row}, {"epoch": 4, **row}, {"epoch": 4, **row, "map50_95": 0.9}],
    )
    assert twice["written"] == 2 and twice["upserted"] is True
    assert [r["map50_95"] for r in writer.rows(sid)] == [0.3, 0.3, 0.3, 0.3, 0.9]

    replay = writer.call("public.log_epoch_columns", sid, [{"epoch": 1, **row, "box_loss": 0.5}])
    assert replay["written"] == 1 and replay["upserted"] is True

    # After the last epoch but not in order, with a gap below it filled: still only new rows.
    gap = writer.call("public.log_epoch_columns", sid, [{"epoch": 7, **row}, {"epoch": 5, **row}])
    assert gap["written"] == 2 and gap["upserted"] is False
    assert [r["epoch"] for r in writer.rows(sid)] == [0, 1, 2, 3, 4, 5, 7]
    assert writer.summary(sid) == recomputed_summary(writer, sid)


def test_a_concurrent_writer_of_the_same_epochs_sends_the_batch_to_the_upsert(
    writer: Writer, direct_db_url: str
) -> None:
    """The batch looked new when the session was read; a row of one of its epochs commits while
    the plain insert waits on it, and the upsert writes over it instead of failing."""
    sid = writer.start("race")
    first = writer.call("public.log_epoch_columns", sid, [{"epoch": 0, "map50_95": 0.1}])
    assert first["upserted"] is False
    with psycopg.connect(direct_db_url) as other:
        other.execute(
            "insert into public.training_metrics (session_id, epoch, map50_95, box_loss)"
            " values (%s, 1, 0.2, 9.0)",
            (sid,),
        )
        outcome: dict[str, Any] = {}
        worker = threading.Thread(
            target=lambda: outcome.update(
                writer.call(
                    "public.log_epoch_columns",
                    sid,
                    [{"epoch": 1, "map50_95": 0.4}, {"epoch": 2, "map50_95": 0.3}],
                )
            )
        )
        worker.start()
        worker.join(1.0)
        assert worker.is_alive()  # waiting on the uncommitted row of epoch 1
        other.commit()
    worker.join(30)
    assert outcome["written"] == 2 and outcome["upserted"] is True
    rows = writer.rows(sid)
    assert [(r["epoch"], r["map50_95"], r["box_loss"]) for r in rows] == [
        (0, 0.1, None),
        (1, 0.4, 9.0),  # the upsert's rule: a value given replaces, a null keeps
        (2, 0.3, None),
    ]
    assert writer.summary(sid) == recomputed_summary(writer, sid)
