"""Wall time of ``mltrack --help`` (goal: under 300 ms), and what its imports cost.

Each figure is a fresh interpreter, as a user's shell starts one:

1. ``mltrack --help`` (the installed console script when there is one, else
   ``python -m mltrack_sdk.cli``): best and median of ``--runs``;
2. ``mltrack sessions list --help``: a sub-command's help, the same way;
3. ``python -c pass``: the interpreter's own start-up, for reference;
4. the import time of ``mltrack_sdk.cli`` by module (``python -X importtime``), the slowest
   ones, so a command module that imports something heavy at load time shows up here.

Byte-code caches are on (in a temp folder), as for an installed package, and a first run fills
them before anything is timed.

Also asserts that ``--help`` loads none of psycopg, torch, ultralytics, supabase or streamlit.

    .venv/bin/python benchmarks/cli_bench.py            # 15 runs each
    .venv/bin/python benchmarks/cli_bench.py --runs 5 --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 300.0
#: Heavy packages that ``mltrack --help`` must not import.
FORBIDDEN = ("psycopg", "torch", "ultralytics", "supabase", "streamlit")


def mltrack_command() -> list[str]:
    """The installed ``mltrack`` script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).parent / "mltrack"
    if script.exists():
        return [str(script)]
    found = shutil.which("mltrack")
    return [found] if found else [sys.executable, "-m", "mltrack_sdk.cli"]


def bytecode_env() -> dict[str, str]:
    """The environment with byte-code caching on, as after a ``pip install`` (a shell with
    PYTHONDONTWRITEBYTECODE would compile every module on every run); the caches go to a
    folder of their own, not into the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "mltrack-cli-bench-pycache")
    return env


def timed(cmd: list[str], runs: int) -> list[float]:
    """Wall seconds of ``runs`` runs of ``cmd`` (output discarded; a failure stops the run)."""
    env = {**bytecode_env(), "COLUMNS": "100"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> dict[str, float]:
    return {
        "best_ms": round(min(times) * 1000, 1),
        "median_ms": round(statistics.median(times) * 1000, 1),
    }


def import_profile(top: int) -> tuple[list[tuple[str, float]], list[str]]:
    """The ``top`` slowest modules (cumulative ms) of importing ``mltrack_sdk.cli`` and running
    ``--help``, and the forbidden packages it loaded."""
    code = (
        "import sys\n"
        "from mltrack_sdk.cli import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r}))\n"
        "print('FORBIDDEN=' + ','.join(bad), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=bytecode_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    forbidden: list[str] = []
    for line in result.stderr.splitlines():
        if line.startswith("FORBIDDEN="):
            forbidden = [m for m in line.removeprefix("FORBIDDEN=").split(",") if m]
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((match.group(3), int(match.group(1)) / 1000))
    rows.sort(key=lambda row: row[1], reverse=True)
    return rows[:top], forbidden


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per figure")
    parser.add_argument("--top", type=int, default=12, help="slowest imports to list")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    command = mltrack_command()
    timed([*command, "--help"], 1)  # a first run writes the byte-code caches
    report: dict[str, Any] = {
        "command": " ".join(command),
        "runs": args.runs,
        "goal_ms": GOAL_MS,
        "help": summary(timed([*command, "--help"], args.runs)),
        "sessions_list_help": summary(timed([*command, "sessions", "list", "--help"], args.runs)),
        "bare_python": summary(timed([sys.executable, "-c", "pass"], args.runs)),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    slowest, forbidden = import_profile(args.top)
    report["slowest_imports_ms"] = dict(slowest)
    report["forbidden_imports"] = forbidden
    report["meets_goal"] = report["help"]["median_ms"] < GOAL_MS and not forbidden

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        help_ms, bare = report["help"], report["bare_python"]
        print(
            f"mltrack --help: best {help_ms['best_ms']:.0f} ms, median {help_ms['median_ms']:.0f}"
            f" ms (goal < {GOAL_MS:.0f} ms) over {args.runs} runs"
        )
        sub = report["sessions_list_help"]
        print(
            f"mltrack sessions list --help: best {sub['best_ms']:.0f} ms,"
            f" median {sub['median_ms']:.0f} ms"
        )
        print(f"python -c pass: best {bare['best_ms']:.0f} ms, median {bare['median_ms']:.0f} ms")
        print(f"load average {report['load_average']} on {report['cpus']} CPUs")
        print("slowest imports (cumulative ms):")
        for module, ms in slowest:
            print(f"  {ms:7.1f}  {module}")
        print(f"forbidden imports: {', '.join(forbidden) or 'none'}")
    return 0 if report["meets_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
