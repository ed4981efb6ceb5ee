"""Following Ultralytics' tuner from its files, for :func:`~mltrack_sdk.sweep_tune.track_tune`:
each iteration's run directory, ``args.yaml``, ``results.csv`` rows and its line of
``tune_results.ndjson`` become a session of the hyperparameter run, its epochs and its end (see
:mod:`mltrack_sdk.sweep_tune` for what the tuner leaves and when)."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path
from typing import Any

from mltrack_sdk.errors import MltrackError
from mltrack_sdk.session import Session
from mltrack_sdk.sweep import dataset_name
from mltrack_sdk.sweep_runs import Trial
from mltrack_sdk.transports.base import Transport

#: results.csv columns that are not metrics: the epoch (from 1) and seconds since the start.
_NOT_METRICS = ("epoch", "time")
_FINALS = {
    "precision": "final_precision",
    "recall": "final_recall",
    "map50": "final_map50",
    "map50_95": "final_map50_95",
}


class _Iteration:
    """One iteration being followed: its number, run directory, session and epochs logged."""

    def __init__(self, number: int, save_dir: Path) -> None:
        self.number = number
        self.save_dir = save_dir
        self.session: Session | None = None
        self.params: dict[str, Any] = {}
        self.started = time.monotonic()
        self.seconds = 0.0
        self.rows_logged = 0
        self.last_time = 0.0
        self.reason: str | None = None

    @property
    def open(self) -> bool:
        return self.session is not None and self.session.status == "running"


class TuneFollower:
    """Follows a Tuner's files from a background thread (see the module docstring). Trouble is
    kept in ``notes`` (warned on the caller's thread at the end), never raised into the tuner.

    Each iteration's run directory (``<project>/multitrain[-N]/<dataset>``) is made before its
    training starts and numbered in the order the directories appear; its session starts once
    the training wrote ``args.yaml`` (or, for one that failed before, with its result line)."""

    def __init__(
        self,
        tuner: Any,
        run_id: str,
        run_name: str,
        model_type: str,
        data: str,
        transport: Transport,
    ) -> None:
        self.tuner = tuner
        self.run_id = run_id
        self.run_name = run_name
        self.model_type = model_type
        self.data = data
        self.transport = transport
        self.notes: list[str] = []
        self.base = Path(tuner.tune_dir).parent
        self.tune_file = Path(tuner.tune_file)
        self.records_seen = len(self._records())
        self.first_number = self.records_seen + 1
        self.old_dirs = set(self._run_dirs())
        self.iterations: dict[Path, _Iteration] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread ---------------------------------------------------------------------------

    def start_following(self, interval: float) -> None:
        self._thread = threading.Thread(
            target=self._follow, args=(interval,), name="mltrack-tune", daemon=True
        )
        self._thread.start()

    def _follow(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.poll()

    def stop(self, interrupted: bool) -> None:
        """Stop following, take what the files hold now, and end any iteration left open."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.poll()
        for iteration in self.iterations.values():
            if iteration.session is None:
                continue  # no args.yaml and no result: nothing ran
            if iteration.open:
                status = "cancelled" if interrupted else "failed"
                reason = "interrupted" if interrupted else "the tuner stopped during this iteration"
                self._guard(self._finish, iteration, status, reason, {})

    def poll(self) -> None:
        self._guard(self._discover)
        for iteration in list(self.iterations.values()):
            if iteration.open:
                self._guard(self._log_rows, iteration)
        self._guard(self._take_records)

    def _guard(self, step: Any, *args: Any) -> None:
        try:
            step(*args)
        except MltrackError as exc:
            self.notes.append(f"mltrack could not log a tuning iteration: {exc.message}")
        except Exception as exc:  # the tuner must go on whatever happens to its tracking
            self.notes.append(f"mltrack tracking of the tuner failed: {type(exc).__name__}: {exc}")

    # -- the files ----------------------------------------------------------------------------

    def _run_dirs(self) -> list[Path]:
        """The iteration run directories there now, oldest sweep first."""
        found = [p.resolve() for p in self.base.glob("multitrain*/*") if p.is_dir()]
        return sorted(found, key=lambda p: (_sweep_index(p.parent.name), p.name))

    def _records(self) -> list[dict[str, Any]]:
        try:
            text = self.tune_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        # A line still being written has no newline yet: it is read at the next poll.
        return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line]

    def _discover(self) -> None:
        for save_dir in self._run_dirs():
            if save_dir not in self.old_dirs and save_dir not in self.iterations:
                number = self.first_number + len(self.iterations)
                self.iterations[save_dir] = _Iteration(number, save_dir)
        for iteration in self.iterations.values():
            args_file = iteration.save_dir / "args.yaml"
            if iteration.session is None and args_file.exists():
                args = _read_yaml(args_file)
                # save_dir is the file's last key: without it the file is still being written.
                if "save_dir" in args:
                    self._start(iteration, args, None)

    def _start(
        self, iteration: _Iteration, args: dict[str, Any], params: dict[str, Any] | None
    ) -> None:
        from mltrack_sdk.integrations.ultralytics_info import img_size
        from mltrack_sdk.session_start import start_session

        if params is None:
            params = {k: args[k] for k in self.tuner.space if k in args}
        epochs, batch = args.get("epochs"), args.get("batch")
        iteration.params = params
        iteration.session = start_session(
            f"{self.run_name} #{iteration.number}",
            model_type=self.model_type,
            epochs=epochs if isinstance(epochs, int) and epochs > 0 else 1,
            dataset_name=dataset_name(self.data),
            batch_size=batch if isinstance(batch, int) and batch > 0 else None,
            learning_rate=args.get("lr0") or None,
            img_size=img_size(args["imgsz"]) if args.get("imgsz") else None,
            config={**args, **params},
            hyperparameter_run_id=self.run_id,
            transport=self.transport,
        )

    def _log_rows(self, iteration: _Iteration) -> None:
        from mltrack_sdk.integrations.ultralytics_info import split_values

        assert iteration.session is not None
        try:
            text = (iteration.save_dir / "results.csv").read_text(encoding="utf-8")
        except FileNotFoundError:
            return  # not written yet, or cleaned up after the iteration
        # A row still being written has no newline yet: it is read at the next poll.
        rows = list(csv.DictReader(text[: text.rfind("\n") + 1].splitlines()))
        for row in rows[iteration.rows_logged :]:
            raw = {k.strip(): v for k, v in row.items() if k is not None}
            values, extra = split_values({k: v for k, v in raw.items() if k not in _NOT_METRICS})
            losses = [values[k] for k in ("box_loss", "cls_loss", "dfl_loss") if k in values]
            if losses:
                values["total_loss"] = sum(losses)
            seconds = float(raw.get("time") or 0.0)  # since the training began
            if seconds > iteration.last_time:
                values["epoch_time_seconds"] = seconds - iteration.last_time
                iteration.last_time = seconds
            # results.csv counts epochs from 1; sessions count them from 0, as track() does.
            iteration.session.log_epoch(int(float(raw["epoch"])) - 1, extra=extra, **values)
        iteration.rows_logged = max(iteration.rows_logged, len(rows))

    def _take_records(self) -> None:
        from mltrack_sdk.integrations.ultralytics_info import split_values

        for record in self._records()[self.records_seen :]:
            self.records_seen += 1
            failed = set(record.get("failed_datasets") or ())
            results = record.get("datasets") or {}
            for dataset, save_dir in (record.get("save_dirs") or {}).items():
                path = Path(save_dir).resolve()
                iteration = self.iterations.get(path)
                if iteration is None:  # came and went between two polls
                    iteration = _Iteration(self.first_number + len(self.iterations), path)
                    self.iterations[path] = iteration
                params = dict(record.get("hyperparameters") or {})
                if iteration.session is None:  # ended before its trainer wrote args.yaml
                    self._start(iteration, {**vars(self.tuner.args), **params}, params)
                iteration.params = params or iteration.params
                if iteration.open:
                    self._log_rows(iteration)
                if dataset in failed or not results.get(dataset):
                    reason = f"iteration {record.get('iteration')} of the tuner failed: see its log"
                    self._finish(iteration, "failed", reason, {})
                    continue
                values, _ = split_values(results[dataset])
                finals = {_FINALS[k]: v for k, v in values.items() if k in _FINALS}
                self._finish(iteration, "completed", None, finals)

    def _finish(
        self, iteration: _Iteration, status: str, reason: str | None, finals: dict[str, Any]
    ) -> None:
        assert iteration.session is not None
        iteration.reason = reason
        iteration.seconds = round(time.monotonic() - iteration.started, 3)
        iteration.session.finish(status, status_reason=reason, **finals)

    def trials(self) -> list[Trial]:
        """The iterations that ran, in order, as trials."""
        return [
            Trial(
                number=it.number,
                params=it.params,
                session_id=it.session.id,
                status=it.session.status,
                reason=it.reason,
                seconds=it.seconds,
            )
            for it in sorted(self.iterations.values(), key=lambda it: it.number)
            if it.session is not None
        ]


def _sweep_index(name: str) -> int:
    """multitrain -> 1, multitrain-2 -> 2 (Ultralytics' increment_path)."""
    suffix = name.rpartition("-")[2]
    return int(suffix) if suffix.isdigit() else 1


def _read_yaml(path: Path) -> dict[str, Any]:
    """A run's args.yaml; empty while it cannot be read whole."""
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
