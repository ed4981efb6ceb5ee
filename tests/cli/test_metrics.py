"""``mltrack metrics`` (table, CSV, JSON) and ``mltrack compare`` against a real database."""

from __future__ import annotations

import csv
import io
import json
import re

from mltrack_sdk.models import EpochMetrics

from .support import assert_red_line, assert_usage_error, invoke, record

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def test_metrics_table_lists_every_epoch(db_url: str) -> None:
    run = record(db_url, "metric run", maps=[0.01 * i for i in range(12)])
    result = invoke("metrics", run.id, "--database-url", db_url)
    assert result.exit_code == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "Epochs of metric run"
    header = next(line for line in lines if "EPOCH" in line).split()
    assert header == [
        "EPOCH", "BOX", "CLS", "DFL", "LOSS", "VAL", "LOSS", "P", "R", "mAP50", "mAP50-95", "LR",
        "TIME",
    ]  # fmt: skip
    rows = [line.split() for line in lines if line[:6].strip().isdigit()]
    assert [row[0] for row in rows] == [str(i) for i in range(12)]
    assert rows[3] == [
        "3", "1.2000", "1.7000", "1.0000", "3.9000", "-", "0.5000", "0.4000", "0.0600", "0.0300",
        "0.010000", "2s",
    ]  # fmt: skip


def test_metrics_fit_a_narrow_terminal_by_leaving_columns_out(db_url: str) -> None:
    run = record(db_url, "narrow", maps=(0.1,))
    result = invoke("metrics", run.id, "--database-url", db_url, env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "EPOCH" in line)
    assert header.split() == ["EPOCH", "LOSS", "VAL", "LOSS", "P", "R", "mAP50", "mAP50-95"]
    assert max(len(line) for line in result.stdout.splitlines()) <= 60


def test_metrics_csv_and_json_hold_every_column(db_url: str) -> None:
    run = record(db_url, "export", maps=(0.1, 0.2))
    as_csv = invoke("metrics", run.id, "--csv", "--database-url", db_url)
    assert as_csv.exit_code == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == list(EpochMetrics.model_fields)
    assert [(r["epoch"], r["map50_95"], r["box_loss"]) for r in rows] == [
        ("0", "0.1", "1.5"),
        ("1", "0.2", "1.4"),
    ]
    assert rows[0]["val_box_loss"] == "" and rows[0]["extra"] == "{}"

    as_json = invoke("metrics", run.id, "--json", "--database-url", db_url)
    assert as_json.exit_code == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert [EpochMetrics.model_validate(row).map50_95 for row in data] == [0.1, 0.2]
    assert all(row["session_id"] == run.id for row in data)


def test_metrics_of_a_session_without_epochs_and_errors(db_url: str) -> None:
    run = record(db_url, "empty", maps=(), finish="failed")
    result = invoke("metrics", run.id, "--database-url", db_url)
    assert (result.exit_code, result.stdout) == (0, "No epochs logged yet.\n")
    assert invoke("metrics", run.id, "--json", "--database-url", db_url).stdout == "[]\n"
    assert_red_line(invoke("metrics", UNKNOWN, "--database-url", db_url), f"no session {UNKNOWN}")
    assert_usage_error(invoke("metrics", run.id, "--csv", "--json"), "--csv or --json, not both")
    assert_usage_error(invoke("metrics", "nope"), "'ID'")


def test_compare_puts_sessions_side_by_side(db_url: str) -> None:
    a = record(db_url, "lr high", maps=(0.1, 0.3), config={"lr0": 0.01, "mosaic": 1.0})
    b = record(db_url, "lr low", maps=(0.2, 0.25), config={"lr0": 0.001, "mosaic": 1.0})
    result = invoke("compare", a.id, b.id, "--database-url", db_url)
    assert result.exit_code == 0, result.stderr
    cells = [re.split(r"\s{2,}", line.strip()) for line in result.stdout.splitlines()]
    rows = {row[0]: row[1:] for row in cells}
    assert rows["id"] == [a.id, b.id]
    assert rows["status"] == ["completed", "completed"]
    assert rows["best mAP50-95"] == ["0.3000", "0.2500"]
    assert rows["final loss"] == ["4.3000", "4.3000"]
    assert rows["config.lr0"] == ["0.01", "0.001"]
    assert "config.mosaic" not in rows  # the same in both: not a difference

    as_json = invoke("compare", b.id, a.id, "--json", "--database-url", db_url)
    assert as_json.exit_code == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert [s["id"] for s in data["sessions"]] == [b.id, a.id]
    assert data["config_differences"] == {"lr0": [0.001, 0.01]}


def test_compare_marks_the_best_value_of_each_row(db_url: str) -> None:
    a = record(db_url, "a", maps=(0.1, 0.3))
    b = record(db_url, "b", maps=(0.2, 0.25))
    colour = {"NO_COLOR": None, "FORCE_COLOR": "1"}
    result = invoke("compare", a.id, b.id, "--database-url", db_url, env=colour)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    best = next(line for line in lines if "best mAP50-95" in line)
    assert "\x1b[1;32m0.3000" in best and "\x1b[1;32m0.2500" not in best
    loss = next(line for line in lines if "final loss" in line)
    assert loss.count("\x1b[1;32m4.3000") == 2  # a tie: both are the best


def test_compare_errors(db_url: str) -> None:
    a = record(db_url, "only", maps=(0.1,))
    assert_usage_error(invoke("compare", a.id), "at least two different session ids")
    assert_usage_error(invoke("compare", a.id, a.id), "at least two different session ids")
    assert_usage_error(invoke("compare", a.id, "x"), "'IDS'")
    assert_red_line(invoke("compare", a.id, UNKNOWN, "--database-url", db_url), UNKNOWN)
