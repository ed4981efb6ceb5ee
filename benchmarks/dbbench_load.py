"""Bulk load of the database benchmark, with triggers off, then the summaries set-based.

See phase 2 in ``db_bench.py``'s docstring.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from dbbench_generate import (
    BENCHMARK_COLUMNS,
    DATASET_COLUMNS,
    PARAM_COLUMNS,
    SESSION_COLUMNS,
    VALIDATION_COLUMNS,
    generate,
)
from dbbench_server import Log, print_flush
from psycopg import sql

UTC = dt.timezone.utc

# Every metric row is computed in the server from its session's parameters; r1..r9 are the
# noise. The innermost query has volatile random() in its target list, so Postgres never inlines
# it: each r is drawn once per row. mAP follows 1 - exp(-rate * epoch) towards the session's peak
# with multiplicative noise; mAP50 = mAP50-95 * ratio (never below it); losses decay towards a
# floor, validation losses sit above them and drift up late in training (overfitting);
# learning_rate decays linearly as in Ultralytics (lrf = 0.01).
METRICS_INSERT = """
insert into public.training_metrics (
  session_id, epoch, box_loss, cls_loss, dfl_loss, total_loss, val_box_loss, val_cls_loss,
  val_dfl_loss, precision, recall, map50, map50_95, learning_rate, epoch_time_seconds,
  gpu_memory_mb, recorded_at)
select y.session_id, y.epoch, y.box, y.cls, y.dfl, y.box + y.cls + y.dfl,
       y.box * (1.08 + 0.10 * y.r7 + y.overfit), y.cls * (1.05 + 0.10 * y.r7 + y.overfit),
       y.dfl * (1.02 + 0.04 * y.r7),
       y.prec, y.rec, least(1.0, greatest(y.m5095, y.m5095 * y.ratio50 + 0.03 * (y.r2 - 0.5))),
       y.m5095, y.lr, y.et, y.gpu,
       y.started_at + make_interval(secs => y.epoch * y.epoch_time)
from (
  select x.session_id, x.epoch, x.started_at, x.epoch_time, x.ratio50, x.r2, x.r7,
         least(0.999, greatest(0.0,
           x.peak * (1 - exp(-x.rate * x.epoch)) * (1 + x.noise * (x.r1 - 0.5)))) as m5095,
         least(1.0, greatest(0.0,
           x.prec_peak * (1 - exp(-1.3 * x.rate * x.epoch)) + 0.04 * (x.r3 - 0.5))) as prec,
         least(1.0, greatest(0.0,
           x.rec_peak * (1 - exp(-x.rate * x.epoch)) + 0.04 * (x.r4 - 0.5))) as rec,
         x.box0 * (0.5 + 0.5 * exp(-x.decay * x.epoch)) * (1 + 0.04 * (x.r5 - 0.5)) as box,
         x.cls0 * (0.25 + 0.75 * exp(-1.5 * x.decay * x.epoch)) * (1 + 0.06 * (x.r6 - 0.5)) as cls,
         x.dfl0 * (0.8 + 0.2 * exp(-x.decay * x.epoch)) * (1 + 0.02 * (x.r5 - 0.5)) as dfl,
         x.lr0 * ((1 - (x.epoch - 1)::float8 / x.epochs) * 0.99 + 0.01) as lr,
         x.epoch_time * (1 + 0.06 * (x.r8 - 0.5))
           + case when x.epoch = 1 then 0.3 * x.epoch_time else 0 end as et,
         x.gpu_mb * (0.97 + 0.06 * x.r9) as gpu,
         greatest(0.0, x.epoch::float8 / x.epochs - 0.6) * 0.3 as overfit
  from (
    select p.*, e.epoch, random() as r1, random() as r2, random() as r3, random() as r4,
           random() as r5, random() as r6, random() as r7, random() as r8, random() as r9
      from bench_params p
      cross join lateral generate_series(1, p.n) as e(epoch)
  ) x
) y
"""

# What the triggers leave in a session after its epochs, benchmarks and finish_session() without
# final values: metrics_written (current_epoch = max epoch, epochs_completed = rows inserted,
# best = highest mAP50-95, then mAP50 (nulls last), then the earliest epoch), the state machine
# (a completed session's empty finals from its best epoch) and benchmark_written (the benchmark
# with the lowest avg_inference_ms, then the earliest).
SUMMARY_SELECT = """
create temp table bench_summary as
select s.id, a.max_epoch, a.n_rows, b.epoch as best_epoch, b.map50, b.map50_95, b.precision,
       b.recall, b.total_loss, k.avg_inference_ms, k.fps
  from public.training_sessions s
  left join (select m.session_id, max(m.epoch) as max_epoch, count(*)::integer as n_rows
               from public.training_metrics m group by m.session_id) a on a.session_id = s.id
  left join (select distinct on (m.session_id) m.session_id, m.epoch, m.map50, m.map50_95,
                    m.precision, m.recall, m.total_loss
               from public.training_metrics m
              where m.map50_95 is not null
              order by m.session_id, m.map50_95 desc, m.map50 desc nulls last, m.epoch) b
         on b.session_id = s.id
  left join (select distinct on (bb.session_id) bb.session_id, bb.avg_inference_ms, bb.fps
               from public.model_benchmarks bb
              order by bb.session_id, bb.avg_inference_ms, bb.created_at) k on k.session_id = s.id
