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
from dbbench_load import create_plain_table
from dbbench_server import Log, print_flush
from dbbench_writes import (
    API_COLUMNS16,
    METRIC_KEYS,
    PLAIN_COLUMNS16,
    _start_sessions,
    extra_values,
    synthetic_epoch,
)
from psycopg.types.json import Jsonb

#: (name, statement, what is switched off first in the same transaction)
VARIANTS: tuple[tuple[str, str, str | None], ...] = (
    ("plain", PLAIN_COLUMNS16, None),
    ("api", API_COLUMNS16, None),
    (
        "api_without_summary",
        API_COLUMNS16,
        "alter table public.training_metrics disable trigger training_metrics_inserted",
    ),
    (
        "api_without_triggers_and_fk",
        API_COLUMNS16,
        "alter table public.training_metrics disable trigger all",
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
    return "server CPU", lambda: int(stat.read_text().split()[0]) / 1e9


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
                    if switch:
                        conn.execute(switch)
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
    log(f"  one {batch}-row log_epoch_columns call (16-metric row), median {clock_name} ms:")
    for name, value in ms.items():
        log(f"    {name:<30}{value:8.2f}")
    log(
        f"    the API's excess {ms['api'] - ms['plain']:.2f} ms: foreign key"
        f" {parts['foreign_key_ms']:.2f}, CHECK constraints and the function"
        f" {parts['checks_and_function_ms']:.2f}, summary trigger"
        f" {parts['summary_trigger_ms']:.2f}"
    )
    return {"clock": clock_name, "batch": batch, "batches": batches, "median_ms": ms, **parts}
