"""log_epoch and log_epochs: rows written, session progress, best epoch, replays and merges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .api import Conn, Row, call_one, db_now, log_epochs, metrics_rows, pick, query, session_row

StartFn = Callable[..., Row]
PROGRESS = ("current_epoch", "epochs_completed", "best_epoch", "best_map50", "best_map50_95")


def epoch_row(epoch: int, map50_95: float, map50: float, **more: Any) -> dict[str, Any]:
    """One element of a log_epochs batch with plausible values."""
    return {
        "epoch": epoch, "box_loss": 1.5 - 0.1 * epoch, "cls_loss": 1.0 - 0.05 * epoch,
        "dfl_loss": 1.2, "total_loss": 3.7 - 0.15 * epoch, "precision": 0.5 + 0.01 * epoch,
        "recall": 0.4 + 0.01 * epoch, "map50": map50, "map50_95": map50_95,
        "learning_rate": 0.01, "epoch_time_seconds": 60.0 + epoch, "gpu_memory_mb": 4096.0,
        **more,
    }  # fmt: skip


def test_log_epoch_writes_one_row_and_updates_the_session(conn: Conn, start: StartFn) -> None:
    s = start()
    values = epoch_row(0, map50_95=0.2, map50=0.35)
    del values["epoch"]
    before = db_now(conn)
    row = call_one(conn, "log_epoch", session_id=s["id"], epoch=0, extra={"lr/pg1": 0.01}, **values)
    assert row.pop("recorded_at") is not None
    assert row == {
        "session_id": s["id"], "epoch": 0, **values, "val_box_loss": None, "val_cls_loss": None,
        "val_dfl_loss": None, "extra": {"lr/pg1": 0.01},
    }  # fmt: skip
    assert metrics_rows(conn, s["id"]) == [row]

    after = session_row(conn, s["id"])
    assert pick(after, *PROGRESS) == (0, 1, 0, 0.35, 0.2)
    assert after["last_heartbeat_at"] >= before


def test_log_epochs_tracks_progress_and_the_best_epoch(conn: Conn, start: StartFn) -> None:
    s = start(epochs=10)
    maps = [(0.20, 0.35), (0.30, 0.50), (0.45, 0.70), (0.40, 0.65), (0.45, 0.70)]
    assert log_epochs(conn, s["id"], [epoch_row(e, *m) for e, m in enumerate(maps)]) == 5
    # Epochs 2 and 4 tie on mAP50-95 and mAP50: the earlier epoch is the best.
    assert pick(session_row(conn, s["id"]), *PROGRESS) == (4, 5, 2, 0.70, 0.45)
    assert [m["epoch"] for m in metrics_rows(conn, s["id"])] == [0, 1, 2, 3, 4]

    # Same mAP50-95, higher mAP50: the new epoch wins the tie.
    log_epochs(conn, s["id"], [epoch_row(5, 0.45, 0.72)])
    assert pick(session_row(conn, s["id"]), *PROGRESS) == (5, 6, 5, 0.72, 0.45)

    # A higher mAP50-95 beats a higher mAP50.
    log_epochs(conn, s["id"], [epoch_row(6, 0.50, 0.60)])
    assert pick(session_row(conn, s["id"]), *PROGRESS) == (6, 7, 6, 0.60, 0.50)

    # A worse epoch moves progress only.
    log_epochs(conn, s["id"], [epoch_row(7, 0.10, 0.90)])
    assert pick(session_row(conn, s["id"]), *PROGRESS) == (7, 8, 6, 0.60, 0.50)


def test_the_final_evaluation_epoch_equal_to_epochs_is_accepted(conn: Conn, start: StartFn) -> None:
    s = start(epochs=2)
    assert log_epochs(conn, s["id"], [{"epoch": 0}, {"epoch": 1}, {"epoch": 2}]) == 3
    assert pick(session_row(conn, s["id"]), "current_epoch", "epochs_completed") == (2, 3)


def test_a_replayed_batch_gives_the_same_rows(conn: Conn, start: StartFn) -> None:
    s = start()
    maps = [(0.25, 0.5), (0.5, 0.75), (0.75, 0.875)]
    batch = [epoch_row(e, *m, extra={"e": e}) for e, m in enumerate(maps)]
    assert log_epochs(conn, s["id"], batch) == 3
    rows, progress = metrics_rows(conn, s["id"]), pick(session_row(conn, s["id"]), *PROGRESS)

    assert log_epochs(conn, s["id"], batch) == 3
    assert metrics_rows(conn, s["id"]) == rows
    assert pick(session_row(conn, s["id"]), *PROGRESS) == progress == (2, 3, 2, 0.875, 0.75)
    assert query(conn, "select count(*) as n from training_metrics") == [{"n": 3}]


def test_a_duplicate_epoch_in_one_batch_last_wins(conn: Conn, start: StartFn) -> None:
    s = start()
    batch = [
        {"epoch": 0, "map50": 0.10, "total_loss": 2.0},
        {"epoch": 1, "map50": 0.30, "total_loss": 1.8},
        {"epoch": 0, "map50": 0.20, "total_loss": 1.5},
    ]
    assert log_epochs(conn, s["id"], batch) == 2
    rows = metrics_rows(conn, s["id"])
    assert [pick(r, "epoch", "map50", "total_loss") for r in rows] == [
        (0, 0.20, 1.5), (1, 0.30, 1.8)]  # fmt: skip
    assert session_row(conn, s["id"])["epochs_completed"] == 2


def test_a_later_partial_write_merges_into_the_epoch(conn: Conn, start: StartFn) -> None:
    s = start()
    first = {"epoch": 0, "box_loss": 1.0, "total_loss": 3.0, "map50": 0.3, "extra": {"a": 1}}
    log_epochs(conn, s["id"], [first])
    # Validation losses arrive later; map50 is given again and replaces the old value.
    assert log_epochs(conn, s["id"], [
        {"epoch": 0, "val_box_loss": 0.8, "map50": 0.4, "extra": {"b": 2}}]) == 1  # fmt: skip
    # log_epoch passes every other metric as null: they keep their values too.
    row = call_one(conn, "log_epoch", session_id=s["id"], epoch=0, val_cls_loss=0.5)

    row.pop("recorded_at")
    assert row == {
        "session_id": s["id"], "epoch": 0, "box_loss": 1.0, "cls_loss": None, "dfl_loss": None,
        "total_loss": 3.0, "val_box_loss": 0.8, "val_cls_loss": 0.5, "val_dfl_loss": None,
        "precision": None, "recall": None, "map50": 0.4, "map50_95": None,
        "learning_rate": None, "epoch_time_seconds": None, "gpu_memory_mb": None,
        "extra": {"a": 1, "b": 2},
    }  # fmt: skip
    assert session_row(conn, s["id"])["epochs_completed"] == 1


def test_a_batch_of_new_and_known_epochs_counts_only_new_ones(conn: Conn, start: StartFn) -> None:
    s = start()
    log_epochs(conn, s["id"], [{"epoch": e} for e in range(3)])
    assert log_epochs(conn, s["id"], [{"epoch": e} for e in range(1, 5)]) == 4
    assert pick(session_row(conn, s["id"]), "current_epoch", "epochs_completed") == (4, 5)


def test_rewriting_the_best_epoch_lower_moves_the_best(conn: Conn, start: StartFn) -> None:
    s = start()
    log_epochs(conn, s["id"], [
        {"epoch": 0, "map50_95": 0.5, "map50": 0.6}, {"epoch": 1, "map50_95": 0.6, "map50": 0.7},
        {"epoch": 2, "map50_95": 0.4, "map50": 0.9}])  # fmt: skip
    assert session_row(conn, s["id"])["best_epoch"] == 1
    log_epochs(conn, s["id"], [{"epoch": 1, "map50_95": 0.2}])
    assert pick(session_row(conn, s["id"]), *PROGRESS) == (2, 3, 0, 0.6, 0.5)
