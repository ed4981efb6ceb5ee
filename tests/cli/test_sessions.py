"""``mltrack sessions list|show`` and ``mltrack stop`` against a real database."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from mltrack_sdk.models import SessionDetail, TrainingSession

from .support import assert_red_line, assert_usage_error, invoke, record

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def test_list_shows_sessions_newest_first_and_filters_them(db_url: str) -> None:
    a = record(db_url, "alpha run", maps=(0.1, 0.25))
    b = record(db_url, "beta run", model_type="yolov8s", dataset="coco8")
    c = record(db_url, "gamma run", maps=(0.05,), finish=None, epochs=5)
    try:
        result = invoke("sessions", "list", "--database-url", db_url)
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        header = next(line for line in lines if "STATUS" in line)
        assert header.split() == [
            "ID", "NAME", "MODEL", "DATASET", "STATUS", "EPOCHS", "mAP50-95", "CREATED",
        ]  # fmt: skip
        rows = [line for line in lines if line.strip()[:8] in (a.id[:8], b.id[:8], c.id[:8])]
        assert [row.split()[0] for row in rows] == [c.id, b.id, a.id]
        assert rows[0].split()[1:] == [
            "gamma", "run", "yolov8n", "shapes", "running", "1/5", "0.0500", "just", "now",
        ]  # fmt: skip
        assert rows[2].split()[5:8] == ["completed", "2/2", "0.2500"]

        def listed(*args: str) -> list[str]:
            out = invoke("sessions", "list", "--database-url", db_url, "--json", *args)
            assert out.exit_code == 0, out.stderr
            return [row["id"] for row in json.loads(out.stdout)]

        assert listed("--status", "running") == [c.id]
        assert listed("--model-type", "yolov8s") == [b.id]
        assert listed("--dataset", "shapes", "--status", "completed") == [a.id]
        assert listed("--limit", "2") == [c.id, b.id]
        assert listed("--status", "failed") == []
        none = invoke("sessions", "list", "--database-url", db_url, "--dataset", "nothing")
        assert (none.exit_code, none.stdout) == (0, "No sessions match.\n")
    finally:
        c.finish()


def test_list_json_is_the_session_rows(db_url: str, conn: psycopg.Connection[Any]) -> None:
    run = record(db_url, "json run", config={"lr0": 0.01})
    result = invoke("sessions", "list", "--json", "--database-url", db_url)
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert list(row) == sorted(TrainingSession.model_fields)
    stored = conn.execute(
        "select best_map50_95, epochs_completed, status from training_sessions where id = %s",
        (run.id,),
    ).fetchone()
    assert stored is not None
    assert (row["id"], row["session_name"], row["config"]) == (run.id, "json run", {"lr0": 0.01})
    assert row["best_map50_95"] == stored["best_map50_95"] == 0.3
    assert (row["epochs_completed"], row["status"]) == (3, "completed")
    assert TrainingSession.model_validate(row).id.hex == run.id.replace("-", "")


def test_show_prints_summary_epochs_validation_and_benchmarks(db_url: str) -> None:
    run = record(db_url, "show run", maps=[0.01 * i for i in range(12)], finish=None)
    run.record_validation(
        [
            {"class_name": "circle", "class_id": 0, "images": 16, "instances": 20, "map50": 0.5},
            {"images": 16, "instances": 41, "precision": 0.6, "map50": 0.55, "map50_95": 0.3},
        ]
    )
    run.record_benchmark(8.25, device="cpu", device_name="Test CPU", img_size=128, num_runs=20)
    run.finish("completed")

    result = invoke("sessions", "show", run.id, "--database-url", db_url)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Session show run" in out
    summary = {line.split("  ")[0].strip(): line for line in out.splitlines() if "  " in line}
    assert run.id in summary["id"]
    assert "completed" in summary["status"]
    assert "12/12" in summary["epochs"]
    assert "0.1100" in summary["best mAP50 / mAP50-95"]
    assert "8.25 ms, 121.2 FPS" in summary["best inference"]
    # The latest ten epochs, the rest left to `mltrack metrics`.
    assert "Last 10 of 12 epochs (all: mltrack metrics ID)" in out
    table = out.split("Last 10")[1].split("Validation")[0]
    assert [line.split()[0] for line in table.splitlines() if line[:6].strip().isdigit()] == [
        str(i) for i in range(2, 12)
    ]
    validation = out.split("Validation")[1].split("Benchmarks")[0]
    assert [line.split()[:2] for line in validation.splitlines() if " val " in line] == [
        ["val", "all"],
        ["val", "circle"],
    ]
    bench = out.split("Benchmarks")[1]
    assert "cpu (Test CPU)" in bench and "8.25" in bench and "121.2" in bench


def test_show_json_is_the_session_detail(db_url: str) -> None:
    run = record(db_url, "detail", maps=(0.2, 0.4), finish=None)
    run.record_validation({"map50": 0.7, "map50_95": 0.4})
    run.finish()
    result = invoke("sessions", "show", run.id, "--json", "--database-url", db_url)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"session", "metrics", "validation_results", "benchmarks"}
    detail = SessionDetail.model_validate(data)
    assert str(detail.session.id) == run.id
    assert [m.epoch for m in detail.metrics] == [0, 1]
    assert [(v.class_name, v.map50) for v in detail.validation_results] == [("all", 0.7)]
    assert detail.benchmarks == ()


def test_show_errors(db_url: str) -> None:
    assert_red_line(
        invoke("sessions", "show", UNKNOWN, "--database-url", db_url), f"no session {UNKNOWN}"
    )
    assert_usage_error(invoke("sessions", "show", "not-a-uuid"), "'ID'", "UUID")
    assert_usage_error(invoke("sessions", "show"), "Missing argument")
    assert_usage_error(invoke("sessions", "list", "--status", "done"), "--status", "'done'")
    assert_usage_error(invoke("sessions", "list", "--limit", "0"), "--limit")
    assert_usage_error(invoke("sessions", "list", "--bogus"), "No such option")


def test_stop_asks_a_running_session_and_its_heartbeat_hears_it(
    db_url: str, conn: psycopg.Connection[Any]
) -> None:
    run = record(db_url, "to stop", finish=None, epochs=10)
    try:
        result = invoke("stop", run.id, "--reason", "diverged", "--database-url", db_url)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(f"Stop requested for to stop ({run.id})")
        row = conn.execute(
            "select stop_requested, status, status_reason from training_sessions where id = %s",
            (run.id,),
        ).fetchone()
        assert row == {"stop_requested": True, "status": "running", "status_reason": "diverged"}
        assert run.heartbeat() is True
        assert run.stop_requested
    finally:
        run.finish("cancelled")

    again = invoke("stop", run.id, "--database-url", db_url)
    assert_red_line(again, "already cancelled", "nothing to stop")
    assert_red_line(invoke("stop", UNKNOWN, "--database-url", db_url), UNKNOWN)
    assert_usage_error(invoke("stop", "123"), "UUID")
