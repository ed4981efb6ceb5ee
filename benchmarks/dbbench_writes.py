"""Write side of the database benchmark: the SQL API against plain inserts of the same rows.

See phase 4 in ``db_bench.py``'s docstring.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from dbbench_catalog import GPUS, MODELS, extra_values, synthetic_epoch
from dbbench_load import create_plain_table
from dbbench_server import Log, print_flush
from psycopg.types.json import Jsonb

GOAL_WRITE_SLOWDOWN = 2.0
#: Issue 11's goal for the typed-array path the SDK writes through: the API with every trigger at
#: most this much slower than a plain insert of the same rows.
GOAL_COLUMNS_SLOWDOWN = 1.5

METRIC_KEYS = (
    "box_loss",
    "cls_loss",
    "dfl_loss",
    "total_loss",
    "val_box_loss",
    "val_cls_loss",
    "val_dfl_loss",
    "precision",
    "recall",
    "map50",
    "map50_95",
    "learning_rate",
    "epoch_time_seconds",
    "gpu_memory_mb",
)
_COLS = ("session_id", "epoch", *METRIC_KEYS)

API_SINGLE = (
    "select * from public.log_epoch(session_id => %s::uuid, epoch => %s::integer, "
    + ", ".join(f'"{k}" => %s::float8' for k in METRIC_KEYS)
    + ")"
)
PLAIN_SINGLE = (
    f"insert into public.bench_plain ({', '.join(_COLS)}) values (%s::uuid, "
    "%s::integer, " + ", ".join("%s::float8" for _ in METRIC_KEYS) + ")"
)
API_BATCH = "select public.log_epochs(%s::uuid, %s::jsonb)"
PLAIN_BATCH = (
    f"insert into public.bench_plain ({', '.join(_COLS)}, extra)"
    " select %s::uuid, r.epoch, "
    + ", ".join(f"r.{k}" for k in METRIC_KEYS)
    + ", coalesce(r.extra, '{}') from jsonb_populate_recordset(null::public.bench_plain,"
    " %s::jsonb) as r"
)
# The typed-array form the SDK's direct transport sends (binary arrays): the same on both sides.
API_COLUMNS = (
    "select public.log_epoch_columns(session_id => %s::uuid, epoch => %b::integer[], "
    + ", ".join(f'"{k}" => %b::float8[]' for k in METRIC_KEYS)
    + ")"
)
PLAIN_COLUMNS = (
    f"insert into public.bench_plain ({', '.join(_COLS)}) select %s::uuid, u.* from unnest("
    "%b::integer[], " + ", ".join("%b::float8[]" for _ in METRIC_KEYS) + ") as u"
)
# The realistic 16-metric row: the 14 columns and two values in extra (a jsonb[] beside them).
API_COLUMNS16 = API_COLUMNS[:-1] + ", extra => %b::jsonb[])"
PLAIN_COLUMNS16 = (
    f"insert into public.bench_plain ({', '.join(_COLS)}, extra) select %s::uuid, u.* from unnest("
    "%b::integer[], " + ", ".join("%b::float8[]" for _ in METRIC_KEYS) + ", %b::jsonb[]) as u"
)
QUERIES = {
    "row": (API_SINGLE, PLAIN_SINGLE),
    "json": (API_BATCH, PLAIN_BATCH),
    "columns": (API_COLUMNS, PLAIN_COLUMNS),
    "columns16": (API_COLUMNS16, PLAIN_COLUMNS16),
}
# COPY of the same rows into bench_plain, binary: the physical limit the API is measured against.
COPY_COLUMNS = (*_COLS, "extra")
COPY_TYPES = ("uuid", "integer", *("float8" for _ in METRIC_KEYS), "jsonb")


@dataclass(frozen=True)
class WriteMode:
    key: str
    batch: int
    epochs_per_session: int
    method: str  # "call": one autocommitted call per batch; "executemany": psycopg pipeline
    api: str
    plain: str
    # "row": one epoch per call; "json": a JSON array; "columns": typed arrays; "columns16":
    # typed arrays and an extra of two values per row (the realistic 16-metric row)
    form: str = "json"


WRITE_MODES: tuple[WriteMode, ...] = (
    WriteMode(
        "batch1_call", 1, 10, "call", "log_epoch(...) per row", "INSERT ... VALUES per row", "row"
    ),
    WriteMode(
        "batch1_executemany",
        1,
        10,
        "executemany",
        "executemany log_epoch(...)",
        "executemany INSERT ... VALUES",
        "row",
    ),
    WriteMode(
        "batch100",
        100,
        200,
        "call",
        "log_epochs(id, jsonb[100])",
        "INSERT ... SELECT jsonb_populate_recordset",
    ),
    WriteMode(
        "batch1000",
        1000,
        1000,
        "call",
        "log_epochs(id, jsonb[1000])",
        "INSERT ... SELECT jsonb_populate_recordset",
    ),
    WriteMode(
        "batch100_columns",
        100,
        200,
        "call",
        "log_epoch_columns(id, arrays[100])",
        "INSERT ... SELECT unnest(arrays)",
        "columns",
    ),
    WriteMode(
        "batch1000_columns",
        1000,
        1000,
        "call",
        "log_epoch_columns(id, arrays[1000])",
        "INSERT ... SELECT unnest(arrays)",
        "columns",
    ),
    WriteMode(
        "batch100_columns16",
        100,
        200,
        "call",
        "log_epoch_columns(id, arrays[100] + extra)",
        "INSERT ... SELECT unnest(arrays + extra)",
        "columns16",
    ),
    WriteMode(
        "batch1000_columns16",
        1000,
        1000,
        "call",
        "log_epoch_columns(id, arrays[1000] + extra)",
        "INSERT ... SELECT unnest(arrays + extra)",
        "columns16",
    ),
)


def _start_sessions(url: str, n: int, epochs: int, tag: str) -> list[uuid.UUID]:
    with psycopg.connect(url, autocommit=True) as c, c.transaction():
        return [
            c.execute(
                "select id from public.start_session(session_name => %s, model_type => %s,"
                " epochs => %s, dataset_name => 'coco128', batch_size => 16, img_size => 640,"
                " learning_rate => 0.01, hardware_info => %s)",
                (
                    f"bench-{tag}-{i}",
                    list(MODELS)[i % len(MODELS)],
                    epochs,
                    Jsonb({"gpu": GPUS[0]}),
                ),
            ).fetchone()[0]  # type: ignore[index]
            for i in range(n)
        ]


def _make_calls(
    mode: WriteMode, sessions: Sequence[uuid.UUID], rng: random.Random
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Parameters of every call, in the order they are made: round-robin over the sessions,
    as concurrent training runs log their epochs. The API and the plain side get the same; the
    second list holds the same rows for COPY (one tuple per row, extra as {} where there is none,
    under other session ids).
    """
    peaks = {sid: rng.uniform(0.3, 0.8) for sid in sessions}
    # bench_plain already holds the plain side's rows under the sessions' ids (its primary key).
    copy_ids = {sid: uuid.uuid5(uuid.NAMESPACE_OID, f"copy-{sid}") for sid in sessions}
    calls: list[tuple[Any, ...]] = []
    copy_rows: list[tuple[Any, ...]] = []
    n = mode.epochs_per_session
    for r in range(n // mode.batch):
        for sid in sessions:
            rows = [
                synthetic_epoch(rng, e, n, peaks[sid])
                for e in range(r * mode.batch + 1, (r + 1) * mode.batch + 1)
            ]
            if mode.form == "columns16":
                for row in rows:
                    row["extra"] = extra_values(row["epoch"], n)
            copy_rows.extend(
                (
                    copy_ids[sid],
                    row["epoch"],
                    *(row[k] for k in METRIC_KEYS),
                    Jsonb(row.get("extra", {})),
                )
                for row in rows
            )
            if mode.form == "row":
                calls.append((sid, rows[0]["epoch"], *(rows[0][k] for k in METRIC_KEYS)))
            elif mode.form in ("columns", "columns16"):
                arrays = [[r["epoch"] for r in rows], *([r[k] for r in rows] for k in METRIC_KEYS)]
                if mode.form == "columns16":
                    arrays.append([Jsonb(r["extra"]) for r in rows])
                calls.append((sid, *arrays))
            else:
                calls.append((sid, json.dumps(rows)))
    return calls, copy_rows


#: Rows per turn when the API and plain take turns: 500 single-row calls, 5 calls of 100 rows,
#: one of 1000. Turns much shorter than that would measure each side with the CPU caches the
#: other side just filled (a single-row plain insert took 3x as long after each API call).
TURN_ROWS = 500


def _turn_calls(batch: int) -> int:
    return max(1, TURN_ROWS // batch)


def _run_turns(
    url: str,
    queries: dict[str, str],
    calls: Sequence[tuple[Any, ...]],
    mode: WriteMode,
    rep: int,
) -> dict[str, float]:
    """Each side's calls on its own connection, the sides taking turns of about 500 rows each,
    the side that goes first alternating each turn: a machine whose speed drifts over seconds
    slows both sides alike. Returns each side's summed time."""
    sides = list(queries)
    took = dict.fromkeys(sides, 0.0)
    step = _turn_calls(mode.batch)
    with contextlib.ExitStack() as stack:
        conns = {s: stack.enter_context(psycopg.connect(url, autocommit=True)) for s in sides}
        # Both sides start from the same state: no dirty buffers, and the first change of every
        # page writes a full-page image to the WAL again (as after any checkpoint).
        conns[sides[0]].execute("checkpoint")
        for turn, first in enumerate(range(0, len(calls), step)):
            chunk = calls[first : first + step]
            for side in sides if (turn + rep) % 2 == 0 else sides[::-1]:
                conn, query = conns[side], queries[side]
                t = time.perf_counter()
                if mode.method == "executemany":
                    conn.cursor().executemany(query, chunk)
                else:
                    for args in chunk:
                        cur = conn.execute(query, args)
                        if cur.description is not None:
                            cur.fetchall()
                took[side] += time.perf_counter() - t
    return took


def _run_copy(url: str, rows: Sequence[tuple[Any, ...]]) -> float:
    """All the rows in one binary COPY into bench_plain, one commit: the physical limit."""
    query = f"copy public.bench_plain ({', '.join(COPY_COLUMNS)}) from stdin (format binary)"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("checkpoint")
        t = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur, cur.copy(query) as copy:
            copy.set_types(list(COPY_TYPES))
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - t


def bench_writes(
    url: str,
    write_sessions: int = 200,
    repeats: int = 2,
    seed: int = 42,
    modes: Sequence[WriteMode] = WRITE_MODES,
    log: Log = print_flush,
) -> list[dict[str, Any]]:
    """Rows/s through the API (all triggers) vs. plain inserts of the same rows into bench_plain,
    and vs. one COPY of them."""
    rng = random.Random(seed + 3)
    with psycopg.connect(url, autocommit=True) as conn:
        create_plain_table(conn)
        conn.execute("analyze public.bench_plain")
    results = []
    for mode in modes:
        api_s = plain_s = copy_s = 0.0
        rows_total = 0
        reps = []
        for rep in range(repeats):
            sessions = _start_sessions(
                url, write_sessions, mode.epochs_per_session, f"{mode.key}-{rep}"
            )
            calls, copy_rows = _make_calls(mode, sessions, rng)
            n_rows = len(calls) * mode.batch
            api_q, plain_q = QUERIES[mode.form]
            took = _run_turns(url, {"api": api_q, "plain": plain_q}, calls, mode, rep)
            took["copy"] = _run_copy(url, copy_rows)
            api_s += took["api"]
            plain_s += took["plain"]
            copy_s += took["copy"]
            rows_total += n_rows
            reps.append(
                {
                    "rows": n_rows,
                    "calls": len(calls),
                    "api_s": took["api"],
                    "plain_s": took["plain"],
                    "copy_s": took["copy"],
                    # Turns of the two sides (the API first in even turns of even repeats).
                    "turns": math.ceil(len(calls) / _turn_calls(mode.batch)),
                }
            )
        api_rps = rows_total / api_s
        plain_rps = rows_total / plain_s
        copy_rps = rows_total / copy_s
        slowdown = plain_rps / api_rps
        results.append(
            {
                "mode": mode.key,
                "batch_size": mode.batch,
                "method": mode.method,
                "api": mode.api,
                "plain": mode.plain,
                "sessions": write_sessions,
                "rows": rows_total,
                "api_s": api_s,
                "plain_s": plain_s,
                "api_rows_per_s": api_rps,
                "plain_rows_per_s": plain_rps,
                "slowdown": slowdown,
                "goal_slowdown": GOAL_WRITE_SLOWDOWN,
                "meets_goal": slowdown <= GOAL_WRITE_SLOWDOWN,
                "copy_s": copy_s,
                "copy_rows_per_s": copy_rps,
                "api_vs_copy": copy_rps / api_rps,
                "plain_vs_copy": copy_rps / plain_rps,
                # Only the typed-array forms (the SDK's path) carry issue 11's goal.
                "goal_columns_slowdown": GOAL_COLUMNS_SLOWDOWN if _columns(mode) else None,
                "meets_columns_goal": slowdown <= GOAL_COLUMNS_SLOWDOWN if _columns(mode) else None,
                "repeats": reps,
            }
        )
        log(
            f"  {mode.key:<20} API {api_rps:>10,.0f} rows/s   plain {plain_rps:>10,.0f} rows/s"
            f"   API {slowdown:.2f}x slower  ({rows_total:,} rows each)"
        )
        log(
            f"  {'':<20} COPY {copy_rps:>9,.0f} rows/s   API {copy_rps / api_rps:.2f}x slower"
            f" than COPY, plain {copy_rps / plain_rps:.2f}x"
        )
    return results


def _columns(mode: WriteMode) -> bool:
    return mode.form in ("columns", "columns16")
