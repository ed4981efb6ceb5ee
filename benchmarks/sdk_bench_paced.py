"""``sdk_bench``'s paced measure: what ``log_epoch`` costs the training thread when its calls
are apart, as in a training loop (an epoch takes seconds), beside an empty call after the same
pause.

Back-to-back calls (the main measure) run with warm CPU caches. After a pause, any call starts
cold, more so on a shared virtual machine, and the empty call shows that part: the difference
is what the SDK adds. The two alternate, call after call, so both see the same machine::

    report = bench_paced(url, calls=300, pause=0.01, row=epoch_metrics16)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import mltrack_sdk as mlt


def _empty(epoch: int, **metrics: Any) -> None:
    """The cheapest call of the same shape: an epoch and the row's keywords."""


def _percentiles(samples: list[int]) -> dict[str, float]:
    samples = sorted(samples)
    n = len(samples)
    return {"p50_us": samples[n // 2] / 1000, "p99_us": samples[int(n * 0.99)] / 1000}


def bench_paced(
    url: str, calls: int, pause: float, row: Callable[[int, int], dict[str, Any]]
) -> dict[str, Any]:
    """``calls`` epochs of ``row``, each logged after a ``pause`` of seconds, and as many empty
    calls after the same pause, alternating; p50 and p99 of each in microseconds."""
    rows = [row(e, calls) for e in range(calls)]
    run = mlt.start_session("sdk_bench paced", model_type="yolov8n", epochs=calls, database_url=url)
    clock = time.perf_counter_ns
    log_epoch = run.log_epoch
    logged: list[int] = []
    empty: list[int] = []
    try:
        for epoch, metrics in enumerate(rows):
            time.sleep(pause)
            t0 = clock()
            _empty(epoch, **metrics)
            empty.append(clock() - t0)
            time.sleep(pause)
            t0 = clock()
            log_epoch(epoch, **metrics)
            logged.append(clock() - t0)
    finally:
        run.finish()
    return {
        "calls": calls,
        "pause_ms": pause * 1000,
        "log_epoch": _percentiles(logged),
        "empty_call": _percentiles(empty),
    }


def describe_paced(report: dict[str, Any]) -> str:
    got, empty = report["log_epoch"], report["empty_call"]
    return (
        f"log_epoch after a {report['pause_ms']:.0f} ms pause (16 metrics, {report['calls']}"
        f" calls, as in a training loop): p50 {got['p50_us']:.2f} us, p99 {got['p99_us']:.2f} us;"
        f" an empty call after the same pause: p50 {empty['p50_us']:.2f} us,"
        f" p99 {empty['p99_us']:.2f} us (the machine's cold start)"
    )


__all__ = ["bench_paced", "describe_paced"]