"""
SUMMARY_UPDATE = """
update public.training_sessions s
   set current_epoch = x.max_epoch,
       epochs_completed = coalesce(x.n_rows, 0),
       best_epoch = x.best_epoch,
       best_map50 = x.map50,
       best_map50_95 = x.map50_95,
       final_map50 = case when s.status = 'completed' and x.best_epoch is not null
                          then coalesce(s.final_map50, x.map50) else s.final_map50 end,
       final_map50_95 = case when s.status = 'completed' and x.best_epoch is not null
                             then coalesce(s.final_map50_95, x.map50_95) else s.final_map50_95 end,
       final_precision = case when s.status = 'completed' and x.best_epoch is not null
                              then coalesce(s.final_precision, x.precision)
                              else s.final_precision end,
       final_recall = case when s.status = 'completed' and x.best_epoch is not null
                           then coalesce(s.final_recall, x.recall) else s.final_recall end,
       final_loss = case when s.status = 'completed' and x.best_epoch is not null
                         then coalesce(s.final_loss, x.total_loss) else s.final_loss end,
       best_inference_ms = x.avg_inference_ms,
       best_fps = x.fps
  from bench_summary x
 where x.id = s.id
"""


def _copy(
    cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    query = sql.SQL("copy {} ({}) from stdin").format(
        sql.SQL(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(query) as cp:
        for row in rows:
            cp.write_row(row)


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as c:
        out = {}
        for table in (
            "training_datasets",
            "training_sessions",
            "training_metrics",
            "model_benchmarks",
            "validation_results",
        ):
            row = c.execute(
                sql.SQL("select count(*) from public.{}").format(sql.Identifier(table))
            ).fetchone()
            out[table] = int(row[0]) if row else 0
        for status, n in c.execute(
            "select status, count(*) from public.training_sessions group by status"
        ):
            out[f"sessions_{status}"] = int(n)
    return out


def table_sizes(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as c:
        return {
            name: size
            for name, size in c.execute(
                "select c.relname, pg_size_pretty(pg_total_relation_size(c.oid))"
                "  from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = 'public' and c.relkind = 'r' order by 1"
            )
        }


def create_plain_table(conn: psycopg.Connection[Any]) -> None:
    """The baseline: training_metrics' columns, defaults and primary key; nothing else."""
    conn.execute(
        "create table if not exists public.bench_plain"
        " (like public.training_metrics including defaults including indexes)"
    )


