"""The logging calls of a run (a mixin of :class:`~mltrack_sdk.session.Session`): each checks
its input on the calling thread, so a mistake raises a typed error at the line that made it, and
only enqueues; the session's writer thread sends (see :mod:`mltrack_sdk.writer`).

Example::

    run.log_epoch(3, box_loss=1.1, map50=0.64, extra={"lr_pg1": 0.001})
    run.record_validation({"map50": 0.8, "map50_95": 0.55})
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mltrack_sdk import checks
from mltrack_sdk.errors import MltrackWarning, SessionClosedError, ValueTooLargeError

if TYPE_CHECKING:
    from mltrack_sdk.writer import Writer


class RunLogging:
    """The logging calls; the session brings its id, status, writer and notes."""

    id: str
    status: str
    _notes: list[str]
    _closed: bool
    _max_epoch: int
    _put: Callable[[Any], None]
    _writer: Writer

    def _emit_notes(self) -> None:
        # Notes come from the background threads; warnings are raised here, on the caller's thread.
        while self._notes:
            warnings.warn(self._notes.pop(0), MltrackWarning, stacklevel=3)

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosedError(
                f"session {self.id} has finished ({self.status}): nothing more can be logged"
            )

    def log_epoch(
        self,
        epoch: int,
        *,
        box_loss: float | None = None,
        cls_loss: float | None = None,
        dfl_loss: float | None = None,
        total_loss: float | None = None,
        val_box_loss: float | None = None,
        val_cls_loss: float | None = None,
        val_dfl_loss: float | None = None,
        precision: float | None = None,
        recall: float | None = None,
        map50: float | None = None,
        map50_95: float | None = None,
        learning_rate: float | None = None,
        epoch_time_seconds: float | None = None,
        gpu_memory_mb: float | None = None,
        extra: Mapping[str, Any] | None = None,
        **unknown: Any,
    ) -> None:
        """Log one epoch's metrics (enqueued; the writer sends them in batches). A metric left
        out (or None) keeps its stored value; logging an epoch again merges into it.

        precision, recall, map50 and map50_95 are fractions in [0, 1]; the others finite and
        >= 0. Anything else goes in ``extra``. Example::

            run.log_epoch(3, box_loss=1.1, map50=0.64, extra={"lr_pg1": 0.001})
        """
        if self._notes:
            self._emit_notes()
        if self._closed:
            self._check_open()
        if type(epoch) is not int or not 0 <= epoch <= self._max_epoch:
            epoch = checks.check_epoch(epoch, self._max_epoch)
        if unknown:
            checks.check_metrics(unknown)  # raises: not a known metric
        metrics = checks.epoch_metrics(
            box_loss,
            cls_loss,
            dfl_loss,
            total_loss,
            val_box_loss,
            val_cls_loss,
            val_dfl_loss,
            precision,
            recall,
            map50,
            map50_95,
            learning_rate,
            epoch_time_seconds,
            gpu_memory_mb,
        )
        metrics["epoch"] = epoch
        if extra is not None:
            metrics["extra"] = checks.check_json_object("extra", extra, 16384)
        self._put(metrics)

    def log_epochs(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Log several epochs, each a mapping with ``epoch`` and metrics (all checked first).

        Example::

            run.log_epochs([{"epoch": 0, "box_loss": 1.5}, {"epoch": 1, "box_loss": 1.3}])
        """
        checked = []
        for row in rows:
            metrics = dict(row)
            if "epoch" not in metrics:
                raise checks.invalid("epoch", "is required in every row")
            epoch = checks.check_epoch(metrics.pop("epoch"), self._max_epoch)
            extra = metrics.pop("extra", None)
            checks.check_metrics(metrics)
            metrics["epoch"] = epoch
            if extra is not None:
                metrics["extra"] = checks.check_json_object("extra", extra, 16384)
            checked.append(metrics)
        self._check_open()
        self._emit_notes()
        for metrics in checked:
            self._put(metrics)

    def record_validation(
        self, results: Mapping[str, Any] | Iterable[Mapping[str, Any]], split: str = "val"
    ) -> None:
        """Record validation results: one mapping per class (``class_name``, ``class_id``,
        ``images``, ``instances``, precision, recall, map50, map50_95) plus the overall row
        (``class_name`` ``"all"``, the default). A single mapping is the overall row.

        Example::

            run.record_validation([{"map50": 0.8, "map50_95": 0.55},
                                   {"class_name": "mastomys", "class_id": 0, "map50": 0.81}])
        """
        rows = checks.validation_rows(results, split)
        self._check_open()
        self._emit_notes()
        self._writer.call(
            "record_validation", {"session_id": self.id, "results": rows, "split": split}
        )

    def upsert_dataset(
        self,
        name: str,
        *,
        class_names: Iterable[str] = (),
        train_size: int = 0,
        val_size: int = 0,
        test_size: int = 0,
        path: str | None = None,
        format: str = "yolo",
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Create or update the dataset ``name`` (``upsert_dataset``), sent with this run's calls
        (spooled with them when the backend is away).

        Example::

            run.upsert_dataset("mastomys_v2", class_names=["mastomys"], train_size=800,
                               val_size=200, path="/data/mastomys.yaml")
        """
        if isinstance(class_names, (str, Mapping)) or not isinstance(class_names, Iterable):
            raise checks.invalid("class_names", "must be a list of names", class_names)
        names = list(class_names)
        for item in names:
            if not isinstance(item, str):
                raise checks.invalid("class_names", "must hold only strings", item)
            checks.check_unicode("class_names", item)
        if len(names) > 10000:
            raise ValueTooLargeError(
                f"class_names must have at most 10000 entries (got {len(names)})",
                sqlstate="MT003",
                field="class_names",
            )
        args: dict[str, Any] = {
            "name": checks.check_name("name", name, 200),
            "class_names": names,
            "train_size": checks.check_count("train_size", train_size) or 0,
            "val_size": checks.check_count("val_size", val_size) or 0,
            "test_size": checks.check_count("test_size", test_size) or 0,
            "format": checks.check_name("format", format, 50),
            "metadata": checks.check_json_object("metadata", metadata, 65536),
        }
        if path is not None:
            args["path"] = checks.check_text("path", str(path), 1000)
        self._check_open()
        self._emit_notes()
        self._writer.call("upsert_dataset", args)

    def record_benchmark(self, avg_inference_ms: float, **fields: Any) -> str:
        """Record an inference benchmark; returns its id (made here, so a replay records it once).

        Example::

            run.record_benchmark(avg_inference_ms=8.2, device="cuda", batch_size=1, img_size=640)
        """
        args = checks.benchmark_args(avg_inference_ms, fields)
        self._check_open()
        self._emit_notes()
        benchmark_id = str(uuid.uuid4())
        self._writer.call(
            "record_benchmark", {"session_id": self.id, **args, "benchmark_id": benchmark_id}
        )
        return benchmark_id
