"""``mltrack demo``: a real tracked training on generated data, benchmarked and ranked.

A thin shell over :func:`mltrack_sdk.demo.run_demo`: it then prints the leaderboard (as
``mltrack leaderboard``, this run in bold), the session's summary (as ``mltrack sessions show``)
and the commands to look further. A user mistake (or no reachable database) is one red line and
exit code 1.

Example::

    mltrack up && mltrack demo                      # 30 epochs of yolov8n on 256 images
    mltrack demo --epochs 2 --images 16 --imgsz 64 --dir /tmp/demo
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mltrack_sdk.cli_format import DatabaseUrlOption
from mltrack_sdk.demo import DEFAULT_EPOCHS, DEFAULT_IMAGES, DEFAULT_IMGSZ

if TYPE_CHECKING:
    from collections.abc import Collection

    from rich.console import Console

    from mltrack_sdk.demo import DemoResult


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app`` (the ``mltrack`` CLI)."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the command.
    from mltrack_sdk.cli import domain_errors

    app.command("demo")(domain_errors(demo_command))


def demo_command(
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs to train.")] = DEFAULT_EPOCHS,
    images: Annotated[
        int, typer.Option("--images", help="Training images to generate (val: a quarter, >= 8).")
    ] = DEFAULT_IMAGES,
    imgsz: Annotated[
        int, typer.Option("--imgsz", help="Image size in pixels (a multiple of 32).")
    ] = DEFAULT_IMGSZ,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where the dataset and the run go (default: the mltrack data dir's demo/).",
            show_default=False,
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device", help="cpu, 0, ... (default: first GPU, else CPU).", show_default=False
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    dashboard: Annotated[
        # Hidden while the CLI may have no dashboard: open_dashboard() does nothing then.
        bool,
        typer.Option("--dashboard/--no-dashboard", help="Open the dashboard.", hidden=True),
    ] = True,
) -> None:
    """Train yolov8n on generated shapes, tracked; benchmark it; print the leaderboard."""
    from mltrack_sdk.cli import app
    from mltrack_sdk.cli_format import console
    from mltrack_sdk.demo import run_demo

    out = console()
    result = run_demo(
        epochs=epochs,
        images=images,
        imgsz=imgsz,
        directory=directory,
        device=device,
        database_url=database_url,
        console=out,
    )
    out.rule("[bold]4/4 Results")
    show_results(out, result, database_url)
    commands = {c.name or getattr(c.callback, "__name__", "") for c in app.registered_commands}
    commands |= {g.name or "" for g in app.registered_groups}
    print_hints(out, result, commands, imgsz=imgsz, database_url=database_url)
    out.print(f"\nDemo done in {result.seconds:.0f} s.")
    if dashboard and sys.stdin.isatty() and sys.stdout.isatty():
        # It serves until Ctrl-C: only for someone at a terminal, never in a script or CI.
        open_dashboard(app, database_url)


def show_results(out: Console, result: DemoResult, database_url: str | None) -> None:
    """The leaderboard with the demo's run in bold (where it ranks), and its summary."""
    from mltrack_sdk.cli_format import open_client
    from mltrack_sdk.cli_results import leaderboard_table
    from mltrack_sdk.cli_sessions import summary_table

    with open_client(database_url) as client:
        board = client.leaderboard(limit=10)
        detail = client.session(result.session_id)
    if board:
        table = leaderboard_table(out, board)
        for row, entry in zip(table.rows, board, strict=True):
            if str(entry.id) == result.session_id:
                row.style = "bold green"
        out.print(table)
    out.print(summary_table(detail))


def print_hints(
    out: Console,
    result: DemoResult,
    commands: Collection[str],
    *,
    imgsz: int,
    database_url: str | None,
) -> None:
    """Where to look further: only ``mltrack`` commands that exist, and psql on a Postgres URL."""
    session, data, best = result.session_id, result.data, result.best_pt
    hints = {
        "sessions": (f"mltrack sessions show {session}", "this run: epochs, classes, speed"),
        "metrics": (f"mltrack metrics {session} --csv", "its epochs as CSV"),
        "dashboard": ("mltrack dashboard", "every run, live, in the browser"),
        "train": (
            f"mltrack train {data} --epochs 100 --imgsz {imgsz} --name 'a longer run'",
            "train longer, then compare",
        ),
        "benchmark": (f"mltrack benchmark {best} --imgsz {imgsz} --runs 200", "time it again"),
        "sweep": (
            f"mltrack sweep {data} --param lr0=0.01,0.001 --arg optimizer=SGD --epochs 10"
            f" --imgsz {imgsz}",
            "a learning-rate sweep",
        ),
    }
    lines = [hint for command, hint in hints.items() if command in commands]
    from mltrack_sdk.connect import resolve_target

    url = resolve_target(database_url).database_url
    if url:
        lines.append((f"psql '{url}' -c 'select * from models_leaderboard'", "plain SQL"))
    if lines:
        out.print("\n[bold]Look further:[/]")
        for line, what in lines:
            out.print(f"  {line}", markup=False, soft_wrap=True)
            out.print(f"      {what}", style="dim", markup=False)


def open_dashboard(app: typer.Typer, database_url: str | None) -> bool:
    """The dashboard hook: hand over to ``mltrack dashboard`` (it serves until Ctrl-C) when the
    CLI ``app`` has that command and Streamlit is installed; False, doing nothing, otherwise."""
    if importlib.util.find_spec("streamlit") is None:
        return False
    for command in app.registered_commands:
        if command.name == "dashboard" and command.callback is not None:
            command.callback(database_url=database_url)
            return True
    return False
