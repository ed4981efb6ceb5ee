"""Hyperparameter sweeps over Ultralytics train arguments: :func:`sweep`.

A sweep is one ``hyperparameter_runs`` row (search space, objective, direction, planned trials)
and one tracked training session per trial, started with the run's id; the database keeps the
run's best trial (``best_session_id``, ``best_value``, ``best_params``) current as trials finish.
A trial that fails is recorded ``failed`` (with the exception) and the sweep goes on::

    from mltrack_sdk.sweep import sweep

    result = sweep("yolov8n.yaml", data="shapes.yaml",
                   space={"lr0": [0.01, 0.001], "batch": [8, 16]},
                   train_args={"epochs": 10, "imgsz": 320, "optimizer": "SGD"})
    print(result.best.params, result.best.value)

The space is described in :mod:`mltrack_sdk.sweep_space`; everything is checked before anything
starts. Ultralytics' own ``model.tune()`` is tracked the same way by
:func:`mltrack_sdk.sweep_tune.track_tune`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mltrack_sdk import checks
from mltrack_sdk.session import Session
from mltrack_sdk.sweep_runs import (
    OBJECTIVE_COLUMNS,
    SweepResult,
    Trial,
    best_trial,
    create_run,
    finish_run,
    read_trial,
    sweep_result,
)
from mltrack_sdk.sweep_space import (
    DIRECTIONS,
    OBJECTIVES,
    Range,
    check_space,
    check_train_args,
    count_trials,
    iter_trials,
    plan_trials,
    space_json,
)
from mltrack_sdk.transports.base import Transport

__all__ = [
    "OBJECTIVE_COLUMNS",
    "Range",
    "SweepEvent",
    "SweepResult",
    "Trial",
    "plan_trials",
    "sweep",
]

#: What ``track_kwargs`` may carry: track()'s benchmark and the start_session() arguments that
#: the tracker does not derive from the trainer (it derives model type, epochs, batch size, ...).
TRACK_KWARGS = ("benchmark", "dataset_name", "config", "hardware_info", "spool_dir")
TRACK_KWARGS += ("heartbeat_interval", "finish_timeout", "flush_interval")


@dataclass(frozen=True)
class SweepEvent:
    """Sent to ``progress`` when a trial starts (``kind="start"``, ``trial`` None) and ends
    (``kind="end"``, with the trial and the best trial so far)."""

    kind: str
    number: int
    total: int
    params: dict[str, Any]
    trial: Trial | None = None
    best: Trial | None = None


def sweep(
    model: str | Path = "yolov8n.yaml",
    data: str | Path | None = None,
    space: Mapping[str, Any] | None = None,
    *,
    method: str = "grid",
    n_trials: int | None = None,
    seed: int = 0,
    objective: str = "map50_95",
    direction: str | None = None,
    name: str | None = None,
    train_args: Mapping[str, Any] | None = None,
    database_url: str | None = None,
    transport: Transport | None = None,
    progress: Callable[[SweepEvent], None] | None = None,
    **track_kwargs: Any,
) -> SweepResult:
    """Train ``model`` on ``data`` once per trial of ``space``, each trial a tracked session of
    one hyperparameter run; returns the :class:`SweepResult`.

    ``method="grid"`` runs every combination of the space's lists; ``method="random"`` draws
    ``n_trials`` trials (lists: a choice; :class:`Range` or ``(low, high)``: uniform,
    ``Range(..., log=True)``: log-uniform), the same ones for the same ``seed``. ``objective``
    is the final metric to optimise (``map50_95``, ``map50``, ``precision``, ``recall``,
    ``loss``); ``direction`` defaults to minimise for loss, maximise otherwise. ``train_args``
    are the Ultralytics arguments every trial shares (``epochs``, ``imgsz``, ``device``, ...).
    ``track_kwargs`` go to :func:`mltrack_sdk.integrations.ultralytics.track` (``benchmark``)
    and :func:`mltrack_sdk.start_session` (``spool_dir``, ``heartbeat_interval``, ...).
    ``progress`` is called with a :class:`SweepEvent` as each trial starts and ends.

    Every argument is checked before anything starts (``InvalidValueError`` naming the field,
    e.g. ``space.lr0``). Creating the hyperparameter run needs the database; the trials' logging
    then works as any training's (spooled while the database is away). A trial that raises is
    recorded ``failed`` and the next one starts; Ctrl-C cancels the running trial and ends the
    sweep (``KeyboardInterrupt`` is raised again).

    Example::

        result = sweep("yolov8n.yaml", "shapes.yaml", {"lr0": [0.01, 0.001]},
                       objective="loss", train_args={"epochs": 3, "optimizer": "SGD"})
    """
    plan = _check(model, data, space, method, n_trials, seed, objective, direction, name)
    fixed = check_train_args(train_args, plan["space"])
    _check_track_kwargs(track_kwargs)
    search_space = {
        "method": plan["method"],
        "space": space_json(plan["space"]),
        "train_args": fixed,
        "model": str(model),
        "data": str(data),
    }
    if plan["method"] == "random":
        search_space["seed"] = plan["seed"]
    checks.check_json_object("search_space", search_space, 65536)

    from mltrack_sdk.connect import resolve_transport

    owns = transport is None
    backend = resolve_transport(database_url=database_url, transport=transport)
    try:
        run = create_run(
            backend,
            name=plan["name"],
            search_space=search_space,
            objective=plan["objective"],
            direction=plan["direction"],
            n_trials=plan["total"],
            model_type=Path(str(model)).stem,
            dataset_name=dataset_name(data),
        )
        run_id = str(run["id"])
        context = _Context(backend, run_id, plan, str(model), str(data), fixed, track_kwargs)
        trials: list[Trial] = []
        ended = "cancelled"  # unless every trial ran (Ctrl-C, or a bug, ends it early)
        try:
            for number, params in enumerate(
                iter_trials(plan["space"], plan["method"], plan["n_trials"], plan["seed"]), start=1
            ):
                if progress is not None:
                    progress(SweepEvent("start", number, plan["total"], params))
                trials.append(context.run_trial(number, params))
                if progress is not None:
                    best = best_trial(backend, run_id, trials)
                    progress(SweepEvent("end", number, plan["total"], params, trials[-1], best))
            ended = "completed"
        finally:
            finish_run(backend, run_id, ended)
        return sweep_result(backend, run, trials, search_space)
    finally:
        if owns:
            backend.close()


def _check(
    model: Any,
    data: Any,
    space: Any,
    method: str,
    n_trials: int | None,
    seed: int,
    objective: str,
    direction: str | None,
    name: str | None,
) -> dict[str, Any]:
    """Every argument of a sweep but train_args and track_kwargs, checked and completed."""
    check_source("model", model)
    if data is None:
        raise checks.invalid("data", "is required: the data yaml every trial trains on")
    check_source("data", data)
    checked = check_space(space, method)
    total = count_trials(checked, method, n_trials)
    objective = checks.check_choice("objective", objective, OBJECTIVES)
    if direction is None:
        direction = "minimize" if objective == "loss" else "maximize"
    direction = checks.check_choice("direction", direction, DIRECTIONS)
    if name is None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        name = f"{method} sweep {Path(str(model)).stem} {dataset_name(data)} {stamp}"
    checks.check_name("name", name, 200)
    return {
        "space": checked,
        "method": method,
        "n_trials": n_trials,
        "total": total,
        "seed": checks.to_int("seed", seed),
        "objective": objective,
        "direction": direction,
        "name": name,
    }


def check_source(field_name: str, value: Any) -> str:
    """A model or data path as text; a path with a folder must exist (a bare name such as
    ``yolov8n.yaml`` or ``coco8.yaml`` is Ultralytics' to find)."""
    if not isinstance(value, (str, Path)) or not str(value).strip():
        rule = "must be a file path or an Ultralytics name"
        if field_name == "model":  # a YOLO object would carry one trial's weights to the next
            rule += ", not a model object"
        got = value if isinstance(value, str) else type(value).__name__
        raise checks.invalid(field_name, rule, got)
    path = Path(value)
    if len(path.parts) > 1 and not path.exists():
        raise checks.invalid(field_name, "does not exist", str(value))
    return str(value)


def dataset_name(data: Any) -> str:
    """The dataset's name as the tracker records it: the data yaml's stem."""
    return Path(str(data)).stem


def _check_track_kwargs(track_kwargs: Mapping[str, Any]) -> None:
    """What the trials' tracking gets, checked now: a mistake found in the first trial would
    leave a hyperparameter run without trials."""
    for key, value in track_kwargs.items():
        if key not in TRACK_KWARGS:
            raise checks.invalid(
                key,
                "is not an argument a sweep passes on to its trials",
                hint="Passed on: " + ", ".join(TRACK_KWARGS) + ".",
            )
        if key == "benchmark" and not isinstance(value, (bool, Mapping)):
            raise checks.invalid(key, "must be True, False or a dict of options", value)
        elif key in ("config", "hardware_info"):
            checks.check_json_object(key, value, 65536 if key == "config" else 16384)
        elif key == "dataset_name":
            checks.check_text(key, value, 200)
        elif key.endswith(("_interval", "_timeout")):
            checks.check_positive(key, value)


@dataclass
class _Context:
    """What every trial of one sweep shares: the backend, the run, the fixed arguments."""

    transport: Transport
    run_id: str
    plan: Mapping[str, Any]
    model: str
    data: str
    fixed: dict[str, Any]
    track_kwargs: dict[str, Any]

    def run_trial(self, number: int, params: dict[str, Any]) -> Trial:
        """Train one trial, tracked; a trial that raises is recorded failed (KeyboardInterrupt
        is raised again, its session cancelled)."""
        from ultralytics import YOLO

        from mltrack_sdk.integrations.ultralytics import track

        name = f"{self.plan['name']} #{number}"
        started = time.monotonic()
        yolo = YOLO(self.model)
        tracker = track(
            yolo,
            session_name=name,
            hyperparameter_run_id=self.run_id,
            transport=self.transport,
            **self.track_kwargs,
        )
        reason: str | None = None
        try:
            yolo.train(data=self.data, **self.fixed, **params)
        except KeyboardInterrupt:
            if tracker.session is None:
                self._record_unstarted(name, params, "cancelled", "KeyboardInterrupt")
            raise
        except Exception as exc:  # one failing trial must not end the sweep: it is recorded
            reason = f"{type(exc).__name__}: {exc}"
        session = tracker.session
        if session is None:
            session = self._record_unstarted(name, params, "failed", reason or "no training")
        elif session.status == "running":  # the tracker could not end it: the outcome is known
            session.finish("failed" if reason else "completed", status_reason=reason)
        trial = Trial(
            number=number,
            params=params,
            session_id=session.id,
            status=session.status,
            reason=reason,
            seconds=round(time.monotonic() - started, 3),
        )
        return read_trial(self.transport, trial, self.plan["objective"])

    def _record_unstarted(
        self, name: str, params: dict[str, Any], status: str, reason: str
    ) -> Session:
        """A trial that ended before Ultralytics started its trainer has no session (the tracker
        starts it once the trainer has its dataset): record one, ended as the trial ended."""
        from mltrack_sdk.session_start import start_session

        merged = {**self.fixed, **params}
        start = {k: v for k, v in self.track_kwargs.items() if k != "benchmark"}
        start["config"] = {**merged, **(start.get("config") or {})}
        start.setdefault("dataset_name", dataset_name(self.data))
        epochs = merged.get("epochs")
        session = start_session(
            name,
            model_type=Path(self.model).stem,
            epochs=epochs if isinstance(epochs, int) and epochs > 0 else 1,
            hyperparameter_run_id=self.run_id,
            transport=self.transport,
            **start,
        )
        session.finish(status, status_reason=reason)
        return session
