"""Altair charts of the dashboard, built from the long-format frames of :mod:`dashboard.data`.

Each function returns an ``alt.Chart`` (Streamlit renders it natively with
``st.altair_chart``); an empty frame gives an empty chart, never an error::

    from dashboard import charts, data

    chart = charts.loss_chart(data.loss_frame(metrics))

Altair is imported by the first chart drawn, not with this module: a dashboard page without a
chart (e.g. the first one of a server, on Training History) does not wait for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import altair as alt


def _epoch_axis() -> alt.X:
    import altair as alt

    return alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d"))


def line_chart(
    frame: pd.DataFrame,
    *,
    color: str = "series",
    title: str = "",
    y_title: str = "",
    height: int = 220,
    log_scale: bool = False,
) -> alt.Chart:
    """Lines of ``value`` by epoch, one per ``color`` value, with points and a tooltip.

    Example::

        line_chart(data.metrics_frame(rows, ["map50", "map50_95"]), title="mAP")
    """
    import altair as alt

    scale = alt.Scale(type="log") if log_scale else alt.Scale(zero=False)
    return (
        alt.Chart(frame, title=title)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=_epoch_axis(),
            y=alt.Y("value:Q", title=y_title, scale=scale),
            # Compare's labels are "name (status, id)": the default 200 px cut them short.
            color=alt.Color(f"{color}:N", title=None, legend=alt.Legend(labelLimit=360)),
            tooltip=["epoch:Q", f"{color}:N", alt.Tooltip("value:Q", format=".4g")],
        )
        .properties(height=height)
    )


def loss_chart(frame: pd.DataFrame, height: int = 260) -> alt.Chart:
    """Loss curves: colour by loss (box, cls, dfl, total), dashed for validation.

    Example::

        loss_chart(data.loss_frame(rows))
    """
    import altair as alt

    return (
        alt.Chart(frame, title="Loss (train solid, validation dashed)")
        .mark_line(point=alt.OverlayMarkDef(size=14))
        .encode(
            x=_epoch_axis(),
            y=alt.Y("value:Q", title="loss", scale=alt.Scale(zero=False)),
            color=alt.Color("loss:N", title=None, sort=["box", "cls", "dfl", "total"]),
            strokeDash=alt.StrokeDash("split:N", title=None, sort=["train", "val"]),
            tooltip=["epoch:Q", "loss:N", "split:N", alt.Tooltip("value:Q", format=".4g")],
        )
        .properties(height=height)
    )


def mini_chart(scores: pd.DataFrame, losses: pd.DataFrame, height: int = 110) -> alt.LayerChart:
    """A card's small chart of recent epochs: ``scores`` (mAP) on the left axis, ``losses`` on
    the right one, each with a scale of its own - on one axis a loss of 3 would flatten an mAP
    of 0.05 into a line at the bottom. Losses are dashed; one legend names every series.

    Example::

        mini_chart(
            data.metrics_frame(recent, ["map50_95", "map50"]),
            data.metrics_frame(recent, ["total_loss"]),
        )
    """
    import altair as alt

    x = alt.X("epoch:Q", title=None, axis=alt.Axis(tickMinStep=1, format="d"))
    # Legend on the right: at the bottom it takes its height out of the plot's (Streamlit fits
    # the chart in `height`), which left a card a flat line.
    color = alt.Color("series:N", title=None, legend=alt.Legend(orient="right"))
    tooltip = ["epoch:Q", "series:N", alt.Tooltip("value:Q", format=".4g")]

    def side(frame: pd.DataFrame, title: str, orient: str, dash: list[int]) -> alt.Chart:
        return (
            alt.Chart(frame)
            .mark_line(point=alt.OverlayMarkDef(size=10), **({"strokeDash": dash} if dash else {}))
            .encode(
                x=x,
                y=alt.Y(
                    "value:Q",
                    title=title,
                    scale=alt.Scale(zero=False),
                    axis=alt.Axis(orient=orient, tickCount=3),
                ),
                color=color,
                tooltip=tooltip,
            )
        )

    return (
        alt.layer(side(scores, "mAP", "left", []), side(losses, "loss", "right", [4, 2]))
        .resolve_scale(y="independent")
        .properties(height=height)
    )


def per_class_chart(frame: pd.DataFrame, height: int = 220) -> alt.Chart:
    """Per-class mAP50-95 and mAP50 bars from :func:`dashboard.data.validation_frame`.

    Example::

        per_class_chart(data.validation_frame(detail.validation_results))
    """
    import altair as alt

    long = frame.melt(
        id_vars=["split", "class"], value_vars=["mAP50", "mAP50-95"], var_name="metric"
    ).dropna(subset=["value"])
    return (
        alt.Chart(long, title="Per class")
        .mark_bar()
        .encode(
            x=alt.X("class:N", title=None, sort=None),
            xOffset="metric:N",
            y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("metric:N", title=None),
            tooltip=["split:N", "class:N", "metric:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=height)
    )


def objective_chart(trials: pd.DataFrame, parameter: str, objective: str) -> alt.Chart:
    """A sweep's objective against one hyperparameter, one point per trial; the best trial
    (``best == "★"``) drawn as a large star.

    Example::

        objective_chart(data.sweep_trials(run, sessions), "lr0", "map50_95")
    """
    import altair as alt

    frame = trials.dropna(subset=["objective"]).copy()
    frame["marked"] = frame["best"].map(lambda b: "best" if b else "trial")
    numeric = pd.api.types.is_numeric_dtype(frame[parameter]) if parameter in frame else False
    return (
        alt.Chart(frame, title=f"{objective} by {parameter}")
        .mark_point(filled=True)
        .encode(
            x=alt.X(f"{parameter}:{'Q' if numeric else 'N'}", title=parameter),
            y=alt.Y("objective:Q", title=objective, scale=alt.Scale(zero=False)),
            shape=alt.Shape(
                "marked:N",
                title=None,
                scale=alt.Scale(domain=["best", "trial"], range=["diamond", "circle"]),
            ),
            size=alt.Size(
                "marked:N",
                title=None,
                scale=alt.Scale(domain=["best", "trial"], range=[260, 70]),
                legend=None,
            ),
            color=alt.Color("status:N", title=None),
            tooltip=["trial:Q", "session:N", "status:N", f"{parameter}", "objective:Q"],
        )
        .properties(height=280)
    )


__all__ = ["line_chart", "loss_chart", "mini_chart", "objective_chart", "per_class_chart"]
