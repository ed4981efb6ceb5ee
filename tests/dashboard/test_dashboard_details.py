"""Session details through Streamlit's AppTest, on a run written through the SDK: what the
details show without a click."""

from __future__ import annotations

import json
from typing import Any

from tests.dashboard.support import app, log_run, no_ambient_config, run_synced

__all__ = ["app", "no_ambient_config"]  # fixtures used by name


def test_hyperparameters_and_hardware_are_shown_open(direct_db_url: str, app: Any) -> None:
    """They used to be folded into "{...}", so the details showed no hyperparameter at all."""
    run = log_run(direct_db_url, "yolov8n tuned", config={"lr0": 0.002, "mosaic": 0.5})
    at = run_synced(app(direct_db_url), direct_db_url)
    at.session_state["details_session"] = str(run.id)
    at.session_state["tab"] = "Session Details"
    at.run()
    assert not at.exception, at.exception
    shown = {j.value: j.proto.expanded for j in at.json}
    assert shown == {
        json.dumps({"lr0": 0.002, "mosaic": 0.5}): True,
        json.dumps({"device": "cpu"}): True,
    }
