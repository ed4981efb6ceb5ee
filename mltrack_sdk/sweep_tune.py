"""Track Ultralytics' own tuner (``model.tune()``) as a hyperparameter run: :func:`track_tune`.

Ultralytics' ``Tuner`` trains each iteration in a subprocess (``yolo train``, started by its
``MultiTrainer``): callbacks added to the model never reach those trainings, so they cannot be
tracked the way :func:`~mltrack_sdk.integrations.ultralytics.track` tracks ``model.train()``.
What every iteration does leave are Ultralytics' own files, written as it goes: ``args.yaml``
when its trainer starts, a ``results.csv`` row after each epoch, and one line of
``tune_results.ndjson`` (hyperparameters, final metrics, failed datasets) when it ends.
:func:`track_tune` runs the tuner as ``model.tune()`` does and follows those files from a
background thread: a session starts (linked to the run) as an iteration starts, its epochs are
logged as they are written, and it finishes ``completed`` or ``failed`` with the iteration's
final metrics::

    from mltrack_sdk.sweep_tune import track_tune

    model = YOLO("yolov8n.yaml")
    result = track_tune(model, data="shapes.yaml", iterations=30, epochs=10,
                        space={"lr0": (1e-5, 1e-1), "momentum": (0.6, 0.98)})
    print(result.best.params)

Limits: one dataset per tune (Ultralytics' multi-dataset tuning is not followed), no Ray Tune or
MongoDB; an iteration whose run directory Ultralytics cleans up right after the iteration ends
may miss the epoch rows written in the last ``poll_interval``; its final metrics still come
from ``tune_results.ndjson``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mltrack_sdk import checks
from mltrack_sdk.errors import MltrackWarning
from mltrack_sdk.sweep import check_source, dataset_name
from mltrack_sdk.sweep_runs import (
    SweepResult,
    create_run,
    finish_run,
    read_trial,
    sweep_result,
)
from mltrack_sdk.sweep_space import DIRECTIONS, OBJECTIVES, check_tune_args, check_tune_space
from mltrack_sdk.sweep_tune_follow import TuneFollower
from mltrack_sdk.transports.base import Transport

__all__ = ["track_tune"]


def track_tune(
    model: Any,
    *,
    data: str | Path,
    iterations: int = 10,
    space: Mapping[str, Any] | None = None,
    name: str | None = None,
    objective: str = "map50_95",
    direction: str | None = None,
    database_url: str | None = None,
    transport: Transport | None = None,
    poll_interval: float = 0.5,
    train_args: Mapping[str, Any] | None = None,
) -> SweepResult:
    """Run Ultralytics' tuner on ``model`` (a ``YOLO`` object) as ``model.tune(data=...,
    iterations=..., space=..., **train_args)`` does, each iteration a tracked session of one
    hyperparameter run named ``name``; returns the :class:`~mltrack_sdk.sweep.SweepResult`.

    ``space`` is Ultralytics' tuner space (``{"lr0": (1e-5, 1e-1), "momentum": (0.6, 0.98,
    0.3)}``: bounds and an optional gain; None: its default space). ``train_args`` are the
    Ultralytics arguments every iteration shares (``epochs``, ``imgsz``, ``project``, and
    ``name`` for the tuner's directory). The database keeps the run's best iteration by
    ``objective`` (which may differ from Ultralytics' fitness). Every argument is checked
    before anything starts; an iteration that fails is recorded ``failed``.

    Example::

        result = track_tune(YOLO("yolov8n.yaml"), data="shapes.yaml", iterations=5,
                            train_args={"epochs": 3, "imgsz": 320})
    """
    if not callable(getattr(model, "tune", None)) or not hasattr(model, "overrides"):
        raise checks.invalid("model", "must be an Ultralytics model object (YOLO(...))", model)
    check_source("data", data)
    iterations = checks.check_positive_int("iterations", iterations, required=True) or 0
    objective = checks.check_choice("objective", objective, OBJECTIVES)
    direction = checks.check_choice(
        "direction", direction or ("minimize" if objective == "loss" else "maximize"), DIRECTIONS
    )
    if not (isinstance(poll_interval, (int, float)) and 0 < poll_interval <= 60):
        raise checks.invalid("poll_interval", "must be a number of seconds in (0, 60]")
    tuner_space = check_tune_space(space)
    fixed = check_tune_args(train_args or {})
    model_type = _model_type(model)
    run_name = name if name is not None else f"tune {model_type} {dataset_name(data)}"
    checks.check_name("name", run_name, 200)

    from ultralytics.engine.tuner import Tuner

    # What model.tune() does (ultralytics/engine/model.py), with the Tuner kept at hand for its
    # directories. Making it writes nothing: its directory is made when it runs.
    args = {**model.overrides, **fixed, "data": str(data), "mode": "train"}
    if "optimizer" not in (tuner_space or {}):
        args.setdefault("optimizer", "AdamW")
    if tuner_space is not None:
        args["space"] = tuner_space
    tuner = Tuner(args=args, _callbacks=model.callbacks, model=model.model)
    search_space = {
        "method": "ultralytics_tune",
        "space": {k: list(v) for k, v in tuner.space.items()},
        "train_args": fixed,
        "model": model_type,
        "data": str(data),
    }
    checks.check_json_object("search_space", search_space, 65536)

    from mltrack_sdk.connect import resolve_transport

    owns = transport is None
    backend = resolve_transport(database_url=database_url, transport=transport)
    try:
        run = create_run(
            backend,
            name=run_name,
            search_space=search_space,
            objective=objective,
            direction=direction,
            n_trials=iterations,
            model_type=model_type,
            dataset_name=dataset_name(data),
        )
        follower = TuneFollower(tuner, str(run["id"]), run_name, model_type, str(data), backend)
        follower.start_following(poll_interval)
        interrupted, ended = False, "cancelled"
        try:
            tuner(iterations=iterations)
            ended = "completed"
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            follower.stop(interrupted)
            for note in follower.notes:
                warnings.warn(note, MltrackWarning, stacklevel=2)
            finish_run(backend, str(run["id"]), ended)
        trials = [read_trial(backend, t, objective) for t in follower.trials()]
        return sweep_result(backend, run, trials, search_space)
    finally:
        if owns:
            backend.close()


def _model_type(model: Any) -> str:
    spec = getattr(getattr(model, "model", None), "yaml", None)
    source = spec.get("yaml_file") if isinstance(spec, Mapping) else None
    return Path(str(source or getattr(model, "model_name", None) or "yolo")).stem
