"""Inference benchmarks of a trained model, recorded in ``model_benchmarks``.

:func:`benchmark` loads the images first (disk reads are never timed), runs ``warmup``
predictions that are not counted, then ``runs`` timed predictions of ``batch`` images each,
cycling through the images, and records the figures for the session that trained the model.

What the figures mean (the same as the columns of ``model_benchmarks``):

- ``*_inference_ms`` (avg, min, max, p50, p95): the model's forward pass for **one batch** (one
  ``predict`` call of ``batch`` images), as Ultralytics times it (``Results.speed["inference"]``
  times the batch's images; Ultralytics synchronizes CUDA around it). With ``batch=1`` this is
  the latency of one image. Pre- and post-processing are not in it.
- ``preprocess_ms`` / ``postprocess_ms``: mean per batch of the letterbox and tensor conversion,
  and of NMS and building the results.
- ``fps``: images per second of inference alone, ``1000 * batch / avg_inference_ms`` - the
  formula the database uses when a benchmark comes without fps, so every row means the same.
- ``pipeline_ms`` / ``pipeline_fps`` (in the result only, no column): the wall time of a whole
  ``predict`` call per batch, and images per second end to end (pre-processing, inference,
  post-processing and Ultralytics' own overhead), the throughput an application would see.

Example::

    from mltrack_sdk.benchmark import benchmark

    result = benchmark("runs/detect/train/weights/best.pt", data="shapes.yaml", imgsz=640)
    print(result.p95_inference_ms, result.fps, result.device_name, result.session_id)

Ultralytics and torch are imported when a benchmark runs, never at import.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_sdk import benchmark_measure as measuring
from mltrack_sdk import checks
from mltrack_sdk.benchmark_measure import IMAGE_SUFFIXES, percentile
from mltrack_sdk.errors import MissingValueError, NotFoundError, SessionClosedError
from mltrack_sdk.session import TERMINAL_STATUSES

if TYPE_CHECKING:
    from mltrack_sdk.session import Session
    from mltrack_sdk.transports.base import Transport

#: At most this many images are held in memory; the runs cycle through them.
MAX_IMAGES = 256


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    """What :func:`benchmark` measured; milliseconds are per batch (see the module docstring)."""

    avg_inference_ms: float
    min_inference_ms: float
    max_inference_ms: float
    p50_inference_ms: float
    p95_inference_ms: float
    #: Images per second of inference alone: ``1000 * batch_size / avg_inference_ms``.
    fps: float
    preprocess_ms: float
    postprocess_ms: float
    #: Mean wall time of one whole ``predict`` call (one batch), every stage included.
    pipeline_ms: float
    #: Images per second end to end: timed images / total wall time of the timed calls.
    pipeline_fps: float
    #: The torch device the model ran on, e.g. ``cpu`` or ``cuda:0``.
    device: str
    #: The CPU model or GPU name.
    device_name: str
    dtype: str
    model_format: str
    batch_size: int
    img_size: int
    num_runs: int
    warmup_runs: int
    #: Distinct images the runs cycled through.
    images: int
    hardware_info: dict[str, Any]
    model_path: str | None = None
    #: The session the benchmark was recorded for (None when not recorded).
    session_id: str | None = None
    #: The id of the recorded ``model_benchmarks`` row (None when not recorded).
    benchmark_id: str | None = None

    def record_fields(self) -> dict[str, Any]:
        """The keyword arguments of ``record_benchmark`` besides ``avg_inference_ms``.

        Example::

            run.record_benchmark(result.avg_inference_ms, **result.record_fields())
        """
        names = (
            "min_inference_ms",
            "max_inference_ms",
            "p50_inference_ms",
            "p95_inference_ms",
            "fps",
            "preprocess_ms",
            "postprocess_ms",
            "device",
            "device_name",
            "dtype",
            "model_format",
            "batch_size",
            "img_size",
            "num_runs",
            "warmup_runs",
            "hardware_info",
        )
        return {name: getattr(self, name) for name in names}

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON-ready values (what ``mltrack benchmark --json`` prints)."""
        return dataclasses.asdict(self)


