"""Sweeps: each hyperparameter run's trials with their hyperparameters and objective, the
best trial marked, and the objective against a chosen hyperparameter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboard import charts, data
from dashboard.views import SWEEPS, keep, restore

if TYPE_CHECKING:
    from dashboard.store import LiveStore, Snapshot


def render(store: LiveStore, snap: Snapshot) -> None:
    """A run picker, its summary, its trials and the objective chart."""
    runs = {str(r.id): r for r in snap.runs}
    if not runs:
        st.info(
            "No hyperparameter runs yet. `mltrack sweep data.yaml --param lr0=0.01,0.001` (or"
            " `mltrack_sdk.sweep.sweep`) records one, with a session per trial."
        )
        return
    restore(SWEEPS, "sweep_run", allowed=runs)
    run_id = st.selectbox(
        "Hyperparameter run",
        list(runs),
        format_func=lambda rid: f"{runs[rid].name} ({runs[rid].status}, {rid[:8]})",
        key="sweep_run",
    )
    keep("sweep_run")
    run = runs[run_id or next(iter(runs))]
    cols = st.columns(4)
    cols[0].metric(f"Objective ({run.direction})", run.objective)
    cols[1].metric("Trials", f"{run.trials_completed}/{run.n_trials or run.trials_started}")
    cols[2].metric("Best value", "-" if run.best_value is None else f"{run.best_value:.4f}")
    cols[3].metric("Status", run.status)
    trials = store.memo(
        ("sweep", str(run.id)),
        snap.version("runs"),
        lambda: data.sweep_trials(run, snap.sessions.values()),
    )
    if trials.empty:
        st.info("No trial has started yet.")
        return
    st.dataframe(
        trials,
        hide_index=True,
        key="sweep_trials",
        column_config={"id": None, "objective": st.column_config.NumberColumn(format="%.4f")},
    )
    parameters = data.sweep_parameters(run)
    if parameters:
        restore(SWEEPS, "sweep_param", allowed=parameters)
        parameter = st.selectbox("Hyperparameter", parameters, key="sweep_param")
        keep("sweep_param")
        if parameter:
            st.altair_chart(
                charts.objective_chart(trials, parameter, run.objective), width="stretch"
            )
