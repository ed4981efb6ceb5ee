"""``mltrack leaderboard``, ``mltrack datasets``, ``mltrack sweeps list|show``.

Thin shells over :class:`mltrack_sdk.client.Client`: a rich table, or JSON with ``--json``
(shapes in docs/cli.md); a user mistake is one red line and exit code 1.

Example::

    mltrack leaderboard --limit 10
    mltrack datasets --json
    mltrack sweeps show 91d2c3b4-...      # the run and its trials, best marked
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

from mltrack_sdk.cli_format import RIGHT, DatabaseUrlOption, JsonOption

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from mltrack_sdk.client import Client
    from mltrack_sdk.models import (
        HyperparameterRun,
        LeaderboardEntry,
        TrainingDataset,
        TrainingSession,
    )


def register(app: typer.Typer) -> None:
    """Add ``leaderboard``, ``datasets`` and ``sweeps list|show`` to ``app``."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the commands.
    from mltrack_sdk.cli import domain_errors

    app.command("leaderboard")(domain_errors(leaderboard_command))
    app.command("datasets")(domain_errors(datasets_command))
    sweeps_app = typer.Typer(
        help="Hyperparameter sweeps (`mltrack sweep` runs one) and their trials.",
        no_args_is_help=True,
    )
    sweeps_app.command("list")(domain_errors(sweeps_list))
    sweeps_app.command("show")(domain_errors(sweeps_show))
    app.add_typer(sweeps_app, name="sweeps")


# -- leaderboard ------------------------------------------------------------------------------


def leaderboard_command(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=50, help="The top N (the view keeps 50).")
    ] = 10,
    json_output: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Completed models ranked by mAP50-95 (ties: mAP50, then faster inference)."""
    from mltrack_sdk.cli_format import open_client, print_rows

    with open_client(database_url) as client:
        rows = client.leaderboard(limit=limit)
    print_rows(rows, json_output, "No completed sessions yet.", leaderboard_table)


def leaderboard_table(out: Console, rows: list[LeaderboardEntry]) -> Table:
    """One line per model: rank (a trophy for the top three), name, mAP, speed, id."""
    from mltrack_sdk import cli_format as fmt

    columns = (
        ("RANK", fmt.FIXED),
        ("NAME", fmt.NAME),
        ("MODEL", fmt.NAME),
        ("DATASET", fmt.NAME),
        *((header, RIGHT) for header in ("mAP50-95", "mAP50", "ms", "FPS")),
        ("ID", fmt.FIXED),
    )
    cells = (
        (
            f"{fmt.TROPHIES.get(e.rank, '  ')} {e.rank}",
            fmt.text(e.session_name),
            fmt.text(e.model_type),
            fmt.text(e.dataset_name),
            fmt.number(e.final_map50_95),
            fmt.number(e.final_map50),
            fmt.number(e.inference_ms, 2),
            fmt.number(e.fps, 1),
            str(e.id),
        )
        for e in rows
    )
    optional = ("FPS", "DATASET", "MODEL", "mAP50", "ms")
    return fmt.fitted_table(out, "Leaderboard", columns, cells, optional)


# -- datasets ---------------------------------------------------------------------------------


def datasets_command(
    json_output: JsonOption = False, database_url: DatabaseUrlOption = None
) -> None:
    """Registered datasets: classes and split sizes."""
    from mltrack_sdk.cli_format import open_client, print_rows

    with open_client(database_url) as client:
        rows = client.datasets()
    print_rows(rows, json_output, "No datasets registered yet.", datasets_table)


def datasets_table(out: Console, rows: list[TrainingDataset]) -> Table:
    """One line per dataset: name, format, classes, split sizes."""
    from mltrack_sdk import cli_format as fmt

    columns = (
        ("NAME", fmt.NAME),
        ("FORMAT", fmt.FIXED),
        ("CLASSES", fmt.NAME),
        *((header, RIGHT) for header in ("TRAIN", "VAL", "TEST", "UPDATED")),
    )
    cells = []
    for d in rows:
        count = d.num_classes if d.num_classes is not None else len(d.class_names)
        names = ", ".join(d.class_names)
        cells.append(
            (
                fmt.text(d.name),
                fmt.text(d.format),
                fmt.text(f"{count}: {names}" if names else count),
                str(d.train_size),
                str(d.val_size),
                str(d.test_size),
                fmt.ago(d.updated_at or d.created_at),
            )
        )
    return fmt.fitted_table(out, "Datasets", columns, cells, ("UPDATED", "FORMAT", "TEST"))


# -- sweeps -----------------------------------------------------------------------------------


def sweeps_list(
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 20,
    json_output: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Hyperparameter sweeps, newest first: objective, trials, best value."""
    from mltrack_sdk.cli_format import open_client, print_rows

    with open_client(database_url) as client:
        rows = client.hyperparameter_runs()[:limit]
    print_rows(rows, json_output, "No sweeps yet.", sweeps_table)


