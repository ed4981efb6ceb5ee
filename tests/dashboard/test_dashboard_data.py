"""The dashboard's plain data functions, on rows real runs wrote through the SDK."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from dashboard import data, frames
from mltrack_sdk.client import Client
from mltrack_sdk.errors import InvalidValueError
from tests.dashboard.support import log_run, no_ambient_config

__all__ = ["no_ambient_config"]  # an autouse fixture


@pytest.fixture
def client(direct_db_url: str) -> Iterator[Client]:
    with Client(database_url=direct_db_url) as c:
        yield c


def test_reads_like_the_seed_hooks(direct_db_url: str, client: Client) -> None:
    done = log_run(direct_db_url, "done", quality=0.6)
    log_run(direct_db_url, "failed", logged=2, status="failed", reason="boom")
    running = log_run(direct_db_url, "running", epochs=10, logged=4, status=None)
    try:
        assert [s.session_name for s in data.training_sessions(client, "failed")] == ["failed"]
        assert len(data.training_sessions(client)) == 3
        summary = data.training_metrics(client, running.id)
        assert [m.epoch for m in summary.metrics] == [0, 1, 2, 3]
        assert summary.latest is not None and summary.latest.epoch == 3
        assert summary.best_map50_95 == pytest.approx(0.5 * 4 / 10)
        assert summary.avg_loss == pytest.approx(
            sum(3.8 - 2.5 * (e + 1) / 10 for e in range(4)) / 4
        )
        [active] = data.active_training(client)
        assert str(active.id) == str(running.id)
        assert [e.session_name for e in data.leaderboard(client)] == ["done"]
        compared = data.comparison(client, [done.id, running.id])
        assert [len(rows) for rows in compared.values()] == [5, 4]
    finally:
        running.finish("completed")
    with pytest.raises(InvalidValueError, match="status must be one of"):
        data.training_sessions(client, "finished")  # type: ignore[arg-type]


def test_summary_cards_count_and_take_the_best(direct_db_url: str, client: Client) -> None:
    log_run(direct_db_url, "a", quality=0.4)
    log_run(direct_db_url, "b", quality=0.7)
    running = log_run(direct_db_url, "c", epochs=4, logged=4, quality=0.9, status=None)
    try:
        cards = data.summary_cards(data.training_sessions(client))
        # The running session's best epoch is the best mAP50-95 reached so far.
        assert cards == data.Summary(
            active=1, total=3, best_map50_95=pytest.approx(0.9), completed=2
        )
    finally:
        running.finish("cancelled")
    assert data.summary_cards([]) == data.Summary(0, 0, None, 0)


def test_history_frame_filters_and_sorts(direct_db_url: str, client: Client) -> None:
    log_run(direct_db_url, "short good", epochs=2, quality=0.9)
    log_run(direct_db_url, "long poor", epochs=6, quality=0.2, model_type="yolov8s")
    log_run(direct_db_url, "broken", logged=1, status="failed", reason="OOM", dataset="cells")
    sessions = data.training_sessions(client)
    frame = data.history_frame(sessions, sort="best")
    assert list(frame["session"]) == ["short good", "long poor", "broken"]
    assert list(data.history_frame(sessions, sort="oldest")["session"]) == [
        "short good",
        "long poor",
        "broken",
    ]
    assert data.history_frame(sessions, sort="newest")["session"].iloc[0] == "broken"
    durations = data.history_frame(sessions, sort="longest")["duration_s"].tolist()
    assert durations == sorted(durations, reverse=True)
    assert list(data.history_frame(sessions, statuses=["failed"])["reason"]) == ["OOM"]
    assert list(data.history_frame(sessions, model_types=["yolov8s"])["session"]) == ["long poor"]
    assert list(data.history_frame(sessions, datasets=["cells"])["session"]) == ["broken"]
    assert data.history_frame(sessions, statuses=["running"]).empty  # only ended sessions

    # As the page shows it: typed columns (a header click sorts numbers, durations by seconds).
    table = frames.history_table(frame)
    assert "id" not in table and "duration" not in table
    assert list(table["session"]) == list(frame["session"])
    assert table["duration (s)"].dtype == "float64" and table["mAP50-95"].dtype == "float64"
    assert list(table["epochs"]) == [2, 6, 1] and list(table["planned"]) == [2, 6, 5]
    broken = table.iloc[2]
    assert math.isnan(broken["precision"]) and broken["reason"] == "OOM"
    assert table["started"].dtype.kind == "M"
    # Text for an export: empty cells blank, never "None"/"nan".
    text = frames.display_table(table, frames.HISTORY_FORMATS)
    assert list(text["mAP50-95"]) == [f"{v:.4f}" for v in frame["mAP50-95"]]
    assert (text.iloc[2]["precision"], text.iloc[0]["reason"]) == ("", "")
    assert text.iloc[2]["started"] == f"{frame['started'][2]:%Y-%m-%d %H:%M:%S}"
    cells = {str(v) for v in text.to_numpy().ravel()}
    assert not cells & {"None", "nan", "NaT", "<NA>"}
    with pytest.raises(InvalidValueError, match="sort must be one of"):
        data.history_frame(sessions, sort="fastest")  # type: ignore[arg-type]


def test_leaderboard_frame_has_trophies_speed_and_duration(
    direct_db_url: str, client: Client
) -> None:
    for i, quality in enumerate((0.3, 0.5, 0.7, 0.9)):
        run = log_run(direct_db_url, f"model {i}", quality=quality, status=None)
        run.record_benchmark(avg_inference_ms=10.0 - i, device="cpu")
        run.finish("completed")
    frame = data.leaderboard_frame(data.leaderboard(client))
    assert list(frame["rank"]) == ["🏆", "🥈", "🥉", "4"]
    assert list(frame["model"]) == ["model 3", "model 2", "model 1", "model 0"]
    assert list(frame["inference ms"]) == [7.0, 8.0, 9.0, 10.0]
    assert list(frame["FPS"]) == pytest.approx([1000 / 7, 125.0, 1000 / 9, 100.0])
    assert all(text != "-" for text in frame["training"])


def test_chart_frames_are_long_format_without_gaps(direct_db_url: str, client: Client) -> None:
    run = log_run(direct_db_url, "charted", epochs=3, status=None)
    run.log_epoch(3 - 1, map50_95=0.3)  # merges into epoch 2
    run.finish("completed")
    rows = client.metrics(run.id)
    losses = data.loss_frame(rows)
    assert set(losses["loss"]) == {"box", "cls", "dfl", "total"}
    assert set(losses["split"]) == {"train", "val"}
    assert len(losses) == 3 * 7
    maps = data.metrics_frame(rows, ["map50", "map50_95"])
    assert sorted(set(maps["series"])) == ["mAP50", "mAP50-95"]
    assert maps.query("series == 'mAP50-95' and epoch == 2")["value"].tolist() == [0.3]
    compared = data.compare_frame({str(run.id): rows}, "recall", labels={str(run.id): "r"})
    assert list(compared["session"]) == ["r"] * 3
    with pytest.raises(InvalidValueError, match="metric must be one of"):
        data.compare_frame({}, "speed")


def test_validation_frame_puts_all_first(direct_db_url: str, client: Client) -> None:
    run = log_run(direct_db_url, "validated", status=None)
    run.record_validation(
        [
            {"class_name": "zebra", "class_id": 1, "map50": 0.4, "map50_95": 0.2},
            {"map50": 0.5, "map50_95": 0.3},
            {"class_name": "ant", "class_id": 0, "map50": 0.6, "map50_95": 0.4},
        ]
    )
    run.finish("completed")
    frame = data.validation_frame(client.session(run.id).validation_results)
    assert list(frame["class"]) == ["all", "ant", "zebra"]


def test_sweep_trials_mark_the_best_and_read_the_parameters(
    direct_db_url: str, client: Client
) -> None:
    row = client.transport.rpc(
        "create_hyperparameter_run",
        {"name": "s", "search_space": {"space": {"lr0": [0.1, 0.01], "batch": [8]}}},
    )
    rid = str(row["id"])
    log_run(
        direct_db_url,
        "s #1",
        quality=0.8,
        config={"lr0": 0.1, "batch": 8},
        hyperparameter_run_id=rid,
    )
    log_run(
        direct_db_url,
        "s #2",
        quality=0.2,
        config={"lr0": 0.01, "batch": 8},
        hyperparameter_run_id=rid,
    )
    log_run(direct_db_url, "not a trial")
    [run] = client.hyperparameter_runs()
    assert data.sweep_parameters(run) == ["batch", "lr0"]
    trials = data.sweep_trials(run, data.training_sessions(client))
    assert list(trials["session"]) == ["s #1", "s #2"]
    assert list(trials["best"]) == ["★", ""]
    assert list(trials["lr0"]) == [0.1, 0.01]
    assert trials["objective"].tolist() == pytest.approx([0.8, 0.2])


def test_describe_changes_says_what_moved(direct_db_url: str, client: Client) -> None:
    run = log_run(direct_db_url, "moving", epochs=4, logged=1, status=None)
    gone = log_run(direct_db_url, "gone")
    before = {str(s.id): s for s in data.training_sessions(client)}
    for epoch in (1, 2):
        run.log_epoch(epoch, map50=0.1)
    run.finish("completed")
    after = {str(s.id): s for s in data.training_sessions(client)}
    del after[str(gone.id)]
    new = log_run(direct_db_url, "new one")
    after[str(new.id)] = client.sessions(ids=[new.id])[0]
    assert data.describe_changes(before, after) == [
        "moving: 2 epoch(s) logged (3/4)",
        "moving: running → completed",
        "new one: new session (completed)",
        "gone: removed",
    ]


def test_active_card_moves_ages_on_and_flags_a_late_heartbeat(
    direct_db_url: str, client: Client
) -> None:
    run = log_run(direct_db_url, "card", epochs=10, logged=4, status=None)
    try:
        [row] = client.active_sessions()
        card = data.active_card(row)
        assert card.progress == pytest.approx(0.4)
        assert card.current_epoch == 3
        assert card.map50 == pytest.approx(min(1.0, 0.5 * 0.4 * 1.4))
        assert not card.late
        later = data.active_card(row, seconds_since_read=60)
        assert later.elapsed_seconds == pytest.approx(card.elapsed_seconds + 60)
        assert later.late  # a minute without a heartbeat
        # Four epochs in the elapsed time: six more take one and a half times as long.
        assert later.eta_seconds == pytest.approx(later.elapsed_seconds / 4 * 6)
    finally:
        run.finish("completed")


def test_formatting() -> None:
    assert data.format_duration(8100) == "2h 15m"
    assert data.format_duration(245) == "4m 05s"
    assert data.format_duration(12.4) == "12s"
    assert data.format_duration(None) == "-"
    assert data.format_duration(math.nan) == "-"
    assert data.heartbeat_late(29.0) is False
    assert data.heartbeat_late(31.0) is True
    assert data.heartbeat_late(None) is True
