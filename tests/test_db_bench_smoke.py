"""Smoke test of benchmarks/db_bench.py at a tiny scale (no timing assertions).

The bulk loader writes with triggers off and then fills the session summary columns itself, so
the test replays every loaded session through the real SQL API (start_session, log_epochs in
small chunks, record_benchmark, finish_session) and checks that the triggers arrive at exactly
the summary the loader wrote.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parent.parent
# The benchmark is a set of plain modules in benchmarks/ that import each other by name.
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

import db_bench  # noqa: E402
from dbbench_catalog import dataset_specs, plan_statuses  # noqa: E402
from dbbench_load import load_data, table_counts  # noqa: E402
from dbbench_profile import VARIANTS, profile_checks, profile_writes  # noqa: E402
from dbbench_reads import QUERIES  # noqa: E402
from dbbench_writes import WRITE_MODES  # noqa: E402

N_SESSIONS = 50
N_METRICS = 2_000

SUMMARY_COLUMNS = (
    "status",
    "current_epoch",
    "epochs_completed",
    "best_epoch",
    "best_map50",
    "best_map50_95",
    "final_map50",
    "final_map50_95",
    "final_precision",
    "final_recall",
    "final_loss",
    "best_inference_ms",
    "best_fps",
)


def _replay(conn: psycopg.Connection[dict[str, Any]], sid: Any, chunk: int = 7) -> Any:
    """Re-create session ``sid`` through the SQL API, triggers on; return the new id."""
    s = conn.execute("select * from public.training_sessions where id = %s", (sid,)).fetchone()
    assert s is not None
    new = conn.execute(
        "select id from public.start_session(session_name => %s, model_type => %s, epochs => %s,"
        " dataset_name => %s, dataset_size => %s, batch_size => %s, learning_rate => %s,"
        " img_size => %s, config => %s, hardware_info => %s)",
        (
            s["session_name"] + "-replay",
            s["model_type"],
            s["epochs"],
            s["dataset_name"],
            s["dataset_size"],
            s["batch_size"],
            s["learning_rate"],
            s["img_size"],
            psycopg.types.json.Jsonb(s["config"]),
            psycopg.types.json.Jsonb(s["hardware_info"]),
        ),
    ).fetchone()["id"]  # type: ignore[index]
    rows = conn.execute(
        "select coalesce(jsonb_agg(to_jsonb(m) - 'session_id' - 'recorded_at' order by m.epoch),"
        " '[]') as rows from public.training_metrics m where m.session_id = %s",
        (sid,),
    ).fetchone()["rows"]  # type: ignore[index]
    for i in range(0, len(rows), chunk):
        conn.execute(
            "select public.log_epochs(%s, %s::jsonb)", (new, json.dumps(rows[i : i + chunk]))
        )
    for b in conn.execute(
        "select * from public.model_benchmarks where session_id = %s order by created_at", (sid,)
    ).fetchall():
        conn.execute(
            "select public.record_benchmark(session_id => %s, avg_inference_ms => %s,"
            " min_inference_ms => %s, max_inference_ms => %s, p50_inference_ms => %s,"
            " p95_inference_ms => %s, device => %s, device_name => %s, model_format => %s,"
            " dtype => %s, batch_size => %s, img_size => %s)",  # fps left out: the trigger fills it
            (
                new,
                b["avg_inference_ms"],
                b["min_inference_ms"],
                b["max_inference_ms"],
                b["p50_inference_ms"],
                b["p95_inference_ms"],
                b["device"],
                b["device_name"],
                b["model_format"],
                b["dtype"],
                b["batch_size"],
                b["img_size"],
            ),
        )
    if s["status"] in ("completed", "failed", "cancelled"):
        # No final values given: a completed session takes them from its best epoch.
        conn.execute(
            "select public.finish_session(session_id => %s, status => %s)", (new, s["status"])
        )
    return new


def _summary(conn: psycopg.Connection[dict[str, Any]], sid: Any) -> dict[str, Any]:
    row = conn.execute("select * from public.training_sessions where id = %s", (sid,)).fetchone()
    assert row is not None
    return {k: row[k] for k in SUMMARY_COLUMNS}


def test_bulk_load_matches_the_triggers(db_url: str) -> None:
    result = load_data(db_url, N_SESSIONS, N_METRICS, seed=7, log=lambda _msg: None)
    plan = plan_statuses(N_SESSIONS)
    counts = table_counts(db_url)
    assert counts["training_sessions"] == N_SESSIONS
    assert counts["training_metrics"] == N_METRICS == result["metrics_inserted"]
    assert counts["training_datasets"] == len(dataset_specs())
    assert counts["sessions_completed"] == plan.completed
    assert counts["sessions_running"] == plan.running
    assert counts.get("sessions_failed", 0) == plan.failed
    assert counts.get("sessions_cancelled", 0) == plan.cancelled
    assert counts["model_benchmarks"] > 0 and counts["validation_results"] > 0
    with psycopg.connect(db_url, autocommit=True) as c:
        assert c.execute("select count(*) from public.bench_plain").fetchone() == (N_METRICS,)

    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        # Realistic: mAP rises and the loss falls over a run.
        trend = conn.execute("""
            select count(*) filter (where late_map > early_map) as rising,
                   count(*) filter (where late_loss < early_loss) as falling, count(*) as n
              from (select session_id,
                           avg(map50_95) filter (where epoch <= 5) as early_map,
                           avg(map50_95) filter (where epoch > max_e - 5) as late_map,
                           avg(total_loss) filter (where epoch <= 5) as early_loss,
                           avg(total_loss) filter (where epoch > max_e - 5) as late_loss
                      from (select *, max(epoch) over (partition by session_id) as max_e
                              from public.training_metrics) m
                     group by session_id) s""").fetchone()
        assert trend is not None and trend["rising"] == trend["falling"] == trend["n"] == N_SESSIONS
        stale = conn.execute(
            "select count(*) as n from public.training_sessions"
            " where status = 'running' and last_heartbeat_at < now() - interval '5 minutes'"
        ).fetchone()
        assert stale is not None and stale["n"] == 0

        # Every loaded session, replayed through the API, ends with the same summary.
        originals = conn.execute(
            "select id from public.training_sessions order by created_at"
        ).fetchall()
        with_benchmarks = 0
        for row in originals:
            loaded = _summary(conn, row["id"])
            replayed = _summary(conn, _replay(conn, row["id"]))
            with_benchmarks += loaded["best_inference_ms"] is not None
            for column in SUMMARY_COLUMNS:
                got, want = replayed[column], loaded[column]
                if isinstance(want, float):
                    assert got == pytest.approx(want, rel=1e-12), (row["id"], column)
                else:
                    assert got == want, (row["id"], column)
        assert with_benchmarks > 0
        finals = conn.execute(
            "select count(*) as n from public.training_sessions"
            " where status = 'completed' and final_map50_95 is null"
        ).fetchone()
        assert finals is not None and finals["n"] == 0


def test_benchmark_runs_end_to_end(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    explain = tmp_path / "explain.txt"
    report = db_bench.main(
        [
            "--database-url",
            db_url,
            "--sessions",
            str(N_SESSIONS),
            "--metrics",
            str(N_METRICS),
            "--iterations",
            "3",
            "--warmup",
            "1",
            "--write-sessions",
            "2",
            "--write-repeats",
            "2",
            "--json",
            str(out),
            "--explain-file",
            str(explain),
        ],
        log=lambda _msg: None,
    )
    saved = json.loads(out.read_text())
    assert saved["counts"]["training_metrics"] == N_METRICS
    speeds = saved["environment"]["machine_speed_ms"]
    assert len(speeds) == 2 and all(0 < ms < 10_000 for ms in speeds)
    assert [q["name"] for q in saved["queries"]] == [name for name, _ in QUERIES]
    misses = {"session_by_name", "session_by_model_path"}  # a name and a path no session has
    assert all((q["rows"] == 0) == (q["name"] in misses) for q in saved["queries"])
    assert all(q["p50_ms"] > 0 for q in saved["queries"])
    assert all(q["execute_p50_ms"] > 0 and q["server_p50_ms"] > 0 for q in saved["queries"])
    assert all(q["binary_p50_ms"] > 0 and q["sdk_p50_ms"] > 0 for q in saved["queries"])
    assert saved["queries"][0]["rows"] == min(50, plan_statuses(N_SESSIONS).completed)
    assert "Execution Time" in explain.read_text()
    assert set(saved["explain"]) == {name for name, _ in QUERIES}

    writes = {w["mode"]: w for w in report["writes"]}
    assert list(writes) == [m.key for m in WRITE_MODES]
    expected = 0
    for mode in WRITE_MODES:
        rows = 2 * 2 * mode.epochs_per_session  # sessions x repeats x epochs
        assert writes[mode.key]["rows"] == rows
        assert writes[mode.key]["api_rows_per_s"] > 0 < writes[mode.key]["plain_rows_per_s"]
        expected += rows
    with psycopg.connect(db_url, autocommit=True) as c:
        # The API wrote every row (the triggers counted them), and bench_plain was dropped.
        row = c.execute(
            "select count(*), sum(epochs_completed), sum(current_epoch)"
            "  from public.training_sessions where session_name like 'bench-%'"
        ).fetchone()
        assert row is not None
        n_sessions, completed, current = row
        assert n_sessions == 2 * 2 * len(WRITE_MODES)
        assert completed == expected
        assert current == sum(2 * 2 * m.epochs_per_session for m in WRITE_MODES)
        assert c.execute("select to_regclass('public.bench_plain')").fetchone() == (None,)


def test_write_profile_leaves_the_database_as_it_was(db_url: str) -> None:
    count = (
        "select (select count(*) from public.training_sessions),"
        " (select count(*) from public.training_metrics),"
        " (select count(*) from pg_trigger"
        "   where tgrelid = 'public.training_metrics'::regclass and tgenabled = 'O'),"
        " (select count(*) from pg_index where indrelid = 'public.training_sessions'::regclass)"
    )
    with psycopg.connect(db_url, autocommit=True) as c:
        before = c.execute(count).fetchone()
    result = profile_writes(db_url, batches=2, batch=20, log=lambda _msg: None)
    ms = result["median_ms"]
    assert set(ms) == {name for name, _, _ in VARIANTS} and all(v > 0 for v in ms.values())
    parts = ("foreign_key_ms", "checks_and_function_ms", "summary_trigger_ms")
    assert sum(result[p] for p in parts) == pytest.approx(ms["api"] - ms["plain"])
    assert result["foreign_key_btree_key_ms"] == pytest.approx(
        ms["api_without_summary_btree_key"] - ms["api_without_triggers_and_fk"]
    )
    assert result["plain_with_foreign_key_ratio"] == pytest.approx(
        (ms["plain"] + result["foreign_key_ms"]) / ms["plain"]
    )
    with psycopg.connect(db_url, autocommit=True) as c:
        # Every call was rolled back: the triggers are on again, the session key's hash index
        # is back, the session is gone.
        assert c.execute(count).fetchone() == before
        assert c.execute("select count(*) from public.bench_plain").fetchone() == (0,)


def test_check_profile_leaves_the_database_as_it_was(db_url: str) -> None:
    state = (
        "select (select count(*) from public.training_sessions),"
        " (select count(*) from public.training_metrics),"
        " (select count(*) from pg_constraint where contype = 'c'"
        "   and conrelid in ('public.training_sessions'::regclass,"
        "                    'public.training_metrics'::regclass)),"
        " (select count(*) from pg_trigger"
        "   where tgrelid = 'public.training_metrics'::regclass and tgenabled = 'O')"
    )
    with psycopg.connect(db_url, autocommit=True) as c:
        before = c.execute(state).fetchone()
    result = profile_checks(db_url, statements=5, rounds=1, log=lambda _msg: None)
    ms = result["median_ms"]
    assert len(ms) == 4 and all(v > 0 for v in ms.values())
    with psycopg.connect(db_url, autocommit=True) as c:
        # Every block was rolled back: the constraints and triggers are back, no row is left.
        assert c.execute(state).fetchone() == before