def sweeps_table(out: Console, rows: list[HyperparameterRun]) -> Table:
    """One line per sweep: id, name, objective, status, trials, best value, age."""
    from mltrack_sdk import cli_format as fmt

    columns = (
        ("ID", fmt.FIXED),
        ("NAME", fmt.NAME),
        ("OBJECTIVE", fmt.FIXED),
        ("STATUS", fmt.FIXED),
        *((header, RIGHT) for header in ("TRIALS", "BEST", "CREATED")),
    )
    cells = (
        (
            str(r.id),
            fmt.text(r.name),
            objective(r),
            fmt.status(r.status),
            trials(r),
            fmt.number(r.best_value),
            fmt.ago(r.created_at),
        )
        for r in rows
    )
    return fmt.fitted_table(out, "Sweeps", columns, cells, ("CREATED", "STATUS", "OBJECTIVE"))


def objective(run: HyperparameterRun) -> str:
    """``map50_95 ↑`` (maximised) or ``loss ↓`` (minimised)."""
    return f"{run.objective} {'↓' if run.direction == 'minimize' else '↑'}"


def trials(run: HyperparameterRun) -> str:
    """Trials completed of started (of planned, when known)."""
    planned = f" of {run.n_trials}" if run.n_trials is not None else ""
    return f"{run.trials_completed}/{run.trials_started}{planned}"


def sweeps_show(
    run_id: Annotated[
        UUID, typer.Argument(metavar="ID", help="The sweep's id.", show_default=False)
    ],
    json_output: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """A sweep: its search space and every trial with its parameters and result."""
    from mltrack_sdk.cli import print_json
    from mltrack_sdk.cli_format import as_json, console, open_client

    with open_client(database_url) as client:
        run = find_run(client, run_id)
        sessions = run_sessions(client, run_id)
    if json_output:
        print_json({"run": run.model_dump(mode="json"), "trials": as_json(sessions)})
        return
    out = console()
    out.print(run_summary(run))
    if sessions:
        out.print(trials_table(out, run, sessions))
    else:
        out.print("No trials yet.", markup=False)


def find_run(client: Client, run_id: UUID) -> HyperparameterRun:
    """The sweep ``run_id``; :class:`~mltrack_sdk.errors.NotFoundError` when there is none."""
    from mltrack_sdk.errors import NotFoundError
    from mltrack_sdk.models import HyperparameterRun

    rows = client.transport.select("hyperparameter_runs", filters={"id": str(run_id)}, limit=1)
    if not rows:
        raise NotFoundError(
            f"run_id: no hyperparameter sweep {run_id} (or it is not visible to you)",
            sqlstate="MT005",
            field="run_id",
        )
    return HyperparameterRun.model_validate(rows[0])


def run_sessions(client: Client, run_id: UUID) -> list[TrainingSession]:
    """The trials of sweep ``run_id``, oldest first."""
    from mltrack_sdk.models import TrainingSession

    rows = client.transport.select(
        "training_sessions",
        filters={"hyperparameter_run_id": str(run_id)},
        order=(("created_at", False), ("id", False)),
    )
    return [TrainingSession.model_validate(row) for row in rows]


def searched_keys(run: HyperparameterRun) -> list[str]:
    """The train arguments the sweep searched (``search_space["space"]``, as `mltrack sweep`
    stores it; else the top-level keys of the search space)."""
    space: Any = run.search_space.get("space", run.search_space)
    return sorted(space) if isinstance(space, dict) else []


def run_summary(run: HyperparameterRun) -> Table:
    """The sweep's settings and best result."""
    import json

    from mltrack_sdk import cli_format as fmt

    space = {key: run.search_space[key] for key in sorted(run.search_space)}
    return fmt.key_values(
        f"Sweep {run.name or run.id}",
        [
            ("id", str(run.id)),
            ("status", fmt.status(run.status)),
            ("model / dataset", f"{fmt.text(run.model_type)} / {fmt.text(run.dataset_name)}"),
            ("objective", objective(run)),
            ("trials", trials(run)),
            ("best value", fmt.number(run.best_value)),
            ("best session", fmt.text(run.best_session_id)),
            ("best params", fmt.text(json.dumps(run.best_params) if run.best_params else None)),
            ("search space", fmt.text(json.dumps(space))),
        ],
    )


def trial_value(run: HyperparameterRun, session: TrainingSession) -> float | None:
    """The trial's objective: its final metric (``final_loss`` for ``loss``)."""
    value = getattr(session, f"final_{run.objective}", None)
    return value if isinstance(value, float) else None


def trials_table(out: Console, run: HyperparameterRun, sessions: list[TrainingSession]) -> Table:
    """One line per trial: its searched parameters, status and objective value; ★ the best."""
    import json

    from mltrack_sdk import cli_format as fmt

    keys = searched_keys(run)
    columns = (
        ("", fmt.FIXED),
        ("SESSION", fmt.FIXED),
        ("NAME", fmt.NAME),
        *((fmt.text(key), RIGHT) for key in keys),
        ("STATUS", fmt.FIXED),
        (fmt.text(run.objective), RIGHT),
        ("DURATION", RIGHT),
    )
    cells = (
        (
            "★" if s.id == run.best_session_id else "",
            str(s.id),
            fmt.text(s.session_name),
            *(fmt.text(json.dumps(s.config[k]) if k in s.config else None) for k in keys),
            fmt.status(s.status),
            fmt.number(trial_value(run, s)),
            fmt.duration(s.duration_seconds),
        )
        for s in sessions
    )
    return fmt.fitted_table(out, "Trials", columns, cells, ("DURATION", "NAME"))
