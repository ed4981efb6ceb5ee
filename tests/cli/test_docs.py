"""docs/cli.md is what scripts/gen_cli_docs.py writes from the live app's --help: every command
registered (by any module) is in it, and an edited help text or a new command fails here until
the reference is regenerated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        "docs/cli.md is stale; run `.venv/bin/python scripts/gen_cli_docs.py`:\n"
        + result.stdout[-6000:]
        + result.stderr[-2000:]
    )


def test_readme_points_to_the_cli_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    assert "docs/cli.md" in section
