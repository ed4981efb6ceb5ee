"""``mltrack demo``: a real tracked training on generated data, watched live, benchmarked and
ranked.

A thin shell over :func:`mltrack_sdk.demo.run_demo`. Before the training starts it serves the
dashboard in the background and prints its URL (opening a browser where there is a display), so
the run is watched from its first epoch; it then prints the leaderboard (as ``mltrack
leaderboard``, this run in bold), the session's summary (as ``mltrack sessions show``) and the
commands to look further, and - at a terminal - keeps the dashboard serving until Ctrl-C. A user
mistake (or no reachable database) is one red line and exit code 1, before anything starts.

Example::

    mltrack up && mltrack demo                      # 30 epochs of yolov8n on 256 images
    mltrack demo --epochs 2 --images 16 --imgsz 64 --dir /tmp/demo --no-dashboard
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mltrack_sdk.cli_format import DatabaseUrlOption
from mltrack_sdk.demo import DEFAULT_EPOCHS, DEFAULT_IMAGES, DEFAULT_IMGSZ

if TYPE_CHECKING:
    from collections.abc import Collection

    from rich.console import Console

    from mltrack_sdk.cli_dashboard import DashboardServer
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
        bool,
        typer.Option(
            "--dashboard/--no-dashboard",
            help="Serve the live dashboard while it trains (at a terminal: until Ctrl-C).",
        ),
    ] = True,
    dashboard_port: Annotated[
        int | None,
        typer.Option(
            "--dashboard-port",
            help="The dashboard's port (default: 8501, else a free one).",
            min=1,
            max=65535,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train yolov8n on generated shapes, tracked and watched live; benchmark it; rank it."""
    from mltrack_sdk.cli import app
    from mltrack_sdk.cli_format import console
    from mltrack_sdk.demo import check_demo, run_demo

    # A bad value or an unreachable database stops it here, before the dashboard starts.
    base = check_demo(
        epochs=epochs, images=images, imgsz=imgsz, directory=directory, database_url=database_url
    )
    out = console()
    # At a terminal someone watches: a browser may open, and the dashboard outlives the demo.
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    with contextlib.ExitStack() as stack:
        server = None
        if dashboard:
            server = start_dashboard(out, database_url, base / "dashboard.log", dashboard_port)
        if server is not None:
            stack.enter_context(server)
        result = run_demo(
            epochs=epochs,
            images=images,
            imgsz=imgsz,
            directory=directory,
            device=device,
            database_url=database_url,
            console=out,
            before_training=None if server is None else lambda: announce(out, server, interactive),
        )
        out.rule("[bold]4/4 Results")
        show_results(out, result, database_url)
        commands = {c.name or getattr(c.callback, "__name__", "") for c in app.registered_commands}
        commands |= {g.name or "" for g in app.registered_groups}
        print_hints(out, result, commands, imgsz=imgsz, database_url=database_url)
        out.print(f"\nDemo done in {result.seconds:.0f} s.")
        if server is not None and server.process.poll() is None:
            if interactive:
                out.print(
                    f"The dashboard keeps serving at [bold]{server.url}[/]: press Ctrl-C to stop"
                    " it."
                )
                server.serve_until_interrupted()
            else:
                out.print(
                    f"The dashboard at {server.url} stops with the demo (not at a terminal);"
                    " `mltrack dashboard` serves it again."
                )


def start_dashboard(
    out: Console, database_url: str | None, log: Path, port: int | None
) -> DashboardServer | None:
    """Start the dashboard in the background (it boots while the data is generated); None, with
    a yellow line, where it cannot run (no Streamlit): the demo goes on without it."""
    from mltrack_sdk.cli_dashboard import DashboardServer, DashboardUnavailable

    try:
        return DashboardServer(database_url=database_url, log=log, port=port)
    except DashboardUnavailable as exc:
        out.print(f"No live dashboard: {exc.message}", style="yellow", markup=False)
        return None


def announce(out: Console, server: DashboardServer, interactive: bool) -> None:
    """Once the dashboard answers, print its URL where no one can miss it (and open a browser
    at a terminal with a display); if it does not answer, say where its log is and go on."""
    from rich.panel import Panel

    from mltrack_sdk.cli_dashboard import open_browser

    if not server.wait_ready(60):
        server.stop()
        out.print(
            f"The dashboard did not start (see {server.log}); the demo goes on without it.",
            style="yellow",
            markup=False,
        )
        return
    out.print(
        Panel.fit(
            f"[bold]Watch the training live:[/] [bold cyan link={server.url}]{server.url}[/]\n"
            "The dashboard shows each epoch as it is logged.",
            title="mltrack dashboard",
            border_style="cyan",
        )
    )
    if interactive:
        open_browser(server.url)


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