def benchmark(
    model: Any,
    *,
    images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    data: str | os.PathLike[str] | None = None,
    imgsz: int = 640,
    batch: int = 1,
    device: str | int | None = None,
    warmup: int = 3,
    runs: int = 50,
    half: bool = False,
    session: Session | None = None,
    session_id: str | None = None,
    database_url: str | None = None,
    record: bool = True,
    progress: bool = True,
) -> BenchmarkResult:
    """Measure the inference speed of ``model`` and record it for the session that trained it.

    ``model`` is a weights path (``best.pt``, or any format Ultralytics loads) or an Ultralytics
    ``YOLO`` object. Images come from ``images`` (a folder, searched recursively, or a list of
    image files), else from the val split of the data yaml ``data``, else from the val split of
    the data the model was trained on (kept in its weights). The first ``MAX_IMAGES`` images
    needed are read into memory before timing; runs cycle through them, and a batch larger than
    the images repeats them. ``imgsz`` is the longest side fed to the model (Ultralytics pads to
    a rectangle of it); ``device`` as Ultralytics takes it (``"cpu"``, ``0``, ``"cuda:1"``;
    ``None``: the first GPU, else the CPU); ``half`` runs in fp16 (a CUDA device only).
    ``warmup=0`` times the very first call too, which includes Ultralytics' setup.

    Recording (``record=True``): into the open ``session`` (enqueued, as ``record_benchmark``
    does), else into the session ``session_id``, else into the newest session whose
    ``model_path`` is this weights file; through ``database_url`` or the SDK's configuration.
    The session is found before anything is measured. Figures are per batch; see the module
    docstring for what each one covers.

    Every argument is checked before any work: a bad one raises a typed error naming the field
    (e.g. ``InvalidValueError: runs must be a positive integer (got 0)``) and records nothing.

    Example::

        result = benchmark("runs/detect/train/weights/best.pt", images="samples/", imgsz=640,
                           batch=1, runs=100, device="cuda:0")
        print(f"{result.avg_inference_ms:.1f} ms, p95 {result.p95_inference_ms:.1f} ms")
    """
    runs = _positive("runs", runs)
    batch = _positive("batch", batch)
    imgsz = _check_imgsz(imgsz)
    warmup = checks.check_count("warmup", warmup) or 0
    for field, flag in (("half", half), ("record", record), ("progress", progress)):
        if not isinstance(flag, bool):
            raise checks.invalid(field, "must be True or False", flag)
    device = _check_device(device)
    if images is not None and data is not None:
        raise checks.invalid("images", "cannot be given together with data: pass one of them")
    _check_recording(record, session, session_id, database_url)
    weights = _weights_path(model)
    yolo = measuring.load_model(model, weights)
    files = measuring.image_files(images, data, yolo)
    torch_device = measuring.select_device(device, half)
    measuring.check_stride(yolo, imgsz)
    loaded = measuring.read_images(files[: min(len(files), batch * runs, MAX_IMAGES)])

    target = _Recorder.open(record, session, session_id, database_url, weights)
    try:
        timings = measuring.measure(
            yolo,
            loaded,
            imgsz=imgsz,
            batch=batch,
            device=torch_device,
            half=half,
            warmup=warmup,
            runs=runs,
            progress=progress,
        )
        result = BenchmarkResult(
            **measuring.summarize(yolo, timings, torch_device, batch),
            batch_size=batch,
            img_size=imgsz,
            warmup_runs=warmup,
            images=len(loaded),
            model_path=None if weights is None else str(weights),
        )
        return target.record(result)
    finally:
        target.close()


# -- argument checks ---------------------------------------------------------------------------


def _positive(field: str, value: Any) -> int:
    number = checks.check_positive_int(field, value, required=True)
    assert number is not None
    return number


def _check_imgsz(value: Any) -> int:
    size = _positive("imgsz", value)
    if size % 32:
        raise checks.invalid(
            "imgsz", "must be a multiple of 32 (YOLO's stride)", size, "Try 320, 640 or 1280."
        )
    return size


def _check_device(value: Any) -> str | int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    if not isinstance(value, str) or checks.BLANK.fullmatch(value):
        raise checks.invalid(
            "device", "must be a device name such as cpu, 0 or cuda:0, or None", value
        )
    if "," in value:
        raise checks.invalid("device", "must be one device: a benchmark runs on one", value)
    return value.strip()


