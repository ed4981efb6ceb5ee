"""The dashboard's pages through Streamlit's AppTest, on real data written through the SDK.

AppTest runs the script in this process (a ``run_every`` fragment once per ``run()``); the live
path in a real browser is tested in test_browser.py.
"""

from __future__ import annotations

import json
import math
from typing import Any

import psycopg

from dashboard import data
from mltrack_sdk.client import Client
from tests.dashboard.support import (  # the fixtures are used by name
    app,
    chart_data,
    ended_sessions,
    log_run,
    no_ambient_config,
    run_synced,
    store_of,
    wait_for,
)

__all__ = ["app", "no_ambient_config"]


def _texts(at: Any) -> str:
    """Every markdown, caption, info, warning and error text on the page."""
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "error")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def _metric(at: Any, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}: {[m.label for m in at.metric]}"
    return str(found[0])


def _open(at: Any, tab: str) -> Any:
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def _seed(url: str) -> dict[str, Any]:
    """Three completed runs of rising quality, a failed and a cancelled one, one running."""
    runs = {
        "low": log_run(url, "yolov8n low", quality=0.3),
        "mid": log_run(url, "yolov8s mid", quality=0.5, model_type="yolov8s", dataset="cells"),
        "top": log_run(url, "yolov8n top", quality=0.8),
        "failed": log_run(
            url,
            "yolov8n broken",
            logged=2,
            status="failed",
            reason="RuntimeError: CUDA out of memory",
        ),
        "cancelled": log_run(
            url, "yolov8n stopped", logged=1, status="cancelled", reason="KeyboardInterrupt"
        ),
        "running": log_run(url, "yolov8n live", epochs=10, logged=3, status=None),
    }
    return runs


def test_each_tab_renders_real_data(direct_db_url: str, app: Any) -> None:
    runs = _seed(direct_db_url)
    try:
        at = run_synced(app(direct_db_url), direct_db_url)
        assert _metric(at, "Active sessions") == "1"
        assert _metric(at, "Total sessions") == "6"
        assert _metric(at, "Completed runs") == "3"
        assert _metric(at, "Best mAP50-95") == "0.800"
        assert "🟢" in _texts(at)

        # Active Training: the running session's card.
        assert "yolov8n live" in _texts(at)
        assert _metric(at, "Current epoch") == "2"
        assert at.button(key=f"stop-{runs['running'].id}").label == "Stop"

        # Training History: the five ended sessions.
        _open(at, "Training History")
        frame = at.dataframe[0].value
        assert sorted(frame["session"]) == sorted(
            ["yolov8n low", "yolov8s mid", "yolov8n top", "yolov8n broken", "yolov8n stopped"]
        )

        # Model Leaderboard: the completed three, best first, with trophies.
        _open(at, "Model Leaderboard")
        board = at.dataframe[0].value
        assert list(board["model"]) == ["yolov8n top", "yolov8s mid", "yolov8n low"]
        assert list(board["rank"]) == ["🏆", "🥈", "🥉"]
        # No run here has a benchmark: its speed cells are missing numbers, shown blank.
        assert board["inference ms"].isna().all() and board["FPS"].isna().all()
        board_proto = at.dataframe[0].proto
        assert board_proto.HasField("placeholder") and board_proto.placeholder == ""
        # mAP as the trophy cards show it (0.8500), not as a percent.
        columns = json.loads(board_proto.columns)
        formats = {c: v.get("type_config", {}).get("format") for c, v in columns.items()}
        assert formats["mAP50-95"] == formats["mAP50"] == "%.4f"
        assert formats["precision"] == formats["recall"] == "%.3f"
        assert [m.label for m in at.metric][-3:] == [
            "🏆 yolov8n top",
            "🥈 yolov8s mid",
            "🥉 yolov8n low",
        ]
    finally:
        runs["running"].finish("completed")


