"""What a batch of change-feed events asks the dashboard's store to do: which sessions to read
again, which were deleted, which epochs are new, and whether the sweeps or the datasets moved.
Pure functions of the events, so the store's thread only does the reading::

    plan = plan_changes(feed.get_batch())
    sessions = client.sessions(ids=plan.to_read - plan.delivered.keys(), limit=None)
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mltrack_sdk.models import EpochMetrics, TrainingSession

if TYPE_CHECKING:
    from mltrack_sdk.live import Change


@dataclass
class ChangePlan:
    """What one batch of changes names (session ids as text)."""

    #: Sessions whose new row the event carried (no read needed).
    delivered: dict[str, TrainingSession] = field(default_factory=dict)
    #: Sessions to read again (their row, or the summary a metrics change moved).
    to_read: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    #: Epochs an event only named (``min_epoch``..``max_epoch``), per session.
    epochs: dict[str, set[int]] = field(default_factory=lambda: collections.defaultdict(set))
    #: Epoch rows an event carried, per session.
    epoch_rows: dict[str, list[EpochMetrics]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    #: Sessions whose cached details must be read again in full.
    reread_details: set[str] = field(default_factory=set)
    #: Sessions the feed caught up on after a reconnect.
    caught_up: set[str] = field(default_factory=set)
    runs_changed: bool = False
    datasets_changed: bool = False


def plan_changes(batch: Iterable[Change]) -> ChangePlan:
    """The :class:`ChangePlan` of ``batch``."""
    plan = ChangePlan()
    for change in batch:
        sid = change.session_id
        if change.catch_up and sid:
            plan.caught_up.add(sid)
        if change.table == "training_sessions" and sid:
            if change.operation == "DELETE":
                plan.deleted.add(sid)
            elif change.row and "status" in change.row:
                plan.delivered[sid] = TrainingSession.model_validate(change.row)
            else:
                plan.to_read.add(sid)
        elif change.table == "training_metrics" and sid:
            plan.to_read.add(sid)  # its summary (epochs, best) moved with it
            if change.operation == "DELETE":
                plan.reread_details.add(sid)
            elif change.row and "epoch" in change.row:
                plan.epoch_rows[sid].append(EpochMetrics.model_validate(change.row))
            elif change.ids.get("min_epoch") is not None:
                low, high = int(change.ids["min_epoch"]), int(change.ids["max_epoch"])
                plan.epochs[sid].update(range(low, high + 1))
            else:
                plan.reread_details.add(sid)
        elif change.table in ("validation_results", "model_benchmarks") and sid:
            plan.to_read.add(sid)
            plan.reread_details.add(sid)
        elif change.table == "hyperparameter_runs":
            plan.runs_changed = True
        elif change.table == "training_datasets":
            plan.datasets_changed = True
    return plan


def merge_epochs(
    rows: Iterable[EpochMetrics], new: Iterable[EpochMetrics]
) -> tuple[EpochMetrics, ...]:
    """``rows`` with ``new`` ones added or replacing the same epoch, by epoch."""
    by_epoch = {m.epoch: m for m in rows}
    by_epoch.update({m.epoch: m for m in new})
    return tuple(by_epoch[e] for e in sorted(by_epoch))


__all__ = ["ChangePlan", "merge_epochs", "plan_changes"]
