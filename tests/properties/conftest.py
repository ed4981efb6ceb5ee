"""Shared pieces of the property suites: the case counter reported at the end of the run."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

#: Generated cases run, by suite (reported in pytest's summary).
CASES: dict[str, int] = {}

# One profile for CI and local runs: derandomized (a run is reproducible from the code alone),
# no example database on disk, no per-example deadline (a case is several database round trips),
# and one database connection for all examples of a test (each example uses its own rows).
settings.register_profile(
    "mltrack",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("mltrack")


def count(suite: str) -> None:
    CASES[suite] = CASES.get(suite, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CASES:
        total = sum(CASES.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(CASES.items()))
        terminalreporter.write_line(f"property cases: {total} ({detail})")