def test_details_show_charts_config_validation_benchmarks_and_the_reason(
    direct_db_url: str, app: Any
) -> None:
    run = log_run(direct_db_url, "yolov8n detailed", status=None)
    run.record_validation(
        [
            {"map50": 0.7, "map50_95": 0.45, "precision": 0.8, "recall": 0.6},
            {"class_name": "circle", "class_id": 0, "map50": 0.75, "map50_95": 0.5},
            {"class_name": "square", "class_id": 1, "map50": 0.65, "map50_95": 0.4},
        ]
    )
    run.record_benchmark(avg_inference_ms=7.5, p95_inference_ms=9.0, device="cpu", img_size=64)
    run.finish("completed")
    failed = log_run(
        direct_db_url,
        "yolov8n oom",
        logged=1,
        status="failed",
        reason="RuntimeError: out of memory",
    )

    at = run_synced(app(direct_db_url), direct_db_url)
    at.session_state["details_session"] = str(run.id)
    _open(at, "Session Details")
    assert "yolov8n detailed" in [h.value.split(" ", 1)[1] for h in at.subheader]
    # Loss, mAP, precision/recall, learning rate and the per-class chart.
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 5
    tables = [t.value for t in at.dataframe]
    classes = next(t for t in tables if "class" in getattr(t, "columns", []))
    assert list(classes["class"]) == ["all", "circle", "square"]
    bench = next(t for t in tables if "avg ms" in getattr(t, "columns", []))
    assert list(bench["avg ms"]) == [7.5]
    assert any("lr0" in str(j.value) for j in at.json)

    at.session_state["details_session"] = str(failed.id)
    _open(at, "Session Details")
    assert "Failed: RuntimeError: out of memory" in [e.value for e in at.error]


def test_history_sorts_and_filters(direct_db_url: str, app: Any) -> None:
    runs = _seed(direct_db_url)
    runs["running"].finish("completed")
    at = run_synced(app(direct_db_url), direct_db_url)
    _open(at, "Training History")

    at.selectbox(key="history_sort").set_value("best").run()
    frame = at.dataframe[0].value
    assert list(frame["session"])[:3] == ["yolov8n top", "yolov8s mid", "yolov8n low"]
    assert list(frame["mAP50-95"]) == sorted(frame["mAP50-95"], reverse=True)

    at.selectbox(key="history_sort").set_value("oldest").run()
    assert at.dataframe[0].value["session"].iloc[0] == "yolov8n low"

    at.multiselect(key="history_status").set_value(["failed"]).run()
    frame = at.dataframe[0].value
    assert list(frame["session"]) == ["yolov8n broken"]
    assert list(frame["reason"]) == ["RuntimeError: CUDA out of memory"]
    # Numbers stay numbers (the page shows a missing one blank: placeholder "").
    assert math.isnan(frame["precision"].iloc[0]) and math.isnan(frame["recall"].iloc[0])
    assert frame["mAP50-95"].iloc[0] == 0.5 * 2 / 5
    table = at.dataframe[0].proto
    assert table.HasField("placeholder") and table.placeholder == ""

    at.multiselect(key="history_status").set_value(["completed", "failed", "cancelled"]).run()
    at.multiselect(key="history_model").set_value(["yolov8s"]).run()
    assert list(at.dataframe[0].value["session"]) == ["yolov8s mid"]

    at.multiselect(key="history_model").set_value([]).run()
    at.multiselect(key="history_dataset").set_value(["cells"]).run()
    assert list(at.dataframe[0].value["session"]) == ["yolov8s mid"]

    at.multiselect(key="history_status").set_value(["cancelled"]).run()
    assert "No ended session matches" in _texts(at)


