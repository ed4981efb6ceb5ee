"""Smoke test of benchmarks/read_bench.py at a tiny scale (no timing assertions): every read
case returns every row of the loaded session, and ``--stages`` splits one read by stage."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

import read_bench  # noqa: E402


def test_read_bench_reads_every_row_and_splits_the_stages(
    direct_db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "read.json"
    args = ["--database-url", direct_db_url, "--epochs", "300", "--runs", "2", "--warmup", "0"]
    report = read_bench.main([*args, "--stages", "--json", str(out)])
    assert [r["rows"] for r in report["results"]] == [300] * 5
    assert report["results"][0]["name"] == "plain query"
    assert list(report["stages_cpu_ms"]) == list(read_bench.STAGES)
    assert all(ms >= 0 for ms in report["stages_cpu_ms"].values())
    assert json.loads(out.read_text())["epochs"] == 300
    speeds = report["machine_speed_ms"]  # the reference taken at the start and at the end
    assert len(speeds) == 2 and all(0 < ms < 10_000 for ms in speeds)
