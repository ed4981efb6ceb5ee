"""The empty state: no session yet. It shows how to track a first run, never sample rows."""

from __future__ import annotations

import streamlit as st

FIRST_RUN = """\
import mltrack_sdk as mlt

with mlt.start_session("my first run", model_type="yolov8n", epochs=10) as run:
    for epoch in range(10):
        loss, map50, map50_95 = train_one_epoch()      # your code
        run.log_epoch(epoch, total_loss=loss, map50=map50, map50_95=map50_95)
"""


def render() -> None:
    """What to do to see something here."""
    with st.container(key="empty-state"):
        st.subheader("No training runs yet")
        st.markdown(
            "This dashboard shows only what real trainings wrote to this database. Track a"
            " run and it appears here live, epoch by epoch:"
        )
        st.code(FIRST_RUN, language="python")
        st.markdown("Or from a shell:")
        st.code(
            "mltrack demo     # a tiny real training on generated data\n"
            "mltrack train data.yaml --model yolov8n.yaml --epochs 30 --name 'my first run'",
            language="bash",
        )
