"""The shaping of rows into tables and long-format chart frames (pandas; also importable
from :mod:`dashboard.data`), and tables as a page shows them (numbers and times keep their
types; the page formats them and shows a missing cell blank).
The dashboard builds them once per store version and shares them among viewers::

    from dashboard import frames

    table = frames.history_table(frames.history_frame(sessions, sort="best"))
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import pandas as pd

from mltrack_sdk.cli_format import duration
from mltrack_sdk.errors import InvalidValueError

if TYPE_CHECKING:
    from mltrack_sdk.models import (
        EpochMetrics,
        LeaderboardEntry,
        SessionStatus,
        TrainingSession,
        ValidationResult,
    )

#: Sessions that have ended: what Training History lists.
TERMINAL: tuple[SessionStatus, ...] = ("completed", "failed", "cancelled")
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


def format_duration(seconds: float | None) -> str:
    """``"2h 15m"``, ``"4m 05s"``, ``"12s"``; ``"-"`` for none.

    Example::

        format_duration(8100)  # '2h 15m'
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    return duration(seconds)  # as the CLI writes it


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
    "planned",
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
            "epochs": pd.Series([s.epochs_completed for s in rows], dtype="int64"),
            "planned": pd.Series([s.epochs for s in rows], dtype="Int64"),
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


# -- as a page shows them ---------------------------------------------------------------

#: How Training History shows its number and time columns.
HISTORY_FORMATS: dict[str, str] = {
    "mAP50-95": "{:.4f}",
    "mAP50": "{:.4f}",
    "precision": "{:.3f}",
    "recall": "{:.3f}",
    "started": "%Y-%m-%d %H:%M:%S",
    "completed": "%Y-%m-%d %H:%M:%S",
}
#: Columns of Training History's frame that its table does not show.
HISTORY_HIDDEN = ("id", "duration")


def _column(values: pd.Series, fmt: str | None) -> pd.Series:
    """One column as text: missing values blank."""
    if fmt is not None and pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime(fmt).fillna("")
    missing = values.isna()
    text = values.map(fmt.format, na_action="ignore") if fmt is not None else values.astype(str)
    return text.where(~missing, "")


def display_table(
    frame: pd.DataFrame, formats: Mapping[str, str], hidden: tuple[str, ...] = ()
) -> pd.DataFrame:
    """``frame`` with every cell as text: ``formats`` by column (``str.format`` for numbers,
    ``strftime`` for times), missing values as ``""``, the ``hidden`` columns left out (for a
    table whose header must not sort anything, e.g. an export).

    Example::

        display_table(frame, {"mAP50": "{:.4f}"})["mAP50"].tolist()  # ['0.4321', '']
    """
    columns = [c for c in frame.columns if c not in hidden]
    return pd.DataFrame({c: _column(frame[c], formats.get(c)) for c in columns}, columns=columns)


def history_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Training History's table (from :func:`dashboard.data.history_frame`) as the page shows
    it: numbers and times keep their types (a click on a column header sorts them in order,
    durations by seconds), the duration in seconds, the id and the duration text left out.
    The page formats the cells and shows missing ones blank (``st.dataframe`` with
    ``placeholder=""`` and :data:`HISTORY_FORMATS`).

    Example::

        history_table(history_frame(sessions))["duration (s)"].iloc[0]  # 8100.0
    """
    columns = [c for c in frame.columns if c not in HISTORY_HIDDEN]
    return frame[columns].rename(columns={"duration_s": "duration (s)"})


__all__ = [
    "HISTORY_COLUMNS",
    "HISTORY_FORMATS",
    "HISTORY_SORTS",
    "LOSSES",
    "METRIC_LABELS",
    "TERMINAL",
    "TROPHIES",
    "HistorySort",
    "compare_frame",
    "display_table",
    "format_duration",
    "history_frame",
    "history_table",
    "leaderboard_frame",
    "loss_frame",
    "metrics_frame",
    "validation_frame",
]
