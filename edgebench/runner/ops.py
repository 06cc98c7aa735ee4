"""Per-operator profiles: one schema for every runtime's per-op timings.

A profile is a list of rows, slowest first::

    {"op_type": "Conv", "name": "/features/0/Conv", "total_ms": 1.92, "mean_ms": 0.096,
     "calls": 20, "share": 0.31, "delegated": False, "provider": "CPUExecutionProvider"}

``total_ms`` is the op's time summed over every profiled inference, ``mean_ms`` its time per
inference (``total_ms / runs``), ``calls`` how many times it ran, ``share`` its fraction of the
summed time of all ops (the shares add up to 1), ``delegated`` whether a delegate / execution
provider other than the runtime's reference CPU kernels ran it (None when the runtime does not
say), ``provider`` what ran it. Profiling always runs in a session of its own after the timed loop
(:meth:`edgebench.runner.runtimes.Runtime.profile_ops`), so it never perturbs the timed figures.

Part of the runner leaf: stdlib only.
"""

from __future__ import annotations

from typing import Iterable

PROFILE_RUNS = 20  # inferences profiled (after PROFILE_WARMUP untimed ones)
PROFILE_WARMUP = 2


def aggregate(events: Iterable[tuple], runs: int) -> list:
    """Rows of the schema above from ``(op_type, name, ms, delegated, provider)`` events (one per
    op call) over ``runs`` profiled inferences, slowest first. ValueError when ``runs`` < 1."""
    if runs < 1:
        raise ValueError("runs must be >= 1")
    by_name: dict = {}
    for op_type, name, ms, delegated, provider in events:
        row = by_name.get(name)
        if row is None:
            row = by_name[name] = {"op_type": op_type, "name": name, "total_ms": 0.0, "calls": 0,
                                   "delegated": delegated, "provider": provider}
        row["total_ms"] += float(ms)
        row["calls"] += 1
    total = sum(r["total_ms"] for r in by_name.values())
    rows = []
    for r in by_name.values():
        rows.append({"op_type": r["op_type"], "name": r["name"], "total_ms": r["total_ms"],
                     "mean_ms": r["total_ms"] / runs, "calls": r["calls"],
                     "share": r["total_ms"] / total if total > 0 else 0.0,
                     "delegated": r["delegated"], "provider": r["provider"]})
    rows.sort(key=lambda r: -r["total_ms"])
    return rows