def test_history_pages_sorted_and_filtered_sessions(direct_db_url: str, app: Any) -> None:
    ids = ended_sessions(direct_db_url, 250)
    at = run_synced(app(direct_db_url), direct_db_url)
    _open(at, "Training History")
    assert len(at.dataframe[0].value) == 100
    assert "Rows 1-100 of 250 session(s)." in _texts(at) and "Page 1 of 3" in _texts(at)

    # Sorted across pages, by number (duration 109 s before 99 s; text would put 99 first).
    at.selectbox(key="history_sort").set_value("longest").run()
    seen = []
    for page in (1, 2, 3):
        at.number_input(key="history_page").set_value(page).run()
        assert not at.exception, at.exception
        seen += list(at.dataframe[0].value["duration (s)"])
    assert len(seen) == 250 and seen == sorted(seen, reverse=True)
    assert "Rows 201-250 of 250" in _texts(at)
    assert at.dataframe[0].value["duration (s)"].dtype == "float64"

    # A filter applies to all rows before paging, and starts again at page 1.
    at.multiselect(key="history_status").set_value(["failed"]).run()
    assert at.number_input(key="history_page").value == 1
    assert "Rows 1-84 of 84 session(s)." in _texts(at)
    assert set(at.dataframe[0].value["status"]) == {"failed"}
    at.multiselect(key="history_status").set_value(["completed", "failed"]).run()
    at.multiselect(key="history_dataset").set_value(["shapes"]).run()
    assert "of 166 session(s). Select a row to open its details. Page 1 of 2" in _texts(at)
    # Best first: page 2 starts with the 101st best (a row of it opens its details in the
    # browser test).
    at.selectbox(key="history_sort").set_value("best").run()
    at.number_input(key="history_page").set_value(2).run()
    assert at.dataframe[0].value["session"].iloc[0] == "paged 98"
    assert len(ids) == 250
    # Another tab and back: the same filters, order and page.
    _open(at, "Model Leaderboard")
    _open(at, "Training History")
    assert at.number_input(key="history_page").value == 2
    assert at.selectbox(key="history_sort").value == "best"
    assert at.dataframe[0].value["session"].iloc[0] == "paged 98"


def test_links_open_a_tab_or_a_session_and_the_url_follows(direct_db_url: str, app: Any) -> None:
    runs = _seed(direct_db_url)
    runs["running"].finish("completed")
    at = app(direct_db_url)
    at.query_params["tab"] = "Leaderboard"
    at = run_synced(at, direct_db_url)
    assert at.session_state["tab"] == "Model Leaderboard"
    assert at.dataframe[0].value["model"].iloc[0] == "yolov8n top"
    # (The browser writes ?tab= of the bound tabs: test_dashboard_browser.py checks it.)

    top = str(runs["top"].id)
    at = app(direct_db_url)
    at.query_params["session"] = top
    at = run_synced(at, direct_db_url)
    assert at.session_state["tab"] == "Session Details"
    assert "yolov8n top" in [h.value.split(" ", 1)[1] for h in at.subheader]
    assert at.query_params["session"] == top
    _open(at, "Compare")
    assert "session" not in at.query_params

    at = app(direct_db_url)
    at.query_params["tab"] = "no such tab"
    at = run_synced(at, direct_db_url)
    assert at.session_state["tab"] == "Active Training"


def test_compare_overlays_the_chosen_sessions(direct_db_url: str, app: Any) -> None:
    a = log_run(direct_db_url, "compare a", quality=0.4)
    b = log_run(direct_db_url, "compare b", quality=0.9, epochs=7)
    at = run_synced(app(direct_db_url), direct_db_url)
    _open(at, "Compare")
    assert "Choose two or more sessions" in _texts(at)
    at.multiselect(key="compare_sessions").set_value([str(a.id), str(b.id)]).run()
    at.selectbox(key="compare_metric").set_value("map50_95").run()
    assert not at.exception, at.exception
    plotted = chart_data(at.get("vega_lite_chart")[0])
    epochs_per_line = plotted.groupby("session")["epoch"].count().to_dict()
    sessions = store_of(direct_db_url).snapshot.sessions
    a_label, b_label = (data.session_label(sessions[str(r.id)]) for r in (a, b))
    assert epochs_per_line == {a_label: 5, b_label: 7}
    table = at.dataframe[0].value
    assert list(table["session"]) == ["compare a", "compare b"]
    assert list(table["epochs"]) == [5, 7]


