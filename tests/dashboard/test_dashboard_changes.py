"""The store's plan for a batch of change-feed events (no database: the events are built here,
as both change sources deliver them)."""

from __future__ import annotations

import uuid

from dashboard.changes import merge_epochs, plan_changes
from mltrack_sdk.live import Change
from mltrack_sdk.models import EpochMetrics

A, B, C = (str(uuid.UUID(int=n)) for n in (1, 2, 3))


def test_a_batch_is_planned_by_table_and_operation() -> None:
    plan = plan_changes(
        [
            Change("training_sessions", "UPDATE", ids={"session_id": A}),
            Change("training_sessions", "DELETE", ids={"session_id": B}),
            Change(
                "training_metrics",
                "INSERT",
                ids={"session_id": C, "min_epoch": 3, "max_epoch": 5, "count": 3},
                catch_up=True,
            ),
            Change("model_benchmarks", "INSERT", ids={"session_id": A}),
            Change("hyperparameter_runs", "UPDATE", ids={"id": 1}),
        ]
    )
    assert plan.to_read == {A, C}
    assert plan.deleted == {B}
    assert dict(plan.epochs) == {C: {3, 4, 5}}
    assert plan.reread_details == {A}
    assert plan.caught_up == {C}
    assert plan.runs_changed and not plan.datasets_changed
    assert not plan.delivered and not plan.epoch_rows


def test_rows_an_event_carries_are_used_without_a_read() -> None:
    row = {"session_id": A, "epoch": 2, "total_loss": 1.5}
    plan = plan_changes([Change("training_metrics", "INSERT", row=row, ids={"session_id": A})])
    assert [(m.epoch, m.total_loss) for m in plan.epoch_rows[A]] == [(2, 1.5)]
    assert plan.to_read == {A}  # the session's summary moved with its epoch


def test_merge_replaces_an_epoch_and_keeps_the_order() -> None:
    old = [EpochMetrics(session_id=A, epoch=e, total_loss=float(e)) for e in (0, 1, 2)]
    new = [EpochMetrics(session_id=A, epoch=e, total_loss=9.0) for e in (3, 1)]
    merged = merge_epochs(old, new)
    assert [(m.epoch, m.total_loss) for m in merged] == [(0, 0.0), (1, 9.0), (2, 2.0), (3, 9.0)]
