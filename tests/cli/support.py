"""Running the CLI in-process at a fixed width, and writing sessions the way training does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typer.testing import CliRunner, Result

import mltrack_sdk as mlt
from mltrack_sdk.cli import app

#: A fixed terminal: 120 columns, no colour (rich and typer read these).
ENV = {"COLUMNS": "120", "TERMINAL_WIDTH": "120", "NO_COLOR": "1"}


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """``mltrack ARGS`` in-process; stdout and stderr apart."""
    return CliRunner(env={**ENV, **(env or {})}).invoke(app, list(args), prog_name="mltrack")


def assert_red_line(result: Result, *parts: str) -> None:
    """Exit code 1 with one ``Error:`` line on stderr holding ``parts``, nothing on stdout."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])


def assert_usage_error(result: Result, *parts: str) -> None:
    """Exit code 2 with typer's usage message on stderr naming ``parts``."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("Usage: mltrack "), result.stderr
    for part in parts:
        assert part in result.stderr, (part, result.stderr)


def record(
    db_url: str,
    name: str,
    *,
    maps: Sequence[float] = (0.1, 0.2, 0.3),
    finish: str | None = "completed",
    model_type: str = "yolov8n",
    dataset: str = "shapes",
    config: dict[str, Any] | None = None,
    epochs: int | None = None,
    **start: Any,
) -> mlt.Session:
    """A session written through the SDK: one epoch per mAP50-95 in ``maps`` (losses falling),
    finished with ``finish`` (None: left running, the caller finishes it)."""
    run = mlt.start_session(
        name,
        model_type=model_type,
        dataset_name=dataset,
        epochs=epochs or max(len(maps), 1),
        batch_size=16,
        learning_rate=0.01,
        img_size=128,
        config=config or {},
        database_url=db_url,
        **start,
    )
    for epoch, value in enumerate(maps):
        run.log_epoch(
            epoch,
            box_loss=1.5 - 0.1 * epoch,
            cls_loss=2.0 - 0.1 * epoch,
            dfl_loss=1.0,
            total_loss=4.5 - 0.2 * epoch,
            precision=0.5,
            recall=0.4,
            map50=min(1.0, value * 2),
            map50_95=value,
            learning_rate=0.01,
            epoch_time_seconds=2.5,
        )
    if finish is not None:
        run.finish(finish)
    else:
        run.flush()
    return run