def test_sweeps_list_trials_and_mark_the_best(direct_db_url: str, app: Any) -> None:
    with Client(database_url=direct_db_url) as client:
        run = client.transport.rpc(
            "create_hyperparameter_run",
            {
                "name": "lr sweep",
                "search_space": {"method": "grid", "space": {"lr0": [0.01, 0.001]}},
                "objective": "map50_95",
                "n_trials": 2,
            },
        )
    run_id = str(run["id"])
    log_run(
        direct_db_url,
        "lr sweep #1",
        quality=0.3,
        config={"lr0": 0.01},
        hyperparameter_run_id=run_id,
    )
    best = log_run(
        direct_db_url,
        "lr sweep #2",
        quality=0.7,
        config={"lr0": 0.001},
        hyperparameter_run_id=run_id,
    )
    at = run_synced(app(direct_db_url), direct_db_url)
    _open(at, "Sweeps")
    trials = at.dataframe[0].value
    assert list(trials["session"]) == ["lr sweep #1", "lr sweep #2"]
    assert list(trials["lr0"]) == [0.01, 0.001]
    assert list(trials["best"]) == ["", "★"]
    assert trials["objective"].tolist()[1] == max(trials["objective"])
    assert _metric(at, "Best value") == f"{store_of(direct_db_url).snapshot.runs[0].best_value:.4f}"
    assert str(best.id) == str(store_of(direct_db_url).snapshot.runs[0].best_session_id)
    plotted = chart_data(at.get("vega_lite_chart")[0])
    assert sorted(plotted["lr0"]) == [0.001, 0.01]


def test_stop_button_writes_the_stop_request(
    direct_db_url: str, app: Any, conn: psycopg.Connection[Any]
) -> None:
    run = log_run(direct_db_url, "yolov8n to stop", epochs=10, logged=2, status=None)
    try:
        at = run_synced(app(direct_db_url), direct_db_url)
        at.button(key=f"stop-{run.id}").click().run()
        assert not at.exception, at.exception
        row = conn.execute(
            "select stop_requested, status_reason from training_sessions where id = %s", (run.id,)
        ).fetchone()
        assert row == {"stop_requested": True, "status_reason": "stop requested from the dashboard"}
        # The feed brings the change back: the card says so and the button is disabled.
        store = store_of(direct_db_url)
        wait_for(lambda: store.snapshot.active[str(run.id)][0].stop_requested, what="the stop")
        at.run()
        assert at.button(key=f"stop-{run.id}").disabled
        # The training's next heartbeat sees it.
        wait_for(lambda: run.heartbeat(), what="the run to see its stop request")
    finally:
        run.finish("cancelled")


def test_empty_state_shows_how_to_track_a_first_run(direct_db_url: str, app: Any) -> None:
    at = run_synced(app(direct_db_url), direct_db_url)
    assert "No training runs yet" in [s.value for s in at.subheader]
    assert any("start_session" in c.value for c in at.code)
    assert not at.dataframe
    assert not at.tabs
    # The first run appears without anything else to do (the page re-runs on the change).
    log_run(direct_db_url, "first", status=None)
    store = store_of(direct_db_url)
    wait_for(lambda: store.snapshot.sessions, what="the first session")
    at.run()
    assert "No training runs yet" not in [s.value for s in at.subheader]
    assert "first" in _texts(at)


def test_the_database_going_away_and_coming_back(pg_server_factory: Any, app: Any) -> None:
    from mltrack_sdk.migrate import migrate

    server = pg_server_factory()
    url = server.url("postgres")
    migrate(url)
    log_run(url, "before the outage")
    at = run_synced(app(url), url)
    store = store_of(url)
    assert "🟢" in _texts(at)

    server.stop()
    wait_for(lambda: store.snapshot.state in ("reconnecting", "offline"), what="the outage")
    at.run()
    assert not at.exception, at.exception
    assert "Reconnecting" in _texts(at) or "Offline" in _texts(at)
    assert _metric(at, "Total sessions") == "1"  # what was read stays on the page
    wait_for(lambda: store.snapshot.state == "offline", what="offline")
    at.run()
    assert "cannot reach the database" in _texts(at)

    server.start()
    log_run(url, "after the outage")
    wait_for(lambda: store.snapshot.state == "live", timeout=20, what="the reconnect")
    wait_for(lambda: len(store.snapshot.sessions) == 2, what="the new session")
    at.run()
    assert not at.exception, at.exception
    assert "🟢" in _texts(at)
    assert _metric(at, "Total sessions") == "2"
