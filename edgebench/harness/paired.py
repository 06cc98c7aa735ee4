"""Paired measurement (``run --paired``, ``paired = true`` in a sweep): speed-ups that reproduce.

On a shared machine one artifact's p50 moves 13–20 % between invocations, so a speed-up taken from
two separate runs is mostly noise. Here the artifacts of one model on one target are first timed
together, interleaved in rounds in ONE runner process (A B C A B C …, one warm session each, the
same thread count; :mod:`edgebench.runner.paired`), then each is measured as usual in its own
fresh process (latency, memory, load time: the figures of the row). Whatever the machine does
during a round slows every artifact of that round alike, so the per-round ratio cancels it.

Each artifact's RunResult gets ``samples["paired"]``::

    {"rounds": 10, "timer": "cpu", "threads": 1, "artifacts": ["…-fp32.onnx", "…-int8.onnx"],
     "baseline": "…-fp32.onnx",                    # its fp32 sibling (same model and format), or None
     "round_ms": [...], "baseline_round_ms": [...],  # per-round medians (ms, of ``timer``)
     "round_speedups": [...],                        # baseline / this artifact, round by round
     "speedup": 1.84, "ci_low": 1.80, "ci_high": 1.88, "confidence": 0.95,
     "error": None}                                  # or why there is no paired figure

``speedup`` is the median of the per-round speed-ups and its CI a percentile bootstrap over the
rounds (``scipy.stats.bootstrap``, fixed seed). ``timer`` is ``cpu`` (the calling thread's CPU
time, :func:`edgebench.runner.paired.cpu_timer`) with one thread, where a preemption by another
user's job does not count, and ``wall`` otherwise (several threads' CPU time would count spinning).

What it trades: alternating call by call, each artifact runs with the other's weights in the
caches, so the paired ratio is reproducible but may sit a few per cent off the ratio of two
steady-state runs (MobileNetV3-Small on a 2-core EPYC: 0.80× paired vs 0.76× separate with ONNX
Runtime, 0.33× vs 0.31× with LiteRT — the fp32 calls slow down more when interleaved).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from edgebench import exporters
from edgebench.errors import EdgebenchError
from edgebench.harness.artifacts import Artifact
from edgebench.harness.measure import measure_artifact
from edgebench.results.model import RunResult
from edgebench.spec import BenchSpec
from edgebench.targets import Target

BASELINE_VARIANT = "fp32"
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


def timer_for(bench: BenchSpec) -> str:
    """``cpu`` with one thread (per-call CPU time of the calling thread), else ``wall``."""
    return "cpu" if bench.threads == 1 else "wall"


def speedup_ci(baseline_ms: Sequence[float], candidate_ms: Sequence[float], *, confidence: float = CONFIDENCE,
               n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[list[float], float, float, float]:
    """(per-round speed-ups ``baseline / candidate``, their median, CI low, CI high): a percentile
    bootstrap of the median over rounds. Inputs are per-round medians in ms, round-aligned.
    ValueError when they are empty, of different lengths or not positive."""
    b, c = np.asarray(baseline_ms, dtype=float), np.asarray(candidate_ms, dtype=float)
    if b.size == 0 or b.size != c.size:
        raise ValueError("need the same number (≥ 1) of rounds on both sides")
    if np.any(b <= 0) or np.any(c <= 0):
        raise ValueError("per-round times must be positive")
    ratios = b / c
    point = float(np.median(ratios))
    if ratios.size < 2 or np.all(ratios == ratios[0]):
        return ratios.tolist(), point, point, point
    from scipy.stats import bootstrap

    res = bootstrap((ratios,), np.median, vectorized=True, confidence_level=confidence, n_resamples=n_resamples,
                    method="percentile", random_state=np.random.default_rng(seed))
    return ratios.tolist(), point, float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_samples(result: dict[str, Any], labels: Sequence[str], variants: Sequence[str],
                   formats: Sequence[str]) -> list[dict[str, Any]]:
    """``samples["paired"]`` for each entry of a PairedResult dict (entries ``"0"``, ``"1"`` … in
    the order of ``labels`` / ``variants`` / ``formats``): speed-up against the fp32 entry of the
    same format, when there is one."""
    medians = result["round_medians_ms"]
    out = []
    for i, (label, variant, fmt) in enumerate(zip(labels, variants, formats)):
        base = next((j for j, (v, f) in enumerate(zip(variants, formats)) if v == BASELINE_VARIANT and f == fmt), None)
        entry: dict[str, Any] = {
            "rounds": result["rounds"], "timer": result.get("timer"), "threads": result.get("threads"),
            "artifacts": list(labels), "baseline": labels[base] if base is not None else None,
            "round_ms": medians[str(i)], "baseline_round_ms": medians[str(base)] if base is not None else None,
            "round_speedups": None, "speedup": None, "ci_low": None, "ci_high": None, "confidence": CONFIDENCE,
            "error": None,
        }
        if base is None:
            entry["error"] = f"no {BASELINE_VARIANT} artifact of the same model and format was measured with it"
        else:
            ratios, point, low, high = speedup_ci(medians[str(base)], medians[str(i)])
            entry.update(round_speedups=ratios, speedup=point, ci_low=low, ci_high=high)
        out.append(entry)
    return out


def measure_together(items: Sequence[tuple[Artifact, dict[str, Any]]], target: Target, bench: BenchSpec, *,
                     store=None, on_result: Callable[[RunResult], None] | None = None) -> list[RunResult]:
    """Measure the artifacts of ONE model on ``target``: first all of them interleaved
    (:meth:`Target.measure_paired`), then each in its own process (:func:`measure_artifact` with
    the item's keyword arguments: ``cell_hash``, ``spec``, ``model``, ``variant``), its RunResult
    carrying ``samples["paired"]``. A paired run that cannot happen (fewer than two runnable
    artifacts, a target without the runner, a crash) leaves every row measured, with the reason
    in ``samples["paired"]["error"]`` (shown as a warning). Returns the results in ``items`` order."""
    extras: list[dict[str, Any] | None] = [None] * len(items)
    runnable = []
    for k, (art, _) in enumerate(items):
        try:
            runtime = exporters.runtime_for(art.format)
            if target.supports(runtime) is None:
                runnable.append((k, art, runtime))
        except EdgebenchError:
            continue  # measure_artifact below turns it into the row's own status
    variants = [kw.get("variant") or art.variant for art, kw in items]
    if len(runnable) >= 2:
        extras = _paired_extras(items, runnable, variants, target, bench, extras)
    else:
        for k, _, _ in runnable:
            extras[k] = {"paired": {"error": "paired timing needs at least two artifacts of the same model that "
                                             f"run on {target.uri}"}}
    results = []
    for (art, kw), extra in zip(items, extras):
        r = measure_artifact(art, target, bench, store=store, extra_samples=extra, **kw)
        if on_result is not None:
            on_result(r)
        results.append(r)
    return results


def _paired_extras(items, runnable, variants, target: Target, bench: BenchSpec, extras: list) -> list:
    deployed = []
    try:
        for _, art, runtime in runnable:
            dep = target.deploy(art.path, runtime, label=art.format)
            deployed.append(dep)
            if art.input_shape and not bench.input_shape:
                dep.extra["input_shape"] = list(art.input_shape)
        result = target.measure_paired(deployed, bench, timer=timer_for(bench))
    except EdgebenchError as err:
        for k, _, _ in runnable:
            extras[k] = {"paired": {"error": f"{err.stage}: {err.message}"}}
        return extras
    finally:
        for dep in deployed:
            target.cleanup(dep)
    labels = [art.path.name for _, art, _ in runnable]
    per = paired_samples(result, labels, [variants[k] for k, _, _ in runnable], [art.format for _, art, _ in runnable])
    for (k, _, _), entry in zip(runnable, per):
        extras[k] = {"paired": entry}
    return extras
