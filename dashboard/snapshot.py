"""What the dashboard's live store knows at one moment (:class:`Snapshot`): replaced whole on
every change, read once per render by the pages (``store.snapshot``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mltrack_sdk.models import (
    ActiveSession,
    EpochMetrics,
    HyperparameterRun,
    LeaderboardEntry,
    TrainingDataset,
    TrainingSession,
)

ConnectionState = Literal["connecting", "live", "reconnecting", "offline"]
#: Epochs of a running session kept for its card's mini chart.
RECENT_EPOCHS = 30


@dataclass(frozen=True)
class Snapshot:
    """What the store knows at one moment; replaced whole on every change (never mutated)."""

    state: ConnectionState = "connecting"
    #: Why the store is offline (the database's or the feed's message).
    error: str | None = None
    #: True once everything was read at least once.
    synced: bool = False
    #: Every session by id (as text), newest first.
    sessions: Mapping[str, TrainingSession] = field(default_factory=dict)
    #: Running sessions: the view's row and when it was read (``time.monotonic()``).
    active: Mapping[str, tuple[ActiveSession, float]] = field(default_factory=dict)
    #: The latest epochs of each running session, by epoch.
    recent_metrics: Mapping[str, tuple[EpochMetrics, ...]] = field(default_factory=dict)
    leaderboard: tuple[LeaderboardEntry, ...] = ()
    runs: tuple[HyperparameterRun, ...] = ()
    datasets: tuple[TrainingDataset, ...] = ()
    #: A counter per scope, moved when what the scope shows changed: ``sessions``,
    #: ``history``, ``active``, ``leaderboard``, ``runs``, ``datasets``, ``session:<id>``.
    versions: Mapping[str, int] = field(default_factory=dict)
    #: What changed while the connection was away (set after a reconnect).
    away_notes: tuple[str, ...] = ()
    #: ``time.time()`` of the last reconnect (None: never lost).
    reconnected_at: float | None = None
    #: ``time.time()`` of the last change applied.
    changed_at: float | None = None

    def version(self, scope: str) -> int:
        """The counter of ``scope`` (0 when it never moved)."""
        return self.versions.get(scope, 0)


__all__ = ["RECENT_EPOCHS", "ConnectionState", "Snapshot"]
