"""Smoke test of sdk_bench's paced measure at a tiny scale (no timing assertions): every paced
epoch lands in the database, and both calls are reported."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

from sdk_bench import epoch_metrics16  # noqa: E402
from sdk_bench_paced import bench_paced, describe_paced  # noqa: E402


def test_paced_calls_land_and_are_reported(
    direct_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path))
    report = bench_paced(direct_db_url, calls=8, pause=0.001, row=epoch_metrics16)
    assert report["calls"] == 8 and report["pause_ms"] == 1.0
    for call in ("log_epoch", "empty_call"):
        assert 0 < report[call]["p50_us"] <= report[call]["p99_us"]
    with psycopg.connect(direct_db_url) as conn:
        row = conn.execute(
            "select s.status, count(m.epoch), max(m.epoch), min(m.extra ->> 'lr_pg1')"
            " from training_sessions s join training_metrics m on m.session_id = s.id"
            " where s.session_name = 'sdk_bench paced' group by s.status"
        ).fetchone()
    assert row is not None and row[:3] == ("completed", 8, 7) and row[3] is not None
    assert "log_epoch after a 1 ms pause" in describe_paced(report)
