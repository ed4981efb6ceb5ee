"""``mltrack leaderboard``, ``datasets`` and ``sweeps list|show`` against a real database."""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg

from mltrack_sdk.models import HyperparameterRun, LeaderboardEntry, TrainingDataset

from .support import assert_red_line, assert_usage_error, invoke, record

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_leaderboard_ranks_completed_models_with_trophies(db_url: str) -> None:
    runs = {m: record(db_url, f"model {m}", maps=(m,)) for m in (0.2, 0.5, 0.4, 0.3)}
    record(db_url, "failed one", maps=(0.9,), finish="failed")
    result = invoke("leaderboard", "--database-url", db_url)
    assert result.exit_code == 0, result.stderr
    rows = [cells(line) for line in result.stdout.splitlines() if "model 0." in line]
    assert [row[:2] for row in rows] == [
        ["🥇 1", "model 0.5"],
        ["🥈 2", "model 0.4"],
        ["🥉 3", "model 0.3"],
        ["4", "model 0.2"],
    ]
    assert rows[0][-1] == runs[0.5].id
    assert rows[0][3:5] == ["shapes", "0.5000"]

    top = invoke("leaderboard", "--limit", "2", "--json", "--database-url", db_url)
    assert top.exit_code == 0, top.stderr
    entries = [LeaderboardEntry.model_validate(row) for row in json.loads(top.stdout)]
    assert [(e.rank, str(e.id), e.final_map50_95) for e in entries] == [
        (1, runs[0.5].id, 0.5),
        (2, runs[0.4].id, 0.4),
    ]


def test_leaderboard_empty_and_errors(db_url: str) -> None:
    result = invoke("leaderboard", "--database-url", db_url)
    assert (result.exit_code, result.stdout) == (0, "No completed sessions yet.\n")
    assert invoke("leaderboard", "--json", "--database-url", db_url).stdout == "[]\n"
    assert_usage_error(invoke("leaderboard", "--limit", "0"), "--limit")
    assert_usage_error(invoke("leaderboard", "--limit", "51"), "--limit")
    assert_usage_error(invoke("leaderboard", "extra"), "unexpected extra argument")


def test_datasets_lists_classes_and_splits(db_url: str) -> None:
    empty = invoke("datasets", "--database-url", db_url)
    assert (empty.exit_code, empty.stdout) == (0, "No datasets registered yet.\n")
    run = record(db_url, "with data", finish=None)
    run.upsert_dataset("shapes", class_names=["circle", "square"], train_size=64, val_size=16)
    run.finish()
    result = invoke("datasets", "--database-url", db_url)
    assert result.exit_code == 0, result.stderr
    (row,) = [cells(line) for line in result.stdout.splitlines() if "circle" in line]
    assert row[:6] == ["shapes", "yolo", "2: circle, square", "64", "16", "0"]

    as_json = invoke("datasets", "--json", "--database-url", db_url)
    (dataset,) = [TrainingDataset.model_validate(d) for d in json.loads(as_json.stdout)]
    assert (dataset.name, dataset.class_names, dataset.val_size) == (
        "shapes",
        ["circle", "square"],
        16,
    )


def _sweep(db_url: str, conn: psycopg.Connection[Any]) -> tuple[str, list[str]]:
    """A grid sweep over lr0 with two trials, written as `mltrack sweep` writes one."""
    run = conn.execute(
        "select id from create_hyperparameter_run(name => 'lr grid', n_trials => 2,"
        " search_space => %s::jsonb, model_type => 'yolov8n', dataset_name => 'shapes')",
        (json.dumps({"method": "grid", "space": {"lr0": [0.01, 0.001]}}),),
    ).fetchone()
    assert run is not None
    run_id = str(run["id"])
    trials = [
        record(
            db_url,
            f"lr grid #{n}",
            maps=maps,
            config={"lr0": lr0, "epochs": 2},
            hyperparameter_run_id=run_id,
        ).id
        for n, lr0, maps in ((1, 0.01, (0.1, 0.2)), (2, 0.001, (0.3, 0.35)))
    ]
    return run_id, trials


def test_sweeps_list_and_show(db_url: str, conn: psycopg.Connection[Any]) -> None:
    assert invoke("sweeps", "list", "--database-url", db_url).stdout == "No sweeps yet.\n"
    run_id, (first, second) = _sweep(db_url, conn)

    listed = invoke("sweeps", "list", "--database-url", db_url)
    assert listed.exit_code == 0, listed.stderr
    (row,) = [cells(line) for line in listed.stdout.splitlines() if run_id in line]
    assert row[:6] == [run_id, "lr grid", "map50_95 ↑", "running", "2/2 of 2", "0.3500"]
    runs = json.loads(invoke("sweeps", "list", "--json", "--database-url", db_url).stdout)
    assert HyperparameterRun.model_validate(runs[0]).best_session_id.hex == second.replace("-", "")

    shown = invoke("sweeps", "show", run_id, "--database-url", db_url)
    assert shown.exit_code == 0, shown.stderr
    assert "Sweep lr grid" in shown.stdout
    # Without the duration (the last cell), which depends on the machine.
    trials = [cells(line)[:-1] for line in shown.stdout.splitlines() if "lr grid #" in line]
    assert trials == [
        [first, "lr grid #1", "0.01", "completed", "0.2000"],
        ["★", second, "lr grid #2", "0.001", "completed", "0.3500"],
    ]
    as_json = json.loads(
        invoke("sweeps", "show", run_id, "--json", "--database-url", db_url).stdout
    )
    assert as_json["run"]["id"] == run_id
    assert [t["id"] for t in as_json["trials"]] == [first, second]


def test_sweeps_errors(db_url: str) -> None:
    assert_red_line(
        invoke("sweeps", "show", UNKNOWN, "--database-url", db_url),
        f"no hyperparameter sweep {UNKNOWN}",
    )
    assert_usage_error(invoke("sweeps", "show", "12"), "'ID'")
    assert_usage_error(invoke("sweeps", "list", "--limit", "-1"), "--limit")
