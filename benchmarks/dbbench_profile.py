"""Where the SQL API's write time goes: one log_epoch_columns batch of the 16-metric row, with
its parts switched off one at a time, beside the plain insert of the same rows.

See ``--profile-writes`` in ``db_bench.py``'s docstring. Each measurement is a transaction that
is rolled back (the trigger switches with it), so the database is left as it was: switch, one
untimed call (a switch invalidates the cached plans; this call plans them again), then the timed
call of the next 1000 epochs of the same fresh session.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from dbbench_catalog import extra_values, synthetic_epoch
from dbbench_load import create_plain_table
from dbbench_server import Log, print_flush
from dbbench_writes import API_COLUMNS16, METRIC_KEYS, PLAIN_COLUMNS16, _start_sessions
from psycopg.types.json import Jsonb

_NO_SUMMARY = "alter table public.training_metrics disable trigger training_metrics_inserted"

#: (name, statement, what is switched off first in the same transaction)
VARIANTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("plain", PLAIN_COLUMNS16, ()),
    ("api", API_COLUMNS16, ()),
    ("api_without_summary", API_COLUMNS16, (_NO_SUMMARY,)),
    (
        "api_without_triggers_and_fk",
        API_COLUMNS16,
        ("alter table public.training_metrics disable trigger all",),
    ),
    # The foreign key's probes through the primary key's btree: the session key's hash index
    # (migration 20261203150001), which the planner prefers for them, is dropped.
    (
        "api_without_summary_btree_key",
        API_COLUMNS16,
        ("drop index public.training_sessions_id_hash_idx", _NO_SUMMARY),
    ),
)


def _clock(conn: psycopg.Connection[Any]) -> tuple[str, Callable[[], float]]:
    """The backend's CPU time (Linux schedstat of a local server: not skewed by other load), or
    the wall clock where the server's process cannot be read."""
    pid = conn.execute("select pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    stat = Path(f"/proc/{pid}/schedstat")
    try:
        int(stat.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return "wall", time.perf_counter
    state = Path(f"/proc/{pid}/stat")

    def cpu() -> float:
        # The kernel adds a run to the total when the process leaves the CPU: the backend may
        # still be on it for a moment after its answer arrived, so wait until it sleeps (on
        # the next message), or a short statement reads as taking no time at all.
        deadline = time.perf_counter() + 0.05
        while state.read_text().rsplit(")", 1)[1].split()[0] == "R":
            if time.perf_counter() > deadline:
                break
            time.sleep(0)
        return int(stat.read_text().split()[0]) / 1e9

    return "server CPU", cpu


def profile_writes(
    url: str, batches: int = 30, batch: int = 1000, seed: int = 42, log: Log = print_flush
) -> dict[str, Any]:
    """Median time of one ``batch``-row call per variant over ``batches`` rounds (variants in a
    random order each round, after one untimed round), and the parts derived from them."""
    rng = random.Random(seed + 4)
    with psycopg.connect(url, autocommit=True) as conn:
        create_plain_table(conn)
    session = _start_sessions(url, 1, 2 * batch, f"profile-{uuid.uuid4().hex[:8]}")[0]

    def arrays(first: int) -> tuple[Any, ...]:
        rows = [synthetic_epoch(rng, e, 2 * batch, 0.6) for e in range(first, first + batch)]
        return (
            session,
            [r["epoch"] for r in rows],
            *([r[k] for r in rows] for k in METRIC_KEYS),
            [Jsonb(extra_values(r["epoch"], 2 * batch)) for r in rows],
        )

    warm, timed = arrays(1), arrays(batch + 1)
    samples: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    with psycopg.connect(url, autocommit=True) as conn:
        clock_name, clock = _clock(conn)
        for i in range(batches + 1):
            for name, statement, switch in rng.sample(VARIANTS, len(VARIANTS)):
                conn.execute("begin")
                try:
                    for statement_off in switch:
                        conn.execute(statement_off)
                    conn.execute(statement, warm)
                    t = clock()
                    conn.execute(statement, timed)
                    took = clock() - t
                finally:
                    conn.execute("rollback")
                if i:
                    samples[name].append(took * 1000.0)
        conn.execute("delete from public.training_sessions where id = %s", (session,))
    ms = {name: statistics.median(v) for name, v in samples.items()}
    parts = {
        "summary_trigger_ms": ms["api"] - ms["api_without_summary"],
        "foreign_key_ms": ms["api_without_summary"] - ms["api_without_triggers_and_fk"],
        "checks_and_function_ms": ms["api_without_triggers_and_fk"] - ms["plain"],
    }
    btree_key_ms = ms["api_without_summary_btree_key"] - ms["api_without_triggers_and_fk"]
    log(f"  one {batch}-row log_epoch_columns call (16-metric row), median {clock_name} ms:")
    for name, value in ms.items():
        log(f"    {name:<30}{value:8.2f}")
    log(
        f"    the API's excess {ms['api'] - ms['plain']:.2f} ms: foreign key"
        f" {parts['foreign_key_ms']:.2f}, CHECK constraints and the function"
        f" {parts['checks_and_function_ms']:.2f}, summary trigger"
        f" {parts['summary_trigger_ms']:.2f}"
    )
    log(
        f"    the foreign key through the session key's hash index {parts['foreign_key_ms']:.2f},"
        f" through the primary key's btree {btree_key_ms:.2f}"
    )
    # Postgres 15-18 check the key with one SPI query per row: plain + this part is the least
    # an API call that keeps the foreign key can cost, whatever else it does.
    key_floor = (ms["plain"] + parts["foreign_key_ms"]) / ms["plain"]
    log(
        f"    the plain insert with the foreign key's checks alone: {key_floor:.2f}x the plain"
        " insert (the least any call that keeps the key can cost)"
    )
    return {
        "clock": clock_name,
        "batch": batch,
        "batches": batches,
        "median_ms": ms,
        **parts,
        "foreign_key_btree_key_ms": btree_key_ms,
        "plain_with_foreign_key_ratio": key_floor,
    }


#: Single-row statements a live run's writes make, each run ``n`` times in one DO block.
CHECK_LOOPS = {
    "session UPDATE": "update public.training_sessions set status_reason = i::text where id = sid",
    "metric INSERT": (
        "insert into public.training_metrics (session_id, epoch, total_loss, map50_95, extra)"
        " values (sid, i, 1.5, 0.5, '{\"fitness\": 0.5}')"
    ),
}
_CHECKED = "('public.training_sessions'::regclass, 'public.training_metrics'::regclass)"


def profile_checks(
    url: str, statements: int = 300, rounds: int = 7, seed: int = 42, log: Log = print_flush
) -> dict[str, Any]:
    """What the CHECK constraints cost a single-row statement: ``statements`` session UPDATEs
    and metric INSERTs (the metrics table's triggers off, so the INSERT is alone), run in the
    server in one DO block, with the tables' CHECK constraints and with them dropped, each in a
    transaction that is rolled back. Postgres prepares a table's CHECKs for every statement,
    whatever its row count: this is that fixed cost. Median per statement over ``rounds``."""
    rng = random.Random(seed + 5)
    session = _start_sessions(url, 1, 2 * statements, f"checks-{uuid.uuid4().hex[:8]}")[0]
    cases = [(name, checks) for name in CHECK_LOOPS for checks in (True, False)]
    samples: dict[tuple[str, bool], list[float]] = {case: [] for case in cases}
    with psycopg.connect(url, autocommit=True) as conn:
        clock_name, clock = _clock(conn)
        drops = [
            r[0]
            for r in conn.execute(
                "select format('alter table %s drop constraint %I', conrelid::regclass, conname)"
                f" from pg_constraint where contype = 'c' and conrelid in {_CHECKED}"
            ).fetchall()
        ]
        for i in range(rounds + 1):
            for name, checks in rng.sample(cases, len(cases)):
                block = (
                    f"do $$ declare sid uuid := '{session}'; begin"
                    f" for i in 1..{statements} loop {CHECK_LOOPS[name]}; end loop; end $$"
                )
                conn.execute("begin")
                try:
                    conn.execute("alter table public.training_metrics disable trigger all")
                    for drop in [] if checks else drops:
                        conn.execute(drop)
                    t = clock()
                    conn.execute(block)
                    took = clock() - t
                finally:
                    conn.execute("rollback")
                if i:
                    samples[(name, checks)].append(took * 1000.0 / statements)
        conn.execute("delete from public.training_sessions where id = %s", (session,))
    ms = {
        f"{n} {'with' if c else 'without'} CHECKs": statistics.median(v)
        for (n, c), v in samples.items()
    }
    log(f"  one single-row statement, median {clock_name} ms ({len(drops)} CHECK constraints):")
    for name in CHECK_LOOPS:
        with_, without = ms[f"{name} with CHECKs"], ms[f"{name} without CHECKs"]
        log(
            f"    {name:<16} {with_:6.3f} with its CHECKs, {without:6.3f} without:"
            f" {with_ - without:6.3f} for the CHECKs"
        )
    return {"clock": clock_name, "statements": statements, "rounds": rounds, "median_ms": ms}
