"""``mltrack sweep``: a hyperparameter sweep from the shell, over :func:`mltrack_sdk.sweep.sweep`.

Example::

    mltrack sweep shapes.yaml --model yolov8n.yaml --param lr0=0.01,0.001 --param batch=8,16 \\
        --epochs 10 --imgsz 320 --arg optimizer=SGD
    mltrack sweep shapes.yaml --method random --trials 8 --param lr0=1e-4..1e-1:log \\
        --param momentum=0.8..0.95 --arg optimizer=SGD --json

``--param NAME=V1,V2`` is a choice, ``NAME=LOW..HIGH`` a uniform range and ``NAME=LOW..HIGH:log``
a log-uniform one (random search); ``--arg NAME=VALUE`` an argument every trial shares.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mltrack_sdk import checks
from mltrack_sdk.config import DATABASE_URL_ENV
from mltrack_sdk.errors import MltrackError
from mltrack_sdk.sweep_space import Range

_PARAM_HELP = (
    "A searched argument: NAME=V1,V2 (choices), NAME=LOW..HIGH (uniform range) or"
    " NAME=LOW..HIGH:log (log-uniform). Repeat for each argument."
)


def parse_value(text: str) -> Any:
    """One value as Ultralytics' CLI reads it: true/false, none, an integer, a number, or text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text.strip()


def _split(option: str, item: str) -> tuple[str, str]:
    name, sep, values = item.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise checks.invalid(option, "must be NAME=VALUE", item)
    return name.strip(), values.strip()


def parse_params(items: list[str]) -> dict[str, Any]:
    """``--param`` options as a space: lists of choices and :class:`Range` objects."""
    space: dict[str, Any] = {}
    for item in items:
        name, values = _split("--param", item)
        if name in space:
            raise checks.invalid(f"--param {name}", "is given twice: list its values once")
        low, dots, high = values.partition("..")
        if dots:
            log = high.endswith(":log")
            bounds = (parse_value(low), parse_value(high.removesuffix(":log")))
            if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
                raise checks.invalid(
                    f"--param {name}", "must be LOW..HIGH with two numbers", values
                )
            space[name] = Range(bounds[0], bounds[1], log=log)
        else:
            space[name] = [parse_value(v) for v in values.split(",")]
    return space


def parse_args(items: list[str]) -> dict[str, Any]:
    """``--arg`` options as fixed train arguments."""
    fixed: dict[str, Any] = {}
    for item in items:
        name, value = _split("--arg", item)
        fixed[name] = parse_value(value)
    return fixed


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (Ultralytics' log and progress bars, also those of
    subprocesses) to stderr, so that stdout holds only the JSON."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1: nothing else can write there either
        saved = None
    if saved is not None:
        os.dup2(2, 1)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _table(result: Any, keys: list[str]) -> Table:
    table = Table(title=f"{result.name} ({result.objective}, {result.direction})")
    table.add_column("#", justify="right")
    for key in keys:
        table.add_column(key)
    table.add_column("status")
    table.add_column(result.objective, justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("session")
    best = result.best.number if result.best is not None else None
    for trial in result.trials:
        mark = " best" if trial.number == best else ""
        style = "bold green" if mark else ("red" if trial.status == "failed" else None)
        table.add_row(
            f"{trial.number}{mark}",
            *(str(trial.params.get(k)) for k in keys),
            trial.status,
            _number(trial.value),
            f"{trial.seconds:.1f}",
            trial.session_id or "-",
            style=style,
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``mltrack sweep`` to the CLI."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the command.
    from mltrack_sdk.cli import domain_errors

    app.command("sweep")(domain_errors(sweep_command))


def sweep_command(
    data: Annotated[Path, typer.Argument(help="The data yaml every trial trains on.")],
    param: Annotated[list[str], typer.Option("--param", "-p", help=_PARAM_HELP)],
    model: Annotated[str, typer.Option(help="Model yaml or weights.")] = "yolov8n.yaml",
    method: Annotated[str, typer.Option(help="grid or random.")] = "grid",
    trials: Annotated[
        int | None, typer.Option("--trials", help="Trials of a random search.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of a random search.")] = 0,
    objective: Annotated[
        str, typer.Option(help="map50_95, map50, precision, recall or loss.")
    ] = "map50_95",
    direction: Annotated[
        str | None, typer.Option(help="maximize or minimize (default: by objective).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of the hyperparameter run.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs of every trial.")] = None,
    imgsz: Annotated[int | None, typer.Option(help="Image size of every trial.")] = None,
    arg: Annotated[
        list[str] | None,
        typer.Option("--arg", "-a", help="NAME=VALUE: a train argument every trial shares."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help=f"Postgres URL (default: ${DATABASE_URL_ENV}, Supabase, or `mltrack up`).",
            show_default=False,
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Keep Ultralytics off the network (prepare_offline())."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a hyperparameter sweep: one tracked training per trial, one hyperparameter run."""
    space = parse_params(param)
    fixed = parse_args(arg or [])
    for key, value in (("epochs", epochs), ("imgsz", imgsz)):
        if value is not None:
            fixed[key] = value
    if offline:
        from mltrack_sdk.integrations.ultralytics import prepare_offline

        prepare_offline()
    from mltrack_sdk.sweep import sweep

    run = {
        "method": method,
        "n_trials": trials,
        "seed": seed,
        "objective": objective,
        "direction": direction,
        "name": name,
        "train_args": fixed,
        "database_url": database_url,
        "progress": _Progress(objective),
    }
    if as_json:
        from mltrack_sdk.cli import print_json

        with _stdout_to_stderr():
            result = sweep(model, data, space, **run)
        print_json(result.to_dict())
    else:
        result = sweep(model, data, space, **run)
        Console(highlight=False).print(_table(result, list(space)))
        if result.best is not None:
            typer.echo(
                f"Best: trial {result.best.number} ({result.objective} ="
                f" {_number(result.best.value)}), session {result.best.session_id}"
            )
        typer.echo(f"Hyperparameter run {result.run_id}")
    if not any(t.status == "completed" for t in result.trials):
        raise MltrackError("no trial completed: see the reasons above")


class _Progress:
    """A line on stderr as each trial starts and ends (Ultralytics' own log runs between)."""

    def __init__(self, objective: str) -> None:
        self.objective = objective
        self.console = Console(stderr=True, highlight=False)

    def __call__(self, event: Any) -> None:
        params = " ".join(f"{k}={v}" for k, v in event.params.items())
        if event.kind == "start":
            self.console.rule(f"[bold]trial {event.number}/{event.total}[/] {params}")
            return
        trial, best = event.trial, event.best
        colour = {"completed": "green", "failed": "red"}.get(trial.status, "yellow")
        line = f"[{colour}]trial {trial.number} {trial.status}[/]"
        line += f" {self.objective}={_number(trial.value)} in {trial.seconds:.1f} s"
        if trial.reason:
            line += f": {trial.reason}"
        if best is not None:
            line += f"; best so far: #{best.number} ({_number(best.value)})"
        self.console.print(line)
