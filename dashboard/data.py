"""Plain data functions of the dashboard: reads through :class:`mltrack_sdk.Client`, the
summaries the cards show, and (from :mod:`dashboard.frames`, importable from here too) the
shaping of rows into tables and chart frames. No Streamlit here, so everything is usable (and
tested) on its own, like the seed's hooks::

    from mltrack_sdk import Client
    from dashboard import data

    with Client() as client:
        running = data.active_training(client)
        board = data.leaderboard(client)
        summary = data.training_metrics(client, board[0].id)
        print(summary.best_map50_95, summary.latest.epoch if summary.latest else None)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from dashboard.frames import (
    HISTORY_SORTS,
    METRIC_LABELS,
    TERMINAL,
    TROPHIES,
    compare_frame,
    format_duration,
    history_frame,
    leaderboard_frame,
    loss_frame,
    metrics_frame,
    validation_frame,
)
from dashboard.sweep_frames import sweep_parameters, sweep_trials
from mltrack_sdk.errors import InvalidValueError

if TYPE_CHECKING:
    from mltrack_sdk.client import Client
    from mltrack_sdk.models import (
        ActiveSession,
        EpochMetrics,
        LeaderboardEntry,
        SessionStatus,
        TrainingSession,
    )

STATUSES: tuple[SessionStatus, ...] = ("pending", "running", *TERMINAL)
#: A heartbeat older than this is late (the SDK beats every 10 s; the stale check fails a run
#: after 120 s without one).
HEARTBEAT_LATE_SECONDS = 30.0


# -- reads (the seed's hooks) ---------------------------------------------------------------


def training_sessions(client: Client, status: SessionStatus | None = None) -> list[TrainingSession]:
    """Every session (newest first), or those with ``status``; ``useTrainingSessions(status)``.

    Example::

        failed = training_sessions(client, "failed")
    """
    if status is not None and status not in STATUSES:
        raise InvalidValueError(
            f"status must be one of {', '.join(STATUSES)} (got {status!r})", field="status"
        )
    return client.sessions(status=status, limit=None)


@dataclass(frozen=True)
class MetricsSummary:
    """A session's epochs and what the seed's ``useTrainingMetrics`` derived from them."""

    metrics: tuple[EpochMetrics, ...]
    latest: EpochMetrics | None
    best_map50: float | None
    best_map50_95: float | None
    #: Mean total loss over the epochs that have one.
    avg_loss: float | None


def summarize_metrics(metrics: Sequence[EpochMetrics]) -> MetricsSummary:
    """The :class:`MetricsSummary` of rows ordered by epoch.

    Example::

        summarize_metrics(client.metrics(session_id)).best_map50_95
    """
    losses = [m.total_loss for m in metrics if m.total_loss is not None]
    return MetricsSummary(
        metrics=tuple(metrics),
        latest=metrics[-1] if metrics else None,
        best_map50=_max(m.map50 for m in metrics),
        best_map50_95=_max(m.map50_95 for m in metrics),
        avg_loss=sum(losses) / len(losses) if losses else None,
    )


def training_metrics(client: Client, session_id: UUID | str) -> MetricsSummary:
    """A session's epochs with the latest, best mAPs and mean loss; ``useTrainingMetrics(id)``.

    Example::

        print(training_metrics(client, session_id).latest)
    """
    return summarize_metrics(client.metrics(session_id))


def active_training(client: Client) -> list[ActiveSession]:
    """Running sessions with progress, ETA and heartbeat age; ``useActiveTraining()``.

    Example::

        for run in active_training(client):
            print(run.session_name, run.progress_percent)
    """
    return client.active_sessions()


def leaderboard(client: Client, limit: int = 50) -> list[LeaderboardEntry]:
    """The top ``limit`` (at most 50) completed models by mAP50-95.

    Example::

        best = leaderboard(client, 1)[0]
    """
    return client.leaderboard(limit=limit)


def comparison(
    client: Client, session_ids: Iterable[UUID | str]
) -> dict[str, tuple[EpochMetrics, ...]]:
    """The epochs of several sessions, by session id (as text), for :func:`compare_frame`.

    Example::

        compare_frame(comparison(client, [a, b]), "map50_95", labels={...})
    """
    return {str(sid): tuple(client.metrics(sid)) for sid in session_ids}


# -- shaping --------------------------------------------------------------------------------


def _max(values: Iterable[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return max(found) if found else None


@dataclass(frozen=True)
class Summary:
    """The summary cards."""

    active: int
    total: int
    best_map50_95: float | None
    completed: int


def summary_cards(sessions: Iterable[TrainingSession]) -> Summary:
    """Active (running) and total sessions, the best mAP50-95 any run reached, completed runs.

    Example::

        summary_cards(training_sessions(client)).completed
    """
    active = total = completed = 0
    best: float | None = None
    for s in sessions:
        total += 1
        active += s.status == "running"
        completed += s.status == "completed"
        for value in (s.final_map50_95, s.best_map50_95):
            if value is not None and (best is None or value > best):
                best = value
    return Summary(active=active, total=total, best_map50_95=best, completed=completed)


def heartbeat_late(age_seconds: float | None, limit: float = HEARTBEAT_LATE_SECONDS) -> bool:
    """True when a running session's last heartbeat is older than ``limit`` seconds (or it
    never sent one).

    Example::

        heartbeat_late(45.0)  # True
    """
    return age_seconds is None or age_seconds > limit


@dataclass(frozen=True)
class ActiveCard:
    """What an Active Training card shows of one running session, at one moment."""

    session_id: str
    name: str
    model_type: str | None
    dataset_name: str | None
    epochs: int | None
    epochs_completed: int
    progress: float  # 0..1
    current_epoch: int | None
    loss: float | None
    map50: float | None
    map50_95: float | None
    elapsed_seconds: float | None
    eta_seconds: float | None
    heartbeat_age_seconds: float | None
    late: bool
    stop_requested: bool


def active_card(row: ActiveSession, seconds_since_read: float = 0.0) -> ActiveCard:
    """The card of an ``active_training_sessions`` row read ``seconds_since_read`` ago: the
    view's times (server clock) are moved on by the time since, so ages grow between changes
    without a query and without trusting this machine's clock against the server's.

    Example::

        active_card(client.active_sessions()[0]).progress
    """
    since = max(0.0, seconds_since_read)
    elapsed = None if row.elapsed_seconds is None else row.elapsed_seconds + since
    age = None if row.heartbeat_age_seconds is None else row.heartbeat_age_seconds + since
    eta = row.eta_seconds
    if eta is not None and elapsed is not None and row.epochs_completed:
        # The view's estimate moved on: the mean epoch time so far times the epochs left.
        left = max(0, (row.epochs or 0) - row.epochs_completed)
        eta = elapsed / row.epochs_completed * left
    percent = row.progress_percent if row.progress_percent is not None else 0.0
    return ActiveCard(
        session_id=str(row.id),
        name=row.session_name or str(row.id),
        model_type=row.model_type,
        dataset_name=row.dataset_name,
        epochs=row.epochs,
        epochs_completed=row.epochs_completed,
        progress=min(1.0, max(0.0, percent / 100.0)),
        current_epoch=row.latest_epoch if row.latest_epoch is not None else row.current_epoch,
        loss=row.total_loss,
        map50=row.map50,
        map50_95=row.map50_95,
        elapsed_seconds=elapsed,
        eta_seconds=eta,
        heartbeat_age_seconds=age,
        late=heartbeat_late(age),
        stop_requested=row.stop_requested,
    )


def session_label(session: TrainingSession | LeaderboardEntry | ActiveSession) -> str:
    """``"name (status, 1a2b3c4d)"``: unique enough for a picker.

    Example::

        session_label(session)  # 'YOLOv8n v1 (completed, 6f1c0a2e)'
    """
    status = getattr(session, "status", "completed")
    return f"{session.session_name or 'unnamed'} ({status}, {str(session.id)[:8]})"


# -- what changed ---------------------------------------------------------------------------


def describe_changes(
    before: Mapping[str, TrainingSession], after: Mapping[str, TrainingSession]
) -> list[str]:
    """Lines that say what changed between two views of the sessions (by id): new sessions,
    status changes, epochs logged, removed sessions.

    Example::

        describe_changes(old, new)  # ['YOLOv8n v1: running → completed', ...]
    """
    lines: list[str] = []
    for sid, new in after.items():
        name = new.session_name or sid[:8]
        old = before.get(sid)
        if old is None:
            lines.append(f"{name}: new session ({new.status})")
            continue
        if new.epochs_completed > old.epochs_completed:
            lines.append(
                f"{name}: {new.epochs_completed - old.epochs_completed} epoch(s) logged"
                f" ({new.epochs_completed}/{new.epochs or '?'})"
            )
        if new.status != old.status:
            lines.append(f"{name}: {old.status} → {new.status}")
    lines.extend(
        f"{old.session_name or sid[:8]}: removed" for sid, old in before.items() if sid not in after
    )
    return lines


__all__ = [
    "HEARTBEAT_LATE_SECONDS",
    "HISTORY_SORTS",
    "METRIC_LABELS",
    "STATUSES",
    "TERMINAL",
    "TROPHIES",
    "ActiveCard",
    "MetricsSummary",
    "Summary",
    "active_card",
    "active_training",
    "compare_frame",
    "comparison",
    "describe_changes",
    "format_duration",
    "heartbeat_late",
    "history_frame",
    "leaderboard",
    "leaderboard_frame",
    "loss_frame",
    "metrics_frame",
    "session_label",
    "summarize_metrics",
    "summary_cards",
    "sweep_parameters",
    "sweep_trials",
    "training_metrics",
    "training_sessions",
    "validation_frame",
]
