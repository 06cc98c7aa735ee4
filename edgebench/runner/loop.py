"""The timed loop: every iteration kept raw, in milliseconds (``time.perf_counter_ns``)."""

from __future__ import annotations

import time
from typing import Callable


def timed_loop(step: Callable[[], object], min_runs: int, min_seconds: float, max_seconds: float) -> list:
    """Call ``step`` until ``min_runs`` calls and ``min_seconds`` have passed, stopping early once
    ``max_seconds`` have passed (at least one call always runs). Returns each call's duration in ms.

    Only ``step()`` itself sits between the two clock reads: the loop's own bookkeeping is outside."""
    times = []
    clock = time.perf_counter_ns
    append = times.append
    start = clock()
    min_ns, max_ns = int(min_seconds * 1e9), int(max_seconds * 1e9)
    while True:
        elapsed = clock() - start
        if len(times) >= min_runs and elapsed >= min_ns:
            break
        if times and elapsed >= max_ns:
            break
        t0 = clock()
        step()
        t1 = clock()
        append((t1 - t0) / 1e6)
    return times
