"""``mltrack sessions list|show`` and ``mltrack stop``.

Thin shells over :class:`mltrack_sdk.client.Client`: each reads, prints rich tables (or JSON
with ``--json``, shapes in docs/cli.md) and turns a user mistake into one red line, exit code 1.

Example::

    mltrack sessions list --status running --model-type yolov8n
    mltrack sessions show 6f1c0a2e-...            # summary, epochs, per-class results, benchmarks
    mltrack stop 6f1c0a2e-... --reason "diverged"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

import typer

from mltrack_sdk.cli_format import RIGHT, DatabaseUrlOption, JsonOption

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from mltrack_sdk.client import Client
    from mltrack_sdk.models import SessionDetail, TrainingSession

Status = Literal["pending", "running", "completed", "failed", "cancelled"]
SessionId = Annotated[
    UUID, typer.Argument(metavar="ID", help="The session's id.", show_default=False)
]

#: Epochs ``sessions show`` lists (the latest ones); ``mltrack metrics`` lists them all.
SHOWN_EPOCHS = 10


def register(app: typer.Typer) -> None:
    """Add ``sessions list|show`` and ``stop`` to ``app``."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the commands.
    from mltrack_sdk.cli import domain_errors

    sessions_app = typer.Typer(help="List and inspect training sessions.", no_args_is_help=True)
    sessions_app.command("list")(domain_errors(sessions_list))
    sessions_app.command("show")(domain_errors(sessions_show))
    app.add_typer(sessions_app, name="sessions")
    app.command("stop")(domain_errors(stop_command))


# -- sessions list ----------------------------------------------------------------------------