def _check_recording(
    record: bool, session: Session | None, session_id: str | None, database_url: str | None
) -> None:
    if session is not None:
        if not record:
            raise checks.invalid("session", "is only used when record=True")
        if session_id is not None or database_url is not None:
            raise checks.invalid(
                "session", "cannot be given with session_id or database_url: it has its own"
            )
        if session.status in TERMINAL_STATUSES:
            raise SessionClosedError(
                f"session {session.id} has finished ({session.status}): benchmark before"
                " finishing it, or pass session_id= to add a benchmark to a finished run"
            )
    if session_id is not None:
        try:
            uuid.UUID(str(session_id))
        except ValueError:
            raise checks.invalid("session_id", "must be a UUID", session_id) from None


def _weights_path(model: Any) -> Path | None:
    """The weights file: the path given, or where a YOLO object was loaded from (None if built
    from a yaml)."""
    if isinstance(model, (str, os.PathLike)):
        path = Path(model).expanduser()
        if not path.exists():
            raise checks.invalid("model", "must be an existing weights file", str(model))
        return path.absolute()
    if not callable(getattr(model, "predict", None)):
        raise checks.invalid(
            "model", "must be a weights path or an Ultralytics YOLO model", type(model).__name__
        )
    ckpt = getattr(model, "ckpt_path", None)
    return Path(ckpt).absolute() if ckpt else None


# -- recording ---------------------------------------------------------------------------------


class _Recorder:
    """Where the result goes: an open session, a session found in the database, or nowhere."""

    def __init__(
        self,
        session: Session | None = None,
        transport: Transport | None = None,
        session_id: str | None = None,
    ) -> None:
        self.session = session
        self.transport = transport
        self.session_id = session_id

    @classmethod
    def open(
        cls,
        record: bool,
        session: Session | None,
        session_id: str | None,
        database_url: str | None,
        weights: Path | None,
    ) -> _Recorder:
        """Resolve the session now, so a benchmark that could not be recorded is not run."""
        if not record:
            return cls()
        if session is not None:
            return cls(session=session, session_id=session.id)
        if session_id is None and weights is None:
            raise MissingValueError(
                "session_id is required to record a benchmark of a model with no weights file:"
                " pass session_id=, or record=False",
                sqlstate="MT002",
                field="session_id",
            )
        from mltrack_sdk.connect import resolve_transport

        transport = resolve_transport(database_url=database_url)
        try:
            found = _find_session(transport, session_id, weights)
        except BaseException:
            transport.close()
            raise
        return cls(transport=transport, session_id=found)

    def record(self, result: BenchmarkResult) -> BenchmarkResult:
        if self.session is not None:
            benchmark_id = self.session.record_benchmark(
                result.avg_inference_ms, **result.record_fields()
            )
        elif self.transport is not None:
            args = checks.benchmark_args(result.avg_inference_ms, result.record_fields())
            benchmark_id = str(uuid.uuid4())
            self.transport.rpc(
                "record_benchmark",
                {"session_id": self.session_id, **args, "benchmark_id": benchmark_id},
            )
        else:
            return result
        return dataclasses.replace(result, session_id=self.session_id, benchmark_id=benchmark_id)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _find_session(transport: Transport, session_id: str | None, weights: Path | None) -> str:
    if session_id is not None:
        sid = str(uuid.UUID(str(session_id)))
        if not transport.select("training_sessions", filters={"id": sid}, limit=1):
            raise NotFoundError(
                f"session_id does not match any training session (got {sid})",
                sqlstate="MT005",
                field="session_id",
            )
        return sid
    assert weights is not None
    # The path as given (made absolute) and with its links resolved: either may be stored.
    paths = sorted({str(weights), str(weights.resolve())})
    rows = transport.select(
        "training_sessions",
        filters={"model_path": paths},
        order=(("created_at", True), ("id", False)),
        limit=1,
    )
    if not rows:
        raise NotFoundError(
            f"model is not the model_path of any training session (got {weights})",
            sqlstate="MT005",
            hint="Pass session_id= to say which session trained it, or record=False.",
            field="model",
        )
    return str(rows[0]["id"])


__all__ = ["IMAGE_SUFFIXES", "MAX_IMAGES", "BenchmarkResult", "benchmark", "percentile"]
