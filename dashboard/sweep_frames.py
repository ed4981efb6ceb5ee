"""The frames of the Sweeps tab: a hyperparameter run's trials with their hyperparameters and
objective (pandas; also importable from :mod:`dashboard.data`)::

    from dashboard import sweep_frames

    table = sweep_frames.sweep_trials(run, sessions)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from mltrack_sdk.sweep import OBJECTIVE_COLUMNS

if TYPE_CHECKING:
    from mltrack_sdk.models import HyperparameterRun, TrainingSession

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


__all__ = ["sweep_parameters", "sweep_trials"]
