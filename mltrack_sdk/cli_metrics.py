"""``mltrack metrics`` (a session's epochs as a table, CSV or JSON) and ``mltrack compare``.

Example::

    mltrack metrics 6f1c0a2e-... --csv > metrics.csv
    mltrack compare 6f1c0a2e-... 91d2c3b4-...     # side by side, best in green
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

from mltrack_sdk.cli_format import RIGHT, DatabaseUrlOption, JsonOption
from mltrack_sdk.cli_sessions import SessionId

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from mltrack_sdk.models import EpochMetrics, TrainingSession


def register(app: typer.Typer) -> None:
    """Add ``metrics`` and ``compare`` to ``app``."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the commands.
    from mltrack_sdk.cli import domain_errors

    app.command("metrics")(domain_errors(metrics_command))
    app.command("compare")(domain_errors(compare_command))


# -- metrics ----------------------------------------------------------------------------------


def metrics_command(
    session_id: SessionId,
    csv_output: Annotated[
        bool, typer.Option("--csv", help="Print CSV (one row per epoch, every column).")
    ] = False,
    json_output: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Every epoch of a session: losses, precision, recall, mAP, learning rate, time."""
    from mltrack_sdk.cli import print_json
    from mltrack_sdk.cli_format import as_json, console, open_client

    if csv_output and json_output:
        raise typer.BadParameter("give --csv or --json, not both", param_hint="--csv")
    with open_client(database_url) as client:
        detail = client.session(session_id)
    if json_output:
        print_json(as_json(detail.metrics))
    elif csv_output:
        typer.echo(metrics_csv(detail.metrics), nl=False)
    elif not detail.metrics:
        console().print("No epochs logged yet.", markup=False)
    else:
        out = console()
        name = detail.session.session_name or str(detail.session.id)
        out.print(metrics_table(out, detail.metrics, f"Epochs of {name}"))


def metrics_table(out: Console, rows: Sequence[EpochMetrics], title: str) -> Table:
    """One line per epoch: losses, precision, recall, mAP, learning rate, time."""
    from mltrack_sdk import cli_format as fmt

    headers = ("EPOCH", "BOX", "CLS", "DFL", "LOSS", "VAL LOSS", "P", "R", "mAP50", "mAP50-95")
    columns = [(header, RIGHT) for header in (*headers, "LR", "TIME")]
    cells = []
    for m in rows:
        val = [v for v in (m.val_box_loss, m.val_cls_loss, m.val_dfl_loss) if v is not None]
        cells.append(
            (
                str(m.epoch),
                *(fmt.number(v) for v in (m.box_loss, m.cls_loss, m.dfl_loss, m.total_loss)),
                fmt.number(sum(val) if val else None),
                *(fmt.number(v) for v in (m.precision, m.recall, m.map50, m.map50_95)),
                fmt.number(m.learning_rate, 6),
                fmt.duration(m.epoch_time_seconds),
            )
        )
    optional = ("LR", "TIME", "DFL", "CLS", "BOX", "VAL LOSS", "P", "R")
    return fmt.fitted_table(out, title, columns, cells, optional)


def metrics_csv(rows: Sequence[EpochMetrics]) -> str:
    """The epochs as CSV: a header of column names, then one row per epoch (``extra`` as JSON,
    an empty cell for a missing value)."""
    import csv
    import io
    import json

    from mltrack_sdk.models import EpochMetrics

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    fields = list(EpochMetrics.model_fields)
    writer.writerow(fields)
    for row in rows:
        values = row.model_dump(mode="json")
        writer.writerow(
            json.dumps(values[f], sort_keys=True)
            if isinstance(values[f], dict)
            else ("" if values[f] is None else values[f])
            for f in fields
        )
    return buffer.getvalue()


# -- compare ----------------------------------------------------------------------------------

#: (label, attribute, which value is best: "max", "min" or None) of ``mltrack compare``.
COMPARED: tuple[tuple[str, str, str | None], ...] = (
    ("model", "model_type", None),
    ("dataset", "dataset_name", None),
    ("batch size", "batch_size", None),
    ("image size", "img_size", None),
    ("learning rate", "learning_rate", None),
    ("best epoch", "best_epoch", None),
    ("best mAP50", "best_map50", "max"),
    ("best mAP50-95", "best_map50_95", "max"),
    ("final mAP50", "final_map50", "max"),
    ("final mAP50-95", "final_map50_95", "max"),
    ("final precision", "final_precision", "max"),
    ("final recall", "final_recall", "max"),
    ("final loss", "final_loss", "min"),
    ("inference ms", "best_inference_ms", "min"),
    ("FPS", "best_fps", "max"),
    ("duration", "duration_seconds", None),
)
#: Decimals shown per attribute (others: 4).
DIGITS = {"best_inference_ms": 2, "best_fps": 1}


def compare_command(
    session_ids: Annotated[
        list[UUID],
        typer.Argument(metavar="IDS", help="Two or more session ids.", show_default=False),
    ],
    json_output: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Sessions side by side: their metrics (the best in green) and differing config."""
    from mltrack_sdk.cli import print_json
    from mltrack_sdk.cli_format import as_json, console, open_client

    if len(set(session_ids)) < 2:
        raise typer.BadParameter("give at least two different session ids", param_hint="IDS")
    with open_client(database_url) as client:
        sessions = [client.session(sid).session for sid in dict.fromkeys(session_ids)]
    differences = config_differences(sessions)
    if json_output:
        print_json({"sessions": as_json(sessions), "config_differences": differences})
        return
    console().print(compare_table(sessions, differences))


def config_differences(sessions: Sequence[TrainingSession]) -> dict[str, list[Any]]:
    """Config keys whose values are not the same in every session -> the values, in order
    (``None`` where a session has no such key)::

        config_differences([a, b])   # {"lr0": [0.01, 0.001]}
    """
    keys = sorted({key for s in sessions for key in s.config})
    values = {key: [s.config.get(key) for s in sessions] for key in keys}
    return {key: vals for key, vals in values.items() if any(v != vals[0] for v in vals)}


def _cell(attribute: str, value: Any) -> str:
    from mltrack_sdk import cli_format as fmt

    if attribute == "duration_seconds":
        return fmt.duration(value)
    if isinstance(value, float):
        return fmt.number(value, DIGITS.get(attribute, 4))
    return fmt.text(value)


def compare_table(sessions: Sequence[TrainingSession], differences: dict[str, list[Any]]) -> Table:
    """One column per session, one row per compared value and per differing config key."""
    import json

    from mltrack_sdk import cli_format as fmt

    table = fmt.new_table(
        None,
        ("", {"style": "bold", "no_wrap": True}),
        *((fmt.text(s.session_name or s.id), {"justify": "right"}) for s in sessions),
    )
    table.add_row("id", *(str(s.id) for s in sessions))
    table.add_row("status", *(fmt.status(s.status) for s in sessions))
    table.add_row("epochs", *(fmt.epochs(s.epochs_completed, s.epochs) for s in sessions))
    for label, attribute, best in COMPARED:
        values = [getattr(s, attribute) for s in sessions]
        known = [v for v in values if v is not None]
        winner = (max if best == "max" else min)(known) if best and len(known) > 1 else None
        cells = (
            f"[bold green]{_cell(attribute, v)}[/]"
            if winner is not None and v == winner
            else _cell(attribute, v)
            for v in values
        )
        table.add_row(label, *cells)
    for key, values in differences.items():
        table.add_row(
            f"config.{fmt.text(key)}",
            *(fmt.text(v if isinstance(v, str) or v is None else json.dumps(v)) for v in values),
        )
    return table
