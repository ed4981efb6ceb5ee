"""Runs every pgTAP file of ``supabase/tests/database`` through ``pg_prove``, one test per file.

Each file runs in its own fresh clone of the migrated template, so files cannot see each other's
rows. pgTAP is always installed in CI (``make test`` installs it); elsewhere a machine without it
skips these tests with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

PGTAP_DIR = Path(__file__).resolve().parents[1] / "supabase" / "tests" / "database"
PGTAP_FILES = sorted(PGTAP_DIR.glob("*.sql"))


def test_pgtap_files_exist() -> None:
    assert PGTAP_FILES, f"no pgTAP files in {PGTAP_DIR}"


def _pg_prove_args(url: str) -> list[str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    args = ["-h", host, "-d", parts.path.lstrip("/"), "-U", parts.username or "postgres"]
    if parts.port:
        args += ["-p", str(parts.port)]
    return args


@pytest.mark.parametrize("path", PGTAP_FILES, ids=[p.name for p in PGTAP_FILES])
def test_pgtap_file(path: Path, db_url: str) -> None:
    with psycopg.connect(db_url) as c:
        has_pgtap = c.execute(
            "select exists (select from pg_extension where extname = 'pgtap')"
        ).fetchone()
    pg_prove = shutil.which("pg_prove")
    if not (has_pgtap and has_pgtap[0] and pg_prove):
        if os.environ.get("CI"):
            pytest.fail("pgTAP and pg_prove must be installed in CI (make test installs them)")
        pytest.skip("pgTAP or pg_prove is not installed on this machine")
    env = dict(os.environ)
    parts = urlsplit(db_url)
    if parts.password:
        env["PGPASSWORD"] = parts.password
    result = subprocess.run(
        [pg_prove, "--verbose", "--failures", *_pg_prove_args(db_url), str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