def load_data(
    url: str,
    n_sessions: int,
    n_metrics: int,
    seed: int = 42,
    *,
    prefill_plain: bool = True,
    log: Log = print_flush,
) -> dict[str, Any]:
    """Bulk-load synthetic data with triggers off, then fill the summary columns set-based.

    Returns the phase timings (seconds) and the row counts.
    """
    if n_sessions < 1:
        raise ValueError("n_sessions must be at least 1")
    phases: dict[str, float] = {}
    t_all = time.perf_counter()
    t = time.perf_counter()
    data = generate(n_sessions, n_metrics, seed, dt.datetime.now(UTC))
    phases["generate_python"] = time.perf_counter() - t
    log(
        f"  generated {len(data.sessions):,} sessions in Python ({phases['generate_python']:.1f} s)"
    )

    with psycopg.connect(url, autocommit=True) as conn:
        # Superuser only: turns off every trigger, the foreign-key ones included. CHECKs stay.
        conn.execute("set session_replication_role = replica")
        conn.execute("set work_mem = '512MB'")
        conn.execute("set maintenance_work_mem = '1GB'")
        cur = conn.cursor()

        t = time.perf_counter()
        with conn.transaction():
            _copy(cur, "public.training_datasets", DATASET_COLUMNS, data.datasets)
            _copy(cur, "public.training_sessions", SESSION_COLUMNS, data.sessions)
        conn.execute("""
            create temp table bench_params (
              session_id uuid, n integer, epochs integer, started_at timestamptz,
              epoch_time float8, peak float8, ratio50 float8, prec_peak float8, rec_peak float8,
              rate float8, decay float8, noise float8, box0 float8, cls0 float8, dfl0 float8,
              lr0 float8, gpu_mb float8)""")
        with conn.transaction():
            _copy(cur, "bench_params", PARAM_COLUMNS, data.params)
        phases["copy_sessions"] = time.perf_counter() - t
        log(f"  COPY datasets + sessions: {phases['copy_sessions']:.1f} s")

        t = time.perf_counter()
        with conn.transaction():
            conn.execute("select setseed(%s)", ((seed % 1000) / 1000.0,))
            inserted = conn.execute(METRICS_INSERT).rowcount
        phases["insert_metrics"] = time.perf_counter() - t
        log(
            f"  INSERT ... SELECT {inserted:,} metric rows: {phases['insert_metrics']:.1f} s"
            f" ({inserted / max(phases['insert_metrics'], 1e-9):,.0f} rows/s)"
        )

        t = time.perf_counter()
        with conn.transaction():
            _copy(cur, "public.model_benchmarks", BENCHMARK_COLUMNS, data.benchmarks)
            _copy(cur, "public.validation_results", VALIDATION_COLUMNS, data.validation)
        phases["copy_benchmarks_validation"] = time.perf_counter() - t
        log(
            f"  COPY {len(data.benchmarks):,} benchmarks + {len(data.validation):,} validation"
            f" rows: {phases['copy_benchmarks_validation']:.1f} s"
        )

        t = time.perf_counter()
        with conn.transaction():
            conn.execute(SUMMARY_SELECT)
            updated = conn.execute(SUMMARY_UPDATE).rowcount
            conn.execute("drop table bench_summary")
        phases["summary_update"] = time.perf_counter() - t
        log(f"  summary UPDATE of {updated:,} sessions: {phases['summary_update']:.1f} s")

        if prefill_plain:
            t = time.perf_counter()
            with conn.transaction():
                create_plain_table(conn)
                conn.execute("insert into public.bench_plain select * from public.training_metrics")
            phases["prefill_bench_plain"] = time.perf_counter() - t
            log(f"  copy of the metrics into bench_plain: {phases['prefill_bench_plain']:.1f} s")

        conn.execute("reset session_replication_role")
        t = time.perf_counter()
        conn.execute("vacuum (analyze)")
        conn.execute("checkpoint")
        phases["vacuum_analyze_checkpoint"] = time.perf_counter() - t
        log(f"  VACUUM (ANALYZE) + CHECKPOINT: {phases['vacuum_analyze_checkpoint']:.1f} s")

    total = time.perf_counter() - t_all
    return {
        "phases_s": phases,
        "total_s": total,
        "metrics_inserted": inserted,
        "statuses": vars(data.statuses),
    }