def sessions_list(
    status: Annotated[
        Status | None, typer.Option("--status", help="Only sessions in this state.")
    ] = None,
    model_type: Annotated[
        str | None,
        typer.Option(
            "--model-type", help="Only this model type (e.g. yolov8n).", show_default=False
        ),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Only this dataset name.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 20,
    json_output: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Training sessions, newest first."""
    from mltrack_sdk.cli_format import open_client, print_rows

    filters = {"status": status, "model_type": model_type, "dataset_name": dataset}
    with open_client(database_url) as client:
        rows = find_sessions(client, {k: v for k, v in filters.items() if v is not None}, limit)
    print_rows(rows, json_output, "No sessions match.", sessions_table)


def find_sessions(client: Client, filters: dict[str, Any], limit: int) -> list[TrainingSession]:
    """Sessions matching ``filters`` (column equalities), newest first."""
    from mltrack_sdk.models import TrainingSession

    rows = client.transport.select(
        "training_sessions",
        filters=filters or None,
        order=(("created_at", True), ("id", False)),
        limit=limit,
    )
    return [TrainingSession.model_validate(row) for row in rows]


def sessions_table(out: Console, rows: list[TrainingSession]) -> Table:
    """One line per session: id, name, model, dataset, status, epochs, best mAP, age."""
    from mltrack_sdk import cli_format as fmt

    columns = (
        ("ID", fmt.FIXED),
        ("NAME", fmt.NAME),
        ("MODEL", fmt.NAME),
        ("DATASET", fmt.NAME),
        ("STATUS", fmt.FIXED),
        ("EPOCHS", RIGHT),
        ("mAP50-95", RIGHT),
        ("CREATED", RIGHT),
    )
    cells = (
        (
            str(s.id),
            fmt.text(s.session_name),
            fmt.text(s.model_type),
            fmt.text(s.dataset_name),
            fmt.status(s.status),
            fmt.epochs(s.epochs_completed, s.epochs),
            fmt.number(s.best_map50_95),
            fmt.ago(s.created_at),
        )
        for s in rows
    )
    return fmt.fitted_table(out, None, columns, cells, ("CREATED", "MODEL", "EPOCHS", "DATASET"))


# -- sessions show ----------------------------------------------------------------------------


def sessions_show(
    session_id: SessionId, json_output: JsonOption = False, database_url: DatabaseUrlOption = None
) -> None:
    """A session: its summary, latest epochs, per-class validation and benchmarks."""
    from mltrack_sdk.cli import print_json
    from mltrack_sdk.cli_format import console, open_client
    from mltrack_sdk.cli_metrics import metrics_table

    with open_client(database_url) as client:
        detail = client.session(session_id)
    if json_output:
        print_json(detail.model_dump(mode="json"))
        return
    out = console()
    out.print(summary_table(detail))
    shown = detail.metrics[-SHOWN_EPOCHS:]
    if shown:
        title = "Epochs"
        if len(shown) < len(detail.metrics):
            title = f"Last {len(shown)} of {len(detail.metrics)} epochs (all: mltrack metrics ID)"
        out.print(metrics_table(out, shown, title))
    if detail.validation_results:
        out.print(validation_table(out, detail))
    if detail.benchmarks:
        out.print(benchmarks_table(out, detail))


def summary_table(detail: SessionDetail) -> Table:
    """The session's configuration and summary, one labelled line each."""
    from mltrack_sdk import cli_format as fmt

    s = detail.session
    speed = fmt.EMPTY
    if s.best_inference_ms is not None:
        speed = f"{fmt.number(s.best_inference_ms, 2)} ms, {fmt.number(s.best_fps, 1)} FPS"
    rows = [
        ("id", str(s.id)),
        ("status", fmt.status(s.status, s.status_reason)),
        ("model", fmt.text(s.model_type)),
        ("dataset", fmt.text(s.dataset_name)),
        ("epochs", fmt.epochs(s.epochs_completed, s.epochs)),
        (
            "batch / imgsz / lr",
            " / ".join(map(fmt.text, (s.batch_size, s.img_size, s.learning_rate))),
        ),
        ("best epoch", fmt.text(s.best_epoch)),
        ("best mAP50 / mAP50-95", f"{fmt.number(s.best_map50)} / {fmt.number(s.best_map50_95)}"),
        ("final mAP50 / mAP50-95", f"{fmt.number(s.final_map50)} / {fmt.number(s.final_map50_95)}"),
        (
            "final precision / recall",
            f"{fmt.number(s.final_precision)} / {fmt.number(s.final_recall)}",
        ),
        ("final loss", fmt.number(s.final_loss)),
        ("best inference", speed),
        ("model path", fmt.text(s.model_path)),
        ("started", fmt.timestamp(s.started_at)),
        ("completed", fmt.timestamp(s.completed_at)),
        ("duration", fmt.duration(s.duration_seconds)),
    ]
    if s.stop_requested and s.status == "running":
        rows.append(("stop requested", "yes"))
    if s.hyperparameter_run_id is not None:
        rows.append(("sweep", str(s.hyperparameter_run_id)))
    return fmt.key_values(f"Session {s.session_name or s.id}", rows)


def validation_table(out: Console, detail: SessionDetail) -> Table:
    """Per-class validation results (the overall ``all`` row among them, in bold)."""
    from mltrack_sdk import cli_format as fmt

    columns = (
        ("SPLIT", fmt.FIXED),
        ("CLASS", fmt.NAME),
        *((header, RIGHT) for header in ("IMAGES", "INSTANCES", "P", "R", "mAP50", "mAP50-95")),
    )
    cells = []
    for v in detail.validation_results:
        name = fmt.text(v.class_name)
        cells.append(
            (
                fmt.text(v.split),
                f"[bold]{name}[/]" if v.class_name == "all" else name,
                fmt.text(v.images),
                fmt.text(v.instances),
                *(fmt.number(x) for x in (v.precision, v.recall, v.map50, v.map50_95)),
            )
        )
    return fmt.fitted_table(out, "Validation", columns, cells, ("IMAGES", "INSTANCES", "SPLIT"))


def benchmarks_table(out: Console, detail: SessionDetail) -> Table:
    """The session's inference benchmarks, fastest first."""
    from mltrack_sdk import cli_format as fmt

    columns = (
        ("DEVICE", fmt.NAME),
        ("FORMAT", fmt.FIXED),
        ("DTYPE", fmt.FIXED),
        *((header, RIGHT) for header in ("BATCH", "IMGSZ", "AVG ms", "P95 ms", "FPS", "RUNS")),
    )
    cells = (
        (
            fmt.text(b.device if not b.device_name else f"{b.device} ({b.device_name})"),
            fmt.text(b.model_format),
            fmt.text(b.dtype),
            str(b.batch_size),
            fmt.text(b.img_size),
            fmt.number(b.avg_inference_ms, 2),
            fmt.number(b.p95_inference_ms, 2),
            fmt.number(b.fps, 1),
            fmt.text(b.num_runs),
        )
        for b in detail.benchmarks
    )
    return fmt.fitted_table(
        out, "Benchmarks", columns, cells, ("RUNS", "DTYPE", "FORMAT", "IMGSZ", "P95 ms")
    )


# -- stop -------------------------------------------------------------------------------------


def stop_command(
    session_id: SessionId,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason", help="Why (kept as the session's status reason).", show_default=False
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Ask a running session to stop (a tracked training ends after its current epoch)."""
    from mltrack_sdk.cli_format import console, open_client

    with open_client(database_url) as client:
        session = client.request_stop(session_id, reason=reason)
    console().print(
        f"Stop requested for {session.session_name or 'session'} ({session.id}): the run sees"
        " it at its next heartbeat (a tracked Ultralytics training then ends its current epoch"
        " and stops, cancelled).",
        markup=False,
    )
