"""``mltrack demo``: mltrack's main path on generated data, with nothing downloaded.

:func:`run_demo` keeps Ultralytics offline, writes a synthetic dataset of shapes, trains
``yolov8n.yaml`` from scratch with the training tracked (Ultralytics prints its progress, and a
line per epoch shows mAP rising) and benchmarks ``best.pt`` into the same session; ``mltrack
demo`` then prints the leaderboard, the session's summary and where to look further. All of it
was written by that training. A GPU is used when there is one.

Example::

    from mltrack_sdk.demo import run_demo

    result = run_demo(epochs=30, images=256, imgsz=128)
    print(result.session_id, result.best_pt, result.benchmark.fps)

Ultralytics and torch are imported when the demo runs, never at import.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from mltrack_sdk import checks
from mltrack_sdk.config import mltrack_home
from mltrack_sdk.errors import MltrackError

if TYPE_CHECKING:
    from mltrack_sdk.benchmark import BenchmarkResult

#: Defaults under which mAP visibly rises within a few minutes on two CPU cores.
DEFAULT_EPOCHS = 30
DEFAULT_IMAGES = 256
DEFAULT_IMGSZ = 128
#: The most training images the demo generates.
MAX_IMAGES = 100_000
_SPARKS = "▁▂▃▄▅▆▇█"


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """What the demo made: its session, dataset, model and benchmark."""

    session_id: str
    data: Path
    best_pt: Path
    benchmark: BenchmarkResult
    #: Wall time of the whole demo.
    seconds: float


class DemoFailed(MltrackError):
    """The demo's training raised; its session is marked failed with the reason."""


def check_demo(
    *,
    epochs: int = DEFAULT_EPOCHS,
    images: int = DEFAULT_IMAGES,
    imgsz: int = DEFAULT_IMGSZ,
    directory: str | Path | None = None,
    database_url: str | None = None,
) -> Path:
    """Check the demo's arguments and that its database answers, before anything is written;
    returns the directory the demo writes to. :func:`run_demo` calls it first; ``mltrack demo``
    too, so that a bad value stops it before the dashboard starts.

    Example::

        check_demo(epochs=2, images=16, imgsz=64)  # PosixPath('~/.local/share/mltrack/demo')
    """
    checks.check_positive_int("epochs", epochs, required=True)
    checks.check_positive_int("images", images, required=True)
    if images > MAX_IMAGES:
        raise checks.invalid("images", f"must be at most {MAX_IMAGES}", images)
    if type(imgsz) is not int or not 32 <= imgsz <= 4096 or imgsz % 32:
        raise checks.invalid("imgsz", "must be a multiple of 32 between 32 and 4096", imgsz)
    base = Path(directory).expanduser().absolute() if directory else mltrack_home() / "demo"
    if base.exists() and not base.is_dir():
        raise checks.invalid("dir", "must be a directory", str(base))

    from mltrack_sdk.client import Client

    with Client(database_url=database_url) as client:
        client.leaderboard(limit=1)  # an unreachable database stops the demo here
    return base


