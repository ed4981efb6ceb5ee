"""``mltrack train DATA``: a tracked Ultralytics training from the shell.

A thin shell over :func:`mltrack_sdk.integrations.ultralytics.track`: it builds the model, trains
it with the given arguments (other Ultralytics train arguments as ``key=value``) and prints the
session id and the result. A user mistake is one red line and exit code 1.

Example::

    mltrack train shapes.yaml --model yolov8n.yaml --epochs 30 --imgsz 128 --name "v8n shapes" \\
        patience=10 workers=0
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mltrack_sdk import checks
from mltrack_sdk.config import DATABASE_URL_ENV
from mltrack_sdk.errors import MltrackError

#: Train arguments that have their own option (given as key=value they would be ambiguous).
_OPTIONS = {"data": "DATA", "model": "--model", "epochs": "--epochs", "imgsz": "--imgsz"}
_OPTIONS |= {"batch": "--batch", "device": "--device"}


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to ``app`` (the ``mltrack`` CLI)."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the command.
    from mltrack_sdk.cli import domain_errors

    app.command("train")(domain_errors(train_command))


def train_command(
    data: Annotated[Path, typer.Argument(help="The data yaml (YOLO format).")],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="Other Ultralytics train arguments as key=value (patience=10 workers=0 ...).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help="Model yaml (a new model) or weights file.")
    ] = "yolov8n.yaml",
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs to train.")] = 100,
    imgsz: Annotated[int, typer.Option("--imgsz", help="Image size (a multiple of 32).")] = 640,
    batch: Annotated[int, typer.Option("--batch", help="Batch size (-1: automatic).")] = 16,
    device: Annotated[
        str | None,
        typer.Option(
            "--device", help="cpu, 0, 0,1 ... (default: first GPU, else CPU).", show_default=False
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Session name (default: model and dataset).", show_default=False
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help=f"Postgres URL (default: ${DATABASE_URL_ENV}, Supabase, or `mltrack up`).",
            show_default=False,
        ),
    ] = None,
    benchmark: Annotated[
        bool, typer.Option("--benchmark", help="Benchmark best.pt's inference speed at the end.")
    ] = False,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Keep Ultralytics off the network (prepare_offline())."),
    ] = False,
) -> None:
    """Train an Ultralytics model on DATA and track the run in mltrack."""
    extra = _parse_overrides(overrides or [])
    checks.check_positive_int("epochs", epochs)
    if imgsz < 32:
        raise checks.invalid("imgsz", "must be at least 32 pixels", imgsz)
    if batch == 0 or batch < -1:
        raise checks.invalid("batch", "must be a positive integer, or -1 for automatic", batch)
    if not data.is_file():
        raise checks.invalid("data", "must be an existing data yaml file", str(data))
    if name is not None:
        checks.check_name("name", name, 200)
    if offline:
        from mltrack_sdk.integrations.ultralytics import prepare_offline

        prepare_offline()
    from ultralytics.cfg import DEFAULT_CFG_DICT

    for key in extra:
        if key not in DEFAULT_CFG_DICT:
            raise checks.invalid(key, "is not an Ultralytics train argument")
    train_args = {"epochs": epochs, "imgsz": imgsz, "batch": batch, "device": device, **extra}
    results, tracker, best = _train(model, data, name, database_url, benchmark, train_args)
    console = Console(highlight=False, soft_wrap=True)
    status = tracker.session.status if tracker.session is not None else "not tracked"
    console.print(f"Session {tracker.session_id}: {status}", style="bold", markup=False)
    values = getattr(results, "results_dict", None) or {}
    summary = ", ".join(
        f"{label} {values[key]:.4f}"
        for label, key in (("mAP50", "metrics/mAP50(B)"), ("mAP50-95", "metrics/mAP50-95(B)"))
        if key in values
    )
    if summary:
        console.print(f"best.pt: {summary}", markup=False)
    if best is not None:
        console.print(f"Model: {best}", markup=False)


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    """``key=value`` texts as Ultralytics reads them (numbers, booleans, None, text)."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint="OVERRIDES")
        if key in _OPTIONS:
            raise typer.BadParameter(f"give {key} as {_OPTIONS[key]}", param_hint="OVERRIDES")
        if key in parsed:
            raise typer.BadParameter(f"{key} is given twice", param_hint="OVERRIDES")
        parsed[key] = value
    if not parsed:
        return parsed
    from ultralytics.cfg import smart_value

    return {key: smart_value(value) for key, value in parsed.items()}


def _train(
    model: str,
    data: Path,
    name: str | None,
    database_url: str | None,
    benchmark: bool,
    args: dict[str, Any],
) -> tuple[Any, Any, Path | None]:
    from ultralytics import YOLO

    from mltrack_sdk.integrations.ultralytics import track

    if os.environ.get("YOLO_OFFLINE") and Path(model).suffix == ".pt" and not Path(model).exists():
        # Ultralytics would try to download it (from GitHub) even when offline.
        raise checks.invalid("model", "must be an existing weights file offline", model)
    try:
        yolo = YOLO(model)
    except (FileNotFoundError, ValueError) as exc:
        raise checks.invalid("model", f"cannot be loaded: {exc}", model) from exc
    start = {"database_url": database_url} if database_url else {}
    tracker = track(yolo, session_name=name, benchmark=benchmark, **start)
    try:
        results = yolo.train(data=str(data), **args)
    except (Exception, KeyboardInterrupt) as exc:
        # The session is already marked failed (or cancelled) with the reason.
        where = f" (session {tracker.session_id})" if tracker.session_id else ""
        raise TrainingFailed(f"training failed{where}: {type(exc).__name__}: {exc}") from exc
    best = Path(yolo.trainer.best) if Path(yolo.trainer.best).exists() else None
    return results, tracker, best


class TrainingFailed(MltrackError):
    """The training raised; its session is marked failed with the reason."""
