"""The dashboard's Altair charts, read from their Vega-Lite specs (what the browser draws)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboard import charts


def _frame(series: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"epoch": epoch, "series": name, "value": value}
            for name, values in series.items()
            for epoch, value in enumerate(values)
        ],
        columns=["epoch", "series", "value"],
    )


def _layer_series(spec: dict[str, Any], layer: dict[str, Any]) -> set[str]:
    rows = spec["datasets"][layer["data"]["name"]]
    return {row["series"] for row in rows}


def test_the_card_chart_gives_mAP_and_loss_an_axis_each() -> None:
    """On one shared axis a loss near 3 flattened an mAP near 0.05 into a line at the bottom:
    the mAP and the loss series are layers with independent y scales, mAP left, loss right."""
    scores = _frame({"mAP50-95": [0.01, 0.03, 0.05], "mAP50": [0.02, 0.06, 0.09]})
    losses = _frame({"total loss": [3.4, 3.1, 2.9]})

    spec = charts.mini_chart(scores, losses).to_dict()

    assert spec["resolve"] == {"scale": {"y": "independent"}}
    left, right = spec["layer"]
    assert _layer_series(spec, left) == {"mAP50-95", "mAP50"}
    assert _layer_series(spec, right) == {"total loss"}
    assert left["encoding"]["y"]["axis"]["orient"] == "left"
    assert right["encoding"]["y"]["axis"]["orient"] == "right"
    assert (left["encoding"]["y"]["title"], right["encoding"]["y"]["title"]) == ("mAP", "loss")
    # Neither scale is pinned to start at 0 (small changes of either stay visible).
    assert left["encoding"]["y"]["scale"] == right["encoding"]["y"]["scale"] == {"zero": False}
    assert right["mark"]["strokeDash"] == [4, 2] and "strokeDash" not in left["mark"]
    # One legend, beside the plot: below it, Streamlit's fit to the chart's 110 px took the
    # legend's height out of the plot's and drew the card a flat line (seen in Chromium).
    assert left["encoding"]["color"] == right["encoding"]["color"]
    assert left["encoding"]["color"]["legend"]["orient"] == "right"
    assert spec["height"] == 110


def test_the_card_chart_draws_with_one_side_empty() -> None:
    """The first epoch of a run may have a loss and no mAP yet: the chart still builds."""
    spec = charts.mini_chart(_frame({}), _frame({"total loss": [3.4]})).to_dict()
    left, right = spec["layer"]
    assert _layer_series(spec, right) == {"total loss"}
    assert spec["datasets"].get(left["data"]["name"], []) == []


def test_compare_legend_keeps_whole_session_labels() -> None:
    """Compare names each line "name (status, id)"; the legend cut those at 200 px, so two
    sessions of one name read alike."""
    label = "yolov8n lr sweep trial 12 (completed, 5d656a35)"
    frame = pd.DataFrame({"epoch": [0, 1], "session": [label, label], "value": [0.1, 0.2]})
    spec = charts.line_chart(frame, color="session").to_dict()
    assert spec["encoding"]["color"]["legend"]["labelLimit"] >= 360
