"""How fast this machine runs Python right now, printed beside a benchmark's figures.

The same code on the same 2-core machine has run these benchmarks up to twice as fast at one
time as at another (other tenants of the host, CPU frequency). Every absolute figure moves with
it, so each benchmark prints this reference at its start and at its end: figures of two runs
compare only when their references are close; ratios measured within one run (to COPY, to the
plain query) move much less.

    before = machine_speed.reference_ms()
    ...                                               # the benchmark
    print(machine_speed.describe(before, machine_speed.reference_ms()))
"""

from __future__ import annotations

import timeit


def reference_ms() -> float:
    """Best of 5 runs of ``sum(range(10**6))`` in this interpreter, in ms (what
    ``python -m timeit "sum(range(10**6))"`` prints as its best loop)."""
    timer = timeit.Timer("sum(range(10**6))")
    return min(timer.repeat(repeat=5, number=5)) / 5 * 1000.0


def describe(before: float, after: float) -> str:
    return (
        f"machine speed: sum(range(10**6)) took {before:.1f} ms at the start and {after:.1f} ms"
        " at the end (lower is faster; compare figures of runs whose speeds are close)"
    )


__all__ = ["describe", "reference_ms"]