def run_demo(
    *,
    epochs: int = DEFAULT_EPOCHS,
    images: int = DEFAULT_IMAGES,
    imgsz: int = DEFAULT_IMGSZ,
    directory: str | Path | None = None,
    device: str | None = None,
    database_url: str | None = None,
    console: Console | None = None,
    before_training: Callable[[], None] | None = None,
) -> DemoResult:
    """Run the demo and print it on ``console``; returns the :class:`DemoResult`.

    ``images`` training images (and a quarter as many, at least 8, for validation) of
    ``imgsz`` pixels are written under ``directory`` (default ``<mltrack home>/demo``), where
    the training's run directory goes too. ``device`` as Ultralytics takes it (default: the
    first GPU, else the CPU). The database is ``database_url``, else the SDK's configuration
    (``$MLTRACK_DATABASE_URL``, Supabase settings, or ``mltrack up``'s); it is asked first, so
    an unreachable one stops the demo before anything trains. The session's results are then
    in the database (``Client().session(result.session_id)``). ``before_training`` is called
    once the data is ready, just before the training starts (``mltrack demo`` announces its
    dashboard there).

    Every argument is checked first (``InvalidValueError`` naming it, see :func:`check_demo`);
    a training that raises becomes :class:`DemoFailed` (its session ends ``failed``).

    Example::

        run_demo(epochs=2, images=16, imgsz=64, directory="/tmp/demo", device="cpu")
    """
    started = time.perf_counter()
    base = check_demo(
        epochs=epochs, images=images, imgsz=imgsz, directory=directory, database_url=database_url
    )
    console = console or Console(highlight=False, soft_wrap=True)

    from mltrack_sdk.integrations.ultralytics import prepare_offline
    from mltrack_sdk.synthetic import make_dataset

    prepare_offline()
    val = max(8, images // 4)
    console.rule("[bold]1/4 Data")
    data = make_dataset(base / f"shapes_{images}_{imgsz}", train=images, val=val, imgsz=imgsz)
    console.print(f"{images} training and {val} validation images of {imgsz} px: {data}")
    if before_training is not None:
        before_training()

    console.rule("[bold]2/4 Training yolov8n from scratch (tracked)")
    session_id, best = _train(data, epochs, imgsz, device, base, database_url, console)

    console.rule("[bold]3/4 Benchmark of best.pt")
    from mltrack_sdk.benchmark import benchmark

    speed = benchmark(
        best, data=data, imgsz=imgsz, device=device, session_id=session_id,
        database_url=database_url,
    )  # fmt: skip
    console.print(
        f"{speed.avg_inference_ms:.1f} ms per image (p95 {speed.p95_inference_ms:.1f} ms),"
        f" {speed.fps:.0f} images/s on {speed.device_name}"
    )

    return DemoResult(
        session_id=session_id,
        data=data,
        best_pt=best,
        benchmark=speed,
        seconds=time.perf_counter() - started,
    )


def _train(
    data: Path,
    epochs: int,
    imgsz: int,
    device: str | None,
    base: Path,
    database_url: str | None,
    console: Console,
) -> tuple[str, Path]:
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    model = YOLO("yolov8n.yaml")  # built from its yaml: no weights to download
    name = f"yolov8n demo {datetime.now():%Y-%m-%d %H:%M:%S}"
    start = {"database_url": database_url} if database_url else {}
    tracker = track(model, session_name=name, **start)
    for event, callback in _progress(console, epochs).items():
        model.add_callback(event, callback)
    try:
        model.train(
            data=str(data), epochs=epochs, imgsz=imgsz, batch=16, device=device, workers=0,
            amp=False, plots=False, project=str(base / "runs"), name="demo", seed=0,
        )  # fmt: skip
    except Exception as exc:
        where = f" (session {tracker.session_id})" if tracker.session_id else ""
        raise DemoFailed(f"training failed{where}: {type(exc).__name__}: {exc}") from exc
    best = Path(model.trainer.best)
    if tracker.session_id is None or not best.is_file():
        raise DemoFailed("the training was not logged: see the warnings above")
    return tracker.session_id, best


def _progress(console: Console, epochs: int) -> dict[str, Callable[[Any], None]]:
    """Callbacks that print one line per epoch: its mAP, and the mAP50 of every epoch so far."""
    pending: list[int] = []
    history: list[float] = []

    def on_train_epoch_end(trainer: Any) -> None:
        pending.append(trainer.epoch)

    def on_fit_epoch_end(trainer: Any) -> None:
        metrics = trainer.metrics or {}
        map50 = float(metrics.get("metrics/mAP50(B)", 0.0))
        map50_95 = float(metrics.get("metrics/mAP50-95(B)", 0.0))
        if not pending:  # the extra call after the last epoch: best.pt evaluated again
            console.print(f"[bold]best.pt[/]: mAP50 {map50:.3f}, mAP50-95 {map50_95:.3f}")
            return
        history.append(map50)
        console.print(
            f"[bold cyan]epoch {pending.pop() + 1}/{epochs}[/]  mAP50 {map50:.3f}"
            f"  mAP50-95 {map50_95:.3f}  {sparkline(history)}"
        )

    return {"on_train_epoch_end": on_train_epoch_end, "on_fit_epoch_end": on_fit_epoch_end}


def sparkline(values: list[float], width: int = 40) -> str:
    """The last ``width`` values in [0, 1] as block characters: ``sparkline([0, 0.5, 1])``."""
    top = len(_SPARKS) - 1
    return "".join(_SPARKS[round(min(max(v, 0.0), 1.0) * top)] for v in values[-width:])
