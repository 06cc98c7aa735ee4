"""Memory figures of a run: one definition for every runtime
(see :data:`edgebench.runner.probes.MEMORY_DEFINITION`).

The runner measures (peak RSS, baseline RSS after importing the runtime, load delta, PSS); this
module turns its bytes into what a RunResult and the compare table show.
"""

from __future__ import annotations

from typing import Any

from edgebench.runner.probes import MEMORY_DEFINITION, current_rss, peak_rss, pss

__all__ = ["MEMORY_DEFINITION", "current_rss", "peak_rss", "pss", "summarize"]

MB = 1024 * 1024


def summarize(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """The runner's memory dict plus MB figures and ``model_peak_bytes`` (peak − baseline: what the
    model, not Python or the runtime library, costs at peak). None when the runner reported none."""
    if not raw:
        return None
    out = dict(raw)
    out.setdefault("definition", MEMORY_DEFINITION)
    peak, base = raw.get("peak_rss_bytes"), raw.get("baseline_rss_bytes")
    out["model_peak_bytes"] = peak - base if peak is not None and base is not None else None
    for key in ("peak_rss_bytes", "pss_bytes", "load_rss_delta_bytes", "model_peak_bytes", "footprint_bytes"):
        value = out.get(key)
        out[key.replace("_bytes", "_mb")] = round(value / MB, 3) if value is not None else None
    return out
