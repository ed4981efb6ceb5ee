"""Plain data functions of the dashboard: reads through :class:`mltrack_sdk.Client` and the
shaping of rows into what the views and charts show. No Streamlit here, so everything is
usable (and tested) on its own, like the seed's hooks::

    from mltrack_sdk import Client
    from dashboard import data

    with Client() as client:
        running = data.active_training(client)
        board = data.leaderboard(client)
        summary = data.training_metrics(client, board[0].id)
        print(summary.best_map50_95, summary.latest.epoch if summary.latest else None)
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import pandas as pd

from mltrack_sdk.errors import InvalidValueError

if TYPE_CHECKING:
    from mltrack_sdk.client import Client
    from mltrack_sdk.models import (
        ActiveSession,
        EpochMetrics,
        HyperparameterRun,
        LeaderboardEntry,
        SessionStatus,
        TrainingSession,
        ValidationResult,
    )

#: Sessions that have ended: what Training History lists.
TERMINAL: tuple[SessionStatus, ...] = ("completed", "failed", "cancelled")
STATUSES: tuple[SessionStatus, ...] = ("pending", "running", *TERMINAL)
#: A heartbeat older than this is late (the SDK beats every 10 s; the stale check fails a run
#: after 120 s without one).
HEARTBEAT_LATE_SECONDS = 30.0
TROPHIES = {1: "🏆", 2: "🥈", 3: "🥉"}

HistorySort = Literal["newest", "oldest", "best", "longest", "shortest"]
#: Sort orders of Training History, by label.
HISTORY_SORTS: dict[HistorySort, str] = {
    "newest": "Date (newest first)",
    "oldest": "Date (oldest first)",
    "best": "mAP50-95 (best first)",
    "longest": "Duration (longest first)",
    "shortest": "Duration (shortest first)",
}

#: Per-epoch columns a chart can show, with their labels.
METRIC_LABELS: dict[str, str] = {
    "map50_95": "mAP50-95",
    "map50": "mAP50",
    "precision": "precision",
    "recall": "recall",
    "total_loss": "total loss",
    "box_loss": "box loss",
    "cls_loss": "cls loss",
    "dfl_loss": "dfl loss",
    "val_box_loss": "val box loss",
    "val_cls_loss": "val cls loss",
    "val_dfl_loss": "val dfl loss",
    "learning_rate": "learning rate",
    "epoch_time_seconds": "epoch time (s)",
}
#: The loss series of the loss chart: (column, loss, split).
LOSSES: tuple[tuple[str, str, str], ...] = (
    ("box_loss", "box", "train"),
    ("cls_loss", "cls", "train"),
    ("dfl_loss", "dfl", "train"),
    ("total_loss", "total", "train"),
    ("val_box_loss", "box", "val"),
    ("val_cls_loss", "cls", "val"),
    ("val_dfl_loss", "dfl", "val"),
)


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


def format_duration(seconds: float | None) -> str:
    """``"2h 15m"``, ``"4m 05s"``, ``"12s"``; ``"-"`` for none.

    Example::

        format_duration(8100)  # '2h 15m'
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


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


HISTORY_COLUMNS = (
    "id",
    "session",
    "status",
    "model",
    "dataset",
    "started",
    "completed",
    "duration_s",
    "duration",
    "epochs",
    "mAP50-95",
    "mAP50",
    "precision",
    "recall",
    "reason",
)


