"""Smoke test of benchmarks/api_bench.py at a tiny scale (no timing assertions): both loads run
without an error and write what they say."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

import api_bench  # noqa: E402


def test_both_loads_run_without_errors(
    api_db_url: str, deno: str, db: psycopg.Connection[Any]
) -> None:
    args = ["--database-url", api_db_url, "--clients", "2", "--seconds", "1", "--warmup", "0.2"]
    result = api_bench.main(args)
    for load in ("api", "sql"):
        assert result[load]["errors"] == 0 and result[load]["requests"] > 0, result
        row = db.execute(
            "select count(*) as n from training_metrics m join training_sessions s"
            " on s.id = m.session_id where s.session_name like %s",
            (f"api bench % {load} %",),
        ).fetchone()
        assert row is not None and row["n"] >= result[load]["requests"]
