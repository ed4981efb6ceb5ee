"""A sweep's records in the database, shared by :func:`mltrack_sdk.sweep.sweep` and
:func:`mltrack_sdk.sweep_tune.track_tune`: the ``hyperparameter_runs`` row (created, ended),
each trial as the database holds it, and the result with the database's best trial::

    run = create_run(transport, name="lr", objective="map50_95", direction="maximize")
    ...
    finish_run(transport, str(run["id"]), "completed")
    trials = [read_trial(transport, t, "map50_95") for t in trials]
    result = sweep_result(transport, run, trials, search_space={})
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mltrack_sdk.errors import DatabaseUnreachableError, MltrackWarning
from mltrack_sdk.transports.base import Transport

#: The session column that holds each objective's value.
OBJECTIVE_COLUMNS = {
    "map50_95": "final_map50_95",
    "map50": "final_map50",
    "precision": "final_precision",
    "recall": "final_recall",
    "loss": "final_loss",
}


@dataclass(frozen=True)
class Trial:
    """One trial: its number (from 1), parameters, session, status (``completed``, ``failed``,
    ``cancelled``), objective value (the session's final metric, as the database holds it;
    None when unknown), the reason it failed and its wall time."""

    number: int
    params: dict[str, Any]
    session_id: str | None
    status: str
    value: float | None = None
    reason: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did: the hyperparameter run, its trials in order, and the best trial as the
    database chose it (None while no trial completed with a value)."""

    run_id: str
    name: str
    objective: str
    direction: str
    trials: tuple[Trial, ...]
    best: Trial | None = None
    search_space: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (what ``mltrack sweep --json`` prints)."""
        return asdict(self)


def create_run(transport: Transport, **args: Any) -> dict[str, Any]:
    """Create the hyperparameter run (``create_hyperparameter_run``); the id is made here, so a
    retried call finds the same run. Needs the database: a sweep does not start without it."""
    args = {k: v for k, v in args.items() if v is not None}
    args["run_id"] = str(uuid.uuid4())
    try:
        row = transport.rpc("create_hyperparameter_run", args)
    except DatabaseUnreachableError as exc:
        raise DatabaseUnreachableError(
            f"cannot create the hyperparameter run: {exc.message}", field="hyperparameter_run"
        ) from exc
    return dict(row[0] if isinstance(row, list) else row)


def finish_run(transport: Transport, run_id: str, status: str) -> None:
    """End the hyperparameter run (``finish_hyperparameter_run``): ``completed`` once every trial
    ran, ``cancelled`` when the search was cut short. The trials are what matters: an unreachable
    database is a warning here, and the run stays ``running`` until it is ended again."""
    try:
        transport.rpc("finish_hyperparameter_run", {"run_id": run_id, "status": status})
    except DatabaseUnreachableError as exc:
        warnings.warn(
            f"cannot end hyperparameter run {run_id} ({status}): {exc.message}", MltrackWarning, 2
        )


def read_trial(transport: Transport, trial: Trial, objective: str) -> Trial:
    """The trial as the database holds it (status, objective value, reason); the trial as it is
    when its session is not there (not sent yet, or the database is away)."""
    if trial.session_id is None:
        return trial
    try:
        rows = transport.select("training_sessions", filters={"id": trial.session_id}, limit=1)
    except DatabaseUnreachableError as exc:
        warnings.warn(f"cannot read trial {trial.number}: {exc.message}", MltrackWarning, 2)
        return trial
    if not rows:
        return trial
    row = rows[0]
    value = row.get(OBJECTIVE_COLUMNS[objective])
    return Trial(
        number=trial.number,
        params=trial.params,
        session_id=trial.session_id,
        status=str(row["status"]),
        value=None if value is None else float(value),
        reason=row.get("status_reason") or trial.reason,
        seconds=trial.seconds,
    )


def sweep_result(
    transport: Transport, run: Mapping[str, Any], trials: list[Trial], search_space: dict[str, Any]
) -> SweepResult:
    """The result of a sweep whose trials have ended, with the database's best trial."""
    return SweepResult(
        run_id=str(run["id"]),
        name=str(run["name"]),
        objective=str(run["objective"]),
        direction=str(run["direction"]),
        trials=tuple(trials),
        best=best_trial(transport, run["id"], trials),
        search_space=search_space,
    )


def best_trial(transport: Transport, run_id: Any, trials: list[Trial]) -> Trial | None:
    """The trial the database holds as the run's best (``best_session_id``), if any."""
    try:
        rows = transport.select("hyperparameter_runs", filters={"id": str(run_id)}, limit=1)
    except DatabaseUnreachableError as exc:
        warnings.warn(f"cannot read the best trial: {exc.message}", MltrackWarning, 2)
        return None
    best_id = rows[0].get("best_session_id") if rows else None
    return next((t for t in trials if best_id and t.session_id == str(best_id)), None)


__all__ = [
    "OBJECTIVE_COLUMNS",
    "SweepResult",
    "Trial",
    "best_trial",
    "create_run",
    "finish_run",
    "read_trial",
    "sweep_result",
]