def history_frame(
    sessions: Iterable[TrainingSession],
    *,
    statuses: Iterable[str] = TERMINAL,
    model_types: Iterable[str] = (),
    datasets: Iterable[str] = (),
    sort: HistorySort = "newest",
) -> pd.DataFrame:
    """Ended sessions as Training History's table: only ``statuses`` (of the terminal ones),
    and only the ``model_types``/``datasets`` given (none given: all), in ``sort`` order.
    Performance is the final mAP50-95 (else the best epoch's); sessions without one and
    without a duration sort last.

    Example::

        history_frame(sessions, statuses=["failed"], sort="longest")
    """
    if sort not in HISTORY_SORTS:
        raise InvalidValueError(
            f"sort must be one of {', '.join(HISTORY_SORTS)} (got {sort!r})", field="sort"
        )
    wanted = set(statuses) & set(TERMINAL)
    models, names = set(model_types), set(datasets)
    rows = [
        s
        for s in sessions
        if s.status in wanted
        and (not models or s.model_type in models)
        and (not names or s.dataset_name in names)
    ]
    if not rows:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    # Column by column (10,000 sessions in a few tens of milliseconds, not row dicts).
    frame = pd.DataFrame(
        {
            "id": [str(s.id) for s in rows],
            "session": [s.session_name for s in rows],
            "status": [s.status for s in rows],
            "model": [s.model_type for s in rows],
            "dataset": [s.dataset_name for s in rows],
            "started": _naive([s.started_at or s.created_at for s in rows]),
            "completed": _naive([s.completed_at for s in rows]),
            "duration_s": _floats(s.duration_seconds for s in rows),
            "duration": [format_duration(s.duration_seconds) for s in rows],
            "epochs": [
                f"{s.epochs_completed}/{s.epochs}" if s.epochs else str(s.epochs_completed)
                for s in rows
            ],
            "mAP50-95": _floats(_first(s.final_map50_95, s.best_map50_95) for s in rows),
            "mAP50": _floats(_first(s.final_map50, s.best_map50) for s in rows),
            "precision": _floats(s.final_precision for s in rows),
            "recall": _floats(s.final_recall for s in rows),
            "reason": [s.status_reason for s in rows],
        },
        columns=list(HISTORY_COLUMNS),
    )
    key, ascending = {
        "newest": ("started", False),
        "oldest": ("started", True),
        "best": ("mAP50-95", False),
        "longest": ("duration_s", False),
        "shortest": ("duration_s", True),
    }[sort]
    frame = frame.sort_values(key, ascending=ascending, na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def _first(value: float | None, otherwise: float | None) -> float | None:
    return value if value is not None else otherwise


def _floats(values: Iterable[float | None]) -> pd.Series:
    """Numbers with NaN for the missing ones."""
    return pd.Series([math.nan if v is None else v for v in values], dtype="float64")


def _naive(values: Sequence[datetime | None]) -> pd.Series:
    """Local wall times without a zone (what a table shows), for times the database gave (the
    local offset of each moment, daylight saving included)."""
    local = [
        math.nan if v is None else (t := v.timestamp()) + time.localtime(t).tm_gmtoff
        for v in values
    ]
    return pd.to_datetime(pd.Series(local, dtype="float64"), unit="s").dt.round("us")


def leaderboard_frame(entries: Iterable[LeaderboardEntry]) -> pd.DataFrame:
    """The leaderboard as a table: trophies for the top three, speed in ms and FPS.

    Example::

        leaderboard_frame(leaderboard(client))["rank"].tolist()[:3]  # ['🏆', '🥈', '🥉']
    """
    rows = [
        {
            "id": str(e.id),
            "rank": TROPHIES.get(e.rank, str(e.rank)),
            "model": e.session_name,
            "type": e.model_type,
            "dataset": e.dataset_name,
            "mAP50-95": e.final_map50_95,
            "mAP50": e.final_map50,
            "precision": e.final_precision,
            "recall": e.final_recall,
            "inference ms": e.inference_ms,
            "FPS": e.fps,
            "training": format_duration(e.training_duration_seconds),
            "training_s": e.training_duration_seconds,
        }
        for e in entries
    ]
    columns = ["id", "rank", "model", "type", "dataset", "mAP50-95", "mAP50", "precision"]
    columns += ["recall", "inference ms", "FPS", "training", "training_s"]
    return pd.DataFrame(rows, columns=columns)


def metrics_frame(
    metrics: Sequence[EpochMetrics], columns: Iterable[str] = tuple(METRIC_LABELS)
) -> pd.DataFrame:
    """Long format for charts: one row per (epoch, series) with a value; missing values left
    out. ``series`` is the column's label.

    Example::

        metrics_frame(rows, ["map50", "map50_95"])  # columns epoch, series, value
    """
    wanted = list(columns)
    records = [
        {"epoch": m.epoch, "series": METRIC_LABELS.get(c, c), "value": value}
        for m in metrics
        for c in wanted
        if (value := getattr(m, c, None)) is not None and math.isfinite(value)
    ]
    return pd.DataFrame(records, columns=["epoch", "series", "value"])


def loss_frame(metrics: Sequence[EpochMetrics]) -> pd.DataFrame:
    """The loss curves in long format: epoch, loss (box/cls/dfl/total), split (train/val),
    value.

    Example::

        loss_frame(rows).query("split == 'val'")
    """
    records = [
        {"epoch": m.epoch, "loss": loss, "split": split, "value": value}
        for m in metrics
        for column, loss, split in LOSSES
        if (value := getattr(m, column)) is not None and math.isfinite(value)
    ]
    return pd.DataFrame(records, columns=["epoch", "loss", "split", "value"])


def compare_frame(
    metrics_by_session: Mapping[str, Sequence[EpochMetrics]],
    metric: str,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One metric of several sessions overlaid: epoch, session (its label), value.

    Example::

        compare_frame({id_a: rows_a, id_b: rows_b}, "map50_95", labels={id_a: "a", id_b: "b"})
    """
    if metric not in METRIC_LABELS:
        raise InvalidValueError(
            f"metric must be one of {', '.join(METRIC_LABELS)} (got {metric!r})", field="metric"
        )
    names = labels or {}
    records = [
        {"epoch": m.epoch, "session": names.get(sid, sid), "value": value}
        for sid, rows in metrics_by_session.items()
        for m in rows
        if (value := getattr(m, metric)) is not None and math.isfinite(value)
    ]
    return pd.DataFrame(records, columns=["epoch", "session", "value"])


def validation_frame(results: Iterable[ValidationResult]) -> pd.DataFrame:
    """Per-class validation results as a table (the overall ``all`` row first).

    Example::

        validation_frame(detail.validation_results)
    """
    rows = [
        {
            "split": r.split,
            "class": r.class_name,
            "images": r.images,
            "instances": r.instances,
            "precision": r.precision,
            "recall": r.recall,
            "mAP50": r.map50,
            "mAP50-95": r.map50_95,
        }
        for r in sorted(results, key=lambda r: (r.split, r.class_name != "all", r.class_name))
    ]
    columns = ["split", "class", "images", "instances", "precision", "recall"]
    return pd.DataFrame(rows, columns=[*columns, "mAP50", "mAP50-95"])


# -- sweeps ---------------------------------------------------------------------------------

#: Objectives of a hyperparameter run -> the session's final column.
OBJECTIVE_COLUMNS = {
    "map50_95": "final_map50_95",
    "map50": "final_map50",
    "precision": "final_precision",
    "recall": "final_recall",
    "loss": "final_loss",
}
_SEARCH_META = frozenset({"method", "train_args", "model", "data", "seed"})


def sweep_parameters(run: HyperparameterRun) -> list[str]:
    """The hyperparameters a run searched: the keys of ``search_space["space"]`` (as
    ``mltrack sweep`` stores it), else of ``search_space`` itself, else of ``best_params``.

    Example::

        sweep_parameters(run)  # ['batch', 'lr0']
    """
    space = run.search_space.get("space")
    if isinstance(space, Mapping) and space:
        return sorted(space)
    plain = [k for k in run.search_space if k not in _SEARCH_META]
    if plain:
        return sorted(plain)
    return sorted(run.best_params or {})


def sweep_trials(run: HyperparameterRun, sessions: Iterable[TrainingSession]) -> pd.DataFrame:
    """The run's trials (its sessions, oldest first): best marked, status, each searched
    hyperparameter (from the trial's config), and the objective (the trial's final metric).

    Example::

        sweep_trials(run, training_sessions(client))
    """
    params = sweep_parameters(run)
    column = OBJECTIVE_COLUMNS.get(run.objective, f"final_{run.objective}")
    trials = sorted(
        (s for s in sessions if s.hyperparameter_run_id == run.id),
        key=lambda s: (s.created_at or datetime.min.astimezone(), str(s.id)),
    )
    rows = []
    for number, s in enumerate(trials, start=1):
        row: dict[str, Any] = {
            "best": "★" if run.best_session_id == s.id else "",
            "trial": number,
            "id": str(s.id),
            "session": s.session_name,
            "status": s.status,
        }
        for p in params:
            row[p] = _scalar(s.config.get(p))
        row["objective"] = getattr(s, column, None)
        rows.append(row)
    columns = ["best", "trial", "id", "session", "status", *params, "objective"]
    return pd.DataFrame(rows, columns=columns)


def _scalar(value: Any) -> Any:
    """A config value a table cell can hold: lists and dicts as text."""
    return value if value is None or isinstance(value, int | float | str | bool) else str(value)


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
