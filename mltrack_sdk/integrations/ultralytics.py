"""Track an Ultralytics YOLO training: ``track(model)`` before ``model.train(...)``.

Example::

    from ultralytics import YOLO
    from mltrack_sdk.integrations.ultralytics import track

    model = YOLO("yolov8n.yaml")
    tracker = track(model, session_name="YOLOv8n Mastomys v3")   # or track(model, session=run)
    model.train(data="mastomys.yaml", epochs=100)
    print(tracker.session_id)

The session starts when the trainer has its dataset (``on_pretrain_routine_end``): model type,
dataset (``upsert_dataset``), the full train arguments as ``config``, hardware, epochs, batch size,
learning rate and image size. Every epoch is logged at ``on_fit_epoch_end``; at the end come the
per-class validation of ``best.pt``, its metrics as the finals, ``model_path`` and the status.
Epochs are numbered as Ultralytics' ``trainer.epoch``: from 0 (its progress bar shows epoch + 1),
so a resumed training continues the same numbers.

The callbacks only enqueue (the SDK sends from its own thread); the one wait on the backend is
the session's start, before the first epoch, bounded by the connect timeout (the start is spooled
when the backend is away), and ``finish()`` after the last one. Only rank 0 of a multi-GPU
training logs. This module imports neither ultralytics nor torch at import time.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mltrack_sdk import checks
from mltrack_sdk.errors import InvalidTransitionError, MltrackError, MltrackWarning, NotFoundError
from mltrack_sdk.integrations import ultralytics_info as info_of
from mltrack_sdk.integrations.ultralytics_offline import prepare_offline
from mltrack_sdk.session import Session
from mltrack_sdk.session_start import start_session

__all__ = ["Tracker", "prepare_offline", "track"]

log = logging.getLogger("mltrack_sdk")

_FINALS = {"precision": "final_precision", "recall": "final_recall", "map50": "final_map50"}
_FINALS["map50_95"] = "final_map50_95"
#: start_session() arguments the tracker fills from the trainer (a user's value wins).
_DERIVED = ("model_type", "epochs", "dataset_name", "dataset_size", "batch_size")
_DERIVED += ("learning_rate", "img_size", "config", "hardware_info")
#: start_session() arguments that also apply when a resumed training continues its session.
_CONNECTION = ("database_url", "transport", "heartbeat_interval", "finish_timeout")
_CONNECTION += ("flush_interval", "spool_dir")
#: Where a training's save_dir keeps its session id, for ``resume=True``.
SESSION_FILE = "mltrack_session.json"
_EVENTS = ("on_pretrain_routine_end", "on_train_epoch_start", "on_train_epoch_end")
_EVENTS += ("on_fit_epoch_end", "on_train_end", "teardown")


def track(
    model: Any,
    *,
    session: Session | None = None,
    session_name: str | None = None,
    benchmark: bool | Mapping[str, Any] = False,
    hyperparameter_run_id: str | None = None,
    **start_kwargs: Any,
) -> Tracker:
    """Track the trainings of an Ultralytics ``model`` (``YOLO(...)``) in mltrack.

    Registers callbacks with ``model.add_callback`` and returns the :class:`Tracker`; its
    ``session_id`` is known once a training starts. Each ``model.train()`` is one session
    (``session=`` logs into an open :class:`~mltrack_sdk.session.Session` instead and finishes
    it at the end). ``start_kwargs`` go to :func:`~mltrack_sdk.start_session` (``database_url``,
    ``transport``, ``spool_dir``, ``heartbeat_interval``, ...; ``config`` is merged into the train
    arguments). ``benchmark=True`` (or a dict of its options) runs
    :func:`mltrack_sdk.benchmark.benchmark` on ``best.pt`` before the session finishes.

    The session ends ``completed``; ``failed`` with the exception when training raises;
    ``cancelled`` after the current epoch when someone calls ``request_stop``. ``train(resume=
    True)`` continues the session of the run it resumes (its id is kept in the run's directory,
    ``mltrack_session.json``).

    Example::

        tracker = track(YOLO("yolov8n.yaml"), session_name="v8n shapes", database_url=url)
    """
    if not callable(getattr(model, "add_callback", None)):
        raise checks.invalid("model", "must be an Ultralytics model (with add_callback)", model)
    if session is not None:
        if not isinstance(session, Session):
            raise checks.invalid("session", "must be a Session from start_session()", session)
        if session_name is not None or start_kwargs:
            field = "session_name" if session_name is not None else sorted(start_kwargs)[0]
            raise checks.invalid(field, "cannot be given with session= (the session has started)")
    elif session_name is not None:
        checks.check_name("session_name", session_name, 200)
    known = set(inspect.signature(start_session).parameters) - {"session_name", "resume"}
    for key in start_kwargs:
        if key not in known:
            raise checks.invalid(key, "is not an argument of start_session()")
    if not isinstance(benchmark, (bool, Mapping)):
        raise checks.invalid("benchmark", "must be True, False or a dict of options", benchmark)
    checks.check_text("hyperparameter_run_id", hyperparameter_run_id, 100)
    tracker = Tracker(session, session_name, benchmark, hyperparameter_run_id, start_kwargs)
    for event in _EVENTS:
        model.add_callback(event, getattr(tracker, event))
    return tracker


class Tracker:
    """The state of :func:`track`'s callbacks: ``session`` (the open or last
    :class:`~mltrack_sdk.session.Session`, None before a training starts) and ``session_id``."""

    def __init__(
        self,
        session: Session | None,
        session_name: str | None,
        benchmark: bool | Mapping[str, Any],
        hyperparameter_run_id: str | None,
        start_kwargs: dict[str, Any],
    ) -> None:
        self.session = session
        self._given = session
        self._name = session_name
        self._benchmark = benchmark
        self._hyperparameter_run_id = hyperparameter_run_id
        self._start_kwargs = start_kwargs
        self._epoch: int | None = None  # trained, waiting for its on_fit_epoch_end
        self._seen_metrics: int | None = None  # id() of the last validation's metrics dict
        self._finals: dict[str, float] = {}
        self._stopped_at: int | None = None

    @property
    def session_id(self) -> str | None:
        """The session's id, once a training has started (or the given session's)."""
        return None if self.session is None else self.session.id

    def __getstate__(self) -> dict[str, Any]:
        # Multi-GPU training pickles the callbacks into its workers: rank 0 there opens its own
        # connection and continues this session (when one is open) by id.
        state = self.__dict__.copy()
        if self.session is not None and self.session.status == "running":
            state["_start_kwargs"] = {**self._start_kwargs, "resume_id": self.session.id}
        state["session"] = state["_given"] = None
        return state

    # -- callbacks ------------------------------------------------------------------------------

    def on_pretrain_routine_end(self, trainer: Any) -> None:
        _guard(self._start, trainer)

    def on_train_epoch_start(self, trainer: Any) -> None:
        _guard(info_of.reset_gpu_peak, trainer)

    def on_train_epoch_end(self, trainer: Any) -> None:
        if _is_logging_rank():
            self._epoch = trainer.epoch

    def on_fit_epoch_end(self, trainer: Any) -> None:
        _guard(self._log_epoch, trainer)

    def on_train_end(self, trainer: Any) -> None:
        _guard(self._end, trainer)

    def teardown(self, trainer: Any) -> None:
        # Ultralytics has no exception callback, but runs "teardown" in the `finally` of
        # trainer.train(): the exception in flight there (sys.exc_info) is why training stopped.
        # A training that reached on_train_end has finished its session already.
        _guard(self._teardown, trainer)

    # -- the work -------------------------------------------------------------------------------

    def _open(self) -> Session | None:
        session = self.session
        return session if session is not None and session.status == "running" else None

    def _start(self, trainer: Any) -> None:
        self._epoch, self._finals, self._stopped_at = None, {}, None
        self._seen_metrics = id(trainer.metrics)
        info = info_of.run_info(trainer)
        given = self._given
        if given is not None and given.status == "running":
            self.session = given
        else:
            self.session = self._start_session(trainer, info)
        try:
            _session_file(trainer).write_text(json.dumps({"session_id": self.session.id}))
        except OSError as exc:
            log.warning("mltrack: cannot keep the session id for resume: %s", exc)
        self.session.upsert_dataset(**info["dataset"])

    def _start_session(self, trainer: Any, info: dict[str, Any]) -> Session:
        kwargs = dict(self._start_kwargs)
        resume_id = kwargs.pop("resume_id", None)
        connection = {k: v for k, v in kwargs.items() if k in _CONNECTION}
        if resume_id is None and getattr(trainer, "resume", False):
            resume_id = _saved_session_id(trainer)
        if resume_id is not None:
            try:
                return start_session(resume=resume_id, **connection)
            except (InvalidTransitionError, NotFoundError) as exc:
                warnings.warn(
                    f"the resumed training starts a new session: {exc.message}",
                    MltrackWarning,
                    stacklevel=2,
                )
                kwargs["config"] = {**(kwargs.get("config") or {}), "resumed_from": resume_id}
        start = {k: v for k, v in info.items() if k in _DERIVED}
        for key in ("config", "hardware_info"):  # the user's entries added to the trainer's
            start[key] = {**start[key], **(kwargs.pop(key, None) or {})}
        name = self._name or f"{info['model_type']} {info['dataset_name']}"
        return start_session(
            name,
            **{**start, **kwargs},
            hyperparameter_run_id=self._hyperparameter_run_id,
        )

    def _log_epoch(self, trainer: Any) -> None:
        session = self._open()
        if session is None:
            return
        metrics = dict(trainer.metrics or {})
        validated = id(trainer.metrics) != self._seen_metrics
        self._seen_metrics = id(trainer.metrics)
        if self._epoch is None:
            # The extra call after the last epoch: best.pt evaluated again. Its results are the
            # run's final metrics, never an epoch row.
            values, _ = info_of.split_values(metrics)
            self._finals = {_FINALS[k]: v for k, v in values.items() if k in _FINALS}
            return
        epoch, self._epoch = self._epoch, None
        if not validated:  # validation skipped this epoch (val=False): its metrics are stale
            metrics = {k: v for k, v in metrics.items() if not k.startswith(("metrics/", "val/"))}
        losses = trainer.label_loss_items(trainer.tloss) if trainer.tloss is not None else {}
        rates = getattr(trainer, "lr", None) or {}
        values, extra = info_of.split_values({**losses, **metrics, **rates})
        train_losses = [values[k] for k in ("box_loss", "cls_loss", "dfl_loss") if k in values]
        if train_losses:
            values["total_loss"] = sum(train_losses)
        if trainer.epoch_time is not None:
            values["epoch_time_seconds"] = trainer.epoch_time
        values["gpu_memory_mb"] = info_of.gpu_peak_mb(trainer.device)
        extra.update(info_of.rss_mb())
        session.log_epoch(epoch, extra=extra, **values)
        if session.stop_requested and not trainer.stop:
            # Ultralytics ends the loop after this callback when trainer.stop is set (and sends
            # rank 0's flag to every rank), then evaluates best.pt and calls on_train_end.
            trainer.stop = True
            self._stopped_at = epoch

    def _end(self, trainer: Any) -> None:
        session = self._open()
        if session is None:
            return
        best = Path(trainer.best) if Path(trainer.best).exists() else Path(trainer.last)
        finals: dict[str, Any] = dict(self._finals)
        if best.exists():
            finals["model_path"] = str(best.absolute())
        try:
            rows = info_of.validation_rows(trainer)
            if rows:
                session.record_validation(rows)
            if self._benchmark and best.exists():
                _guard(self._run_benchmark, trainer, best)
        finally:  # the training succeeded, whatever its results' logging did
            if self._stopped_at is None:
                session.finish("completed", **finals)
            else:
                reason = f"stop requested: training ended after epoch {self._stopped_at}"
                session.finish("cancelled", status_reason=reason, **finals)

    def _run_benchmark(self, trainer: Any, best: Path) -> None:
        from mltrack_sdk.benchmark import benchmark

        options = dict(self._benchmark) if isinstance(self._benchmark, Mapping) else {}
        options.setdefault("imgsz", info_of.img_size(trainer.args.imgsz))
        options.setdefault("device", str(trainer.device))
        if "images" not in options:  # else the user's images replace the data's val split
            options.setdefault("data", trainer.data.get("yaml_file") or trainer.args.data)
        benchmark(best, session=self.session, progress=False, **options)

    def _teardown(self, trainer: Any) -> None:
        session = self._open()
        if session is None:
            return
        exc = sys.exc_info()[1]
        if isinstance(exc, KeyboardInterrupt):
            session.finish("cancelled", status_reason="KeyboardInterrupt: interrupted by the user")
        elif exc is not None:
            session.finish("failed", status_reason=f"{type(exc).__name__}: {exc}")
        else:
            session.finish("failed", status_reason="training ended before on_train_end")


def _guard(step: Callable[..., None], trainer: Any, *args: Any) -> None:
    """Run a callback's work on the logging rank; trouble is a warning, never a crashed training."""
    if not _is_logging_rank():
        return
    try:
        step(trainer, *args)
    except MltrackError as exc:
        warnings.warn(f"mltrack could not log this training: {exc.message}", MltrackWarning, 2)
    except Exception as exc:
        log.exception("mltrack: %s failed", getattr(step, "__name__", step))
        warnings.warn(f"mltrack tracking failed: {type(exc).__name__}: {exc}", MltrackWarning, 2)


def _is_logging_rank() -> bool:
    # Ultralytics' RANK: -1 without DDP, 0..n-1 in DDP workers; only rank 0 logs.
    return int(os.environ.get("RANK", -1)) in (-1, 0)


def _session_file(trainer: Any) -> Path:
    return Path(trainer.save_dir) / SESSION_FILE


def _saved_session_id(trainer: Any) -> str | None:
    """The session of the run a resumed training continues (None when it kept none)."""
    try:
        saved = json.loads(_session_file(trainer).read_text())
    except (OSError, ValueError):
        return None
    session_id = saved.get("session_id") if isinstance(saved, dict) else None
    return session_id if isinstance(session_id, str) else None
