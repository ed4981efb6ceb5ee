"""Helpers and fixtures of the dashboard tests.

Everything the pages show is written through the SDK (``start_session``, ``log_epoch``,
``finish``) into a test database, as a training would write it:

- :func:`log_run` writes a run (its epochs, and optionally its end);
- :func:`ended_sessions` writes many ended sessions at once through the SQL API (for paging);
- ``app`` makes Streamlit ``AppTest`` instances of ``dashboard/app.py`` on this test's database
  and releases the process' live store afterwards;
- ``wait_for`` polls a condition with a timeout (never a fixed sleep).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import mltrack_sdk as mlt
from mltrack_sdk.session import Session

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def ended_sessions(url: str, count: int, *, offset: int = 0) -> list[str]:
    """``count`` ended sessions ``paged {offset + i}`` through the SQL API (``start_session``,
    ``finish_session``), shuffled so that no order matches another: duration ``i`` seconds
    apart (sessions ``7919 * i % count``), mAP50-95 rising with ``i``, every third one
    ``failed`` on dataset ``cells`` with model ``yolov8s``. Their ids in the order written."""
    import psycopg

    ids = []
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(count):
            i = offset + n
            seconds = 10 + (7919 * i) % max(count, 1)
            odd = i % 3 == 0
            row = conn.execute(
                "select id from start_session(session_name => %s, model_type => %s,"
                " dataset_name => %s, epochs => 10)",
                (f"paged {i}", "yolov8s" if odd else "yolov8n", "cells" if odd else "shapes"),
            ).fetchone()
            assert row is not None
            conn.execute(
                "select finish_session(session_id => %s, status => %s, final_map50_95 => %s,"
                " completed_at => now() + make_interval(secs => %s))",
                (row[0], "failed" if odd else "completed", i / 1000, seconds),
            )
            ids.append(str(row[0]))
    return ids


def log_run(
    url: str,
    name: str,
    *,
    epochs: int = 5,
    logged: int | None = None,
    status: str | None = "completed",
    quality: float = 0.5,
    model_type: str = "yolov8n",
    dataset: str = "shapes",
    reason: str | None = None,
    config: dict[str, Any] | None = None,
    hyperparameter_run_id: str | None = None,
    heartbeat_interval: float = 10.0,
) -> Session:
    """A run of ``epochs`` with ``logged`` epochs (all by default) whose mAP rises to about
    ``quality``; ended with ``status`` (``None``: left running, flushed). Returns the session."""
    run = mlt.start_session(
        name,
        model_type=model_type,
        dataset_name=dataset,
        epochs=epochs,
        batch_size=8,
        learning_rate=0.01,
        img_size=64,
        config=config or {"lr0": 0.01, "mosaic": 1.0},
        hardware_info={"device": "cpu"},
        hyperparameter_run_id=hyperparameter_run_id,
        database_url=url,
        heartbeat_interval=heartbeat_interval,
    )
    for epoch in range(epochs if logged is None else logged):
        log_epoch(run, epoch, epochs, quality)
    if status is None:
        assert run.flush(10)
    else:
        run.finish(status, status_reason=reason)
    return run


def log_epoch(run: Session, epoch: int, epochs: int, quality: float) -> None:
    """One epoch whose metrics move with ``epoch`` (mAP up, losses down)."""
    share = (epoch + 1) / epochs
    run.log_epoch(
        epoch,
        box_loss=1.5 - share,
        cls_loss=1.2 - share,
        dfl_loss=1.1 - 0.5 * share,
        total_loss=3.8 - 2.5 * share,
        val_box_loss=1.6 - share,
        val_cls_loss=1.3 - share,
        val_dfl_loss=1.2 - 0.5 * share,
        precision=min(1.0, quality * share + 0.1),
        recall=min(1.0, quality * share + 0.05),
        map50=min(1.0, quality * share * 1.4),
        map50_95=quality * share,
        learning_rate=0.01 * (1 - 0.5 * share),
        epoch_time_seconds=1.5,
    )


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def no_ambient_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test has its own MLTRACK_HOME (spool) and no configuration from the environment."""
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    for name in ("MLTRACK_DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """``app(database_url) -> AppTest`` of the dashboard on that database (run it yourself);
    the live stores this test made are closed afterwards."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def make(url: str) -> AppTest:
        monkeypatch.setenv("MLTRACK_DATABASE_URL", url)
        return AppTest.from_file(str(APP), default_timeout=60)

    yield make
    st.cache_resource.clear()  # closes the stores (their feeds and connections)


def store_of(url: str) -> Any:
    """The live store the app uses for ``url`` (the process' one, from ``st.cache_resource``)."""
    from dashboard.runtime import _store

    return _store(url, None, None, None)


def run_synced(at: Any, url: str) -> Any:
    """Run ``at`` once the app's store has read everything, so the page shows the data."""
    at.run()
    assert store_of(url).wait_synced(15), "the dashboard's store did not read the database"
    at.run()
    assert not at.exception, at.exception
    return at


def chart_data(element: Any) -> Any:
    """The data of a chart element of an AppTest page (Altair's dataset), as one DataFrame."""
    import pandas as pd
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    frames = [convert_arrow_bytes_to_pandas_df(ds.data.data) for ds in element.proto.datasets]
    return pd.concat(frames) if frames else pd.DataFrame()
