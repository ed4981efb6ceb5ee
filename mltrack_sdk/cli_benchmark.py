"""``mltrack benchmark MODEL``: measure a model's inference speed and record it.

A thin shell over :func:`mltrack_sdk.benchmark.benchmark`: it prints the result as a table (or
as JSON with ``--json``), and a user mistake as one red line with exit code 1.

Example::

    mltrack benchmark runs/detect/train/weights/best.pt --data shapes.yaml --imgsz 640 --runs 100
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from mltrack_sdk.cli_format import DatabaseUrlOption

if TYPE_CHECKING:
    from mltrack_sdk.benchmark import BenchmarkResult


def register(app: typer.Typer) -> None:
    """Add the ``benchmark`` command to ``app`` (the ``mltrack`` CLI)."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the command.
    from mltrack_sdk.cli import domain_errors

    app.command("benchmark")(domain_errors(benchmark_command))


def benchmark_command(
    model: Annotated[
        Path, typer.Argument(help="Weights file (best.pt, or a model Ultralytics exported).")
    ],
    images: Annotated[
        Path | None,
        typer.Option(
            "--images", help="A folder of images (searched recursively).", show_default=False
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="A data yaml: its val split (default: the data the model was trained on).",
            show_default=False,
        ),
    ] = None,
    imgsz: Annotated[int, typer.Option("--imgsz", help="Image size (a multiple of 32).")] = 640,
    batch: Annotated[int, typer.Option("--batch", help="Images per prediction.")] = 1,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            help="cpu, 0, cuda:1 ... (default: first GPU, else CPU).",
            show_default=False,
        ),
    ] = None,
    runs: Annotated[int, typer.Option("--runs", help="Timed predictions.")] = 50,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed predictions first.")] = 3,
    half: Annotated[bool, typer.Option("--half", help="fp16 inference (CUDA only).")] = False,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            help="Session id to record for (default: the session whose model_path is MODEL).",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    no_record: Annotated[
        bool, typer.Option("--no-record", help="Measure only; write nothing to the database.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON object.")
    ] = False,
) -> None:
    """Measure inference speed on real images (warm-up, then timed runs) and record it."""
    from mltrack_sdk.benchmark import benchmark

    result = benchmark(
        model,
        images=images,
        data=data,
        imgsz=imgsz,
        batch=batch,
        device=device,
        warmup=warmup,
        runs=runs,
        half=half,
        session_id=session,
        database_url=database_url,
        record=not no_record,
        progress=True,
    )
    console = Console(highlight=False)
    if json_output:
        # Plain text, never re-wrapped to the terminal's width: a script parses it.
        typer.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    console.print(result_table(result, model.name))
    if result.benchmark_id is None:
        console.print("Not recorded (--no-record).", markup=False)
    else:
        console.print(
            f"Recorded benchmark {result.benchmark_id} for session {result.session_id}.",
            markup=False,
        )


def result_table(result: BenchmarkResult, title: str) -> Table:
    """The result as a two-column table: what was measured, and on what."""
    per_batch = "ms" if result.batch_size == 1 else f"ms per batch of {result.batch_size}"
    table = Table(title=f"Inference benchmark of {title}", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = (
        (f"inference avg ({per_batch})", f"{result.avg_inference_ms:.2f}"),
        ("inference p50", f"{result.p50_inference_ms:.2f}"),
        ("inference p95", f"{result.p95_inference_ms:.2f}"),
        ("inference min / max", f"{result.min_inference_ms:.2f} / {result.max_inference_ms:.2f}"),
        ("preprocess / postprocess", f"{result.preprocess_ms:.2f} / {result.postprocess_ms:.2f}"),
        ("whole prediction", f"{result.pipeline_ms:.2f}"),
        ("FPS (inference)", f"{result.fps:.1f}"),
        ("FPS (end to end)", f"{result.pipeline_fps:.1f}"),
        ("device", f"{result.device} ({result.device_name})"),
        ("dtype / format", f"{result.dtype} / {result.model_format}"),
        ("imgsz / batch", f"{result.img_size} / {result.batch_size}"),
        ("runs (+ warm-up)", f"{result.num_runs} (+ {result.warmup_runs})"),
        ("images", str(result.images)),
    )
    for name, value in rows:
        table.add_row(name, value)
    return table
