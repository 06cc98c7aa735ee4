"""``edgebench diff``: is the candidate faster or slower than the base, cell by cell, beyond noise?

A cell is one model × format × variant × target × threads × input shape × timed region (a run
that timed pre/post-processing too is not compared with one that did not). For each cell present on
both sides the ratio of medians ``candidate p50 / base p50`` (> 1: the candidate is slower) gets a
percentile-bootstrap 95 % confidence interval from the raw per-iteration samples of both runs,
each resampled independently (``scipy.stats.bootstrap``, fixed seed, as
:mod:`edgebench.harness.stats` does for one run). The verdict only names a change the interval
supports: ``slower`` when the whole interval lies above 1, ``faster`` when it lies below 1, else
``no significant change``. The regression gate (``--fail-if-slower 5%``) is stricter still: a
cell fails only when the interval's lower bound exceeds ``1 + threshold``, so a slowdown inside
the interval is never called a regression.

The interval describes the noise *within* the two runs; a busy machine also shifts whole runs
(13–20 % between invocations on a shared 2-core VM), so pick a threshold above that drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from edgebench.errors import ConfigError
from edgebench.results.model import RunResult, Status
from edgebench.results.store import Store

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
FASTER, SLOWER, SAME = "faster", "slower", "no significant change"
NO_CI = "no CI (aggregates only)"
_MEASURED = (Status.OK, Status.PARITY_FAILED)


@dataclass(frozen=True)
class RatioCI:
    """``ratio`` = median(candidate) / median(base) with its ``low``–``high`` confidence interval
    (None when either side has no per-iteration samples)."""

    ratio: float
    low: float | None
    high: float | None


def parse_fraction(text: str | float, flag: str = "--fail-if-slower", *, maximum: float | None = None) -> float:
    """A share written as a percentage or a fraction: ``"5%"`` → 0.05, ``"0.05"`` → 0.05.

    One reading for every value, so the result grows with what is written: a bare number is a
    fraction and must be at most 1 (``5`` is refused: write ``5%``, or ``0.05``). ``maximum``
    bounds the share (1.0 for an accuracy drop). Raises ConfigError naming ``flag`` on anything else."""
    s = str(text).strip()
    pct = s.endswith("%")
    example = f"e.g. {flag} 5%"
    try:
        value = float(s.rstrip("%").strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a number", hint=example) from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{flag} {text!r} must be ≥ 0", hint=example)
    if not pct and value > 1:
        raise ConfigError(f"{flag} {text!r} is ambiguous: a bare number is a fraction (0.05 = 5 %)",
                          hint=f"write {flag} {s}% for {s} percent")
    share = value / 100 if pct else value
    if maximum is not None and share > maximum:
        raise ConfigError(f"{flag} {text!r} is more than {maximum:.0%}", hint=example)
    return share


def ratio_of_medians(base: Sequence[float], candidate: Sequence[float], *, confidence: float = CONFIDENCE,
                     n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> RatioCI:
    """median(candidate) / median(base) and its percentile-bootstrap interval (both samples
    resampled independently; same samples → same interval). Samples are per-iteration ms (> 0).

    Raises ValueError when either side is empty or its median is not positive."""
    b, c = np.asarray(base, dtype=float), np.asarray(candidate, dtype=float)
    if b.size == 0 or c.size == 0:
        raise ValueError("both sides need at least one sample")
    mb, mc = float(np.median(b)), float(np.median(c))
    if mb <= 0 or mc <= 0:
        raise ValueError("medians must be positive")
    ratio = mc / mb
    if (b.size < 2 or np.all(b == b[0])) and (c.size < 2 or np.all(c == c[0])):
        return RatioCI(ratio, ratio, ratio)  # nothing to resample: the ratio is exact
    from scipy.stats import bootstrap

    def stat(x, y, axis=-1):
        return np.median(y, axis=axis) / np.median(x, axis=axis)

    res = bootstrap((b, c), stat, paired=False, vectorized=True, confidence_level=confidence,
                    n_resamples=n_resamples, method="percentile", batch=200,
                    random_state=np.random.default_rng(seed))
    return RatioCI(ratio, float(res.confidence_interval.low), float(res.confidence_interval.high))


def verdict(ci: RatioCI) -> str:
    """``slower`` (interval above 1), ``faster`` (interval below 1) or ``no significant change``."""
    if ci.low is None or ci.high is None:
        return NO_CI
    if ci.low > 1:
        return SLOWER
    if ci.high < 1:
        return FASTER
    return SAME


def is_regression(ci: RatioCI, threshold: float) -> bool:
    """True when the candidate is slower than ``1 + threshold`` × base over its whole interval."""
    return ci.low is not None and ci.low > 1 + threshold


def cell_key(r: RunResult) -> tuple[str, str, str, str, str, str, str]:
    """(model, format, variant, target, threads, input shape, timed region) of a run, as strings."""
    samples = r.samples or {}
    bench = (r.spec or {}).get("bench") or {}
    threads = samples.get("threads") if samples.get("threads") is not None else bench.get("threads")
    shapes = samples.get("input_shapes") or ([bench["input_shape"]] if bench.get("input_shape") else None)
    shape = "x".join(str(d) for d in shapes[0]) if shapes else "-"
    io = samples.get("include_io") if "include_io" in samples else bench.get("include_io")
    region = samples.get("timed_region") or getattr(r, "timed_region", None) or ("invoke+io" if io else "invoke")
    return (r.model, r.format, r.variant, r.target, "default" if threads is None else str(threads), shape,
            str(region))


KEY_NAMES = ("model", "format", "variant", "target", "threads", "input_shape", "timed_region")


@dataclass(frozen=True)
class CellDiff:
    """One matched cell: both p50s (ms), the ratio with its interval, the verdict, the gate."""

    key: tuple[str, ...]
    base_run_id: str
    candidate_run_id: str
    base_p50_ms: float
    candidate_p50_ms: float
    ci: RatioCI
    verdict: str
    regression: bool

    def to_dict(self) -> dict[str, Any]:
        return {**dict(zip(KEY_NAMES, self.key)), "base_run_id": self.base_run_id,
                "candidate_run_id": self.candidate_run_id, "base_p50_ms": self.base_p50_ms,
                "candidate_p50_ms": self.candidate_p50_ms, "ratio": self.ci.ratio, "ci_low": self.ci.low,
                "ci_high": self.ci.high, "verdict": self.verdict, "regression": self.regression}


@dataclass(frozen=True)
class Diff:
    """Matched cells plus the cells only one side has (keys), and the threshold used (None: no gate)."""

    cells: tuple[CellDiff, ...]
    only_base: tuple[tuple[str, ...], ...] = ()
    only_candidate: tuple[tuple[str, ...], ...] = ()
    threshold: float | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def regressions(self) -> list[CellDiff]:
        return [c for c in self.cells if c.regression]


def _latest(results: Iterable[RunResult]) -> dict[tuple[str, ...], RunResult]:
    out: dict[tuple[str, ...], RunResult] = {}
    for r in sorted(results, key=lambda r: r.created_at):
        if r.kind == "run" and r.status in _MEASURED and r.latency is not None and r.latency.p50_ms:
            out[cell_key(r)] = r
    return out


def _samples(r: RunResult) -> list[float]:
    return list((r.samples or {}).get("iterations_ms") or [])


def compare_pair(base: RunResult, candidate: RunResult, threshold: float | None = None) -> CellDiff:
    """The diff of two measured runs (per-iteration samples when both have them, else p50s only)."""
    sb, sc = _samples(base), _samples(candidate)
    if sb and sc:
        ci = ratio_of_medians(sb, sc)
    else:
        ci = RatioCI(candidate.latency.p50_ms / base.latency.p50_ms, None, None)
    return CellDiff(cell_key(candidate), base.run_id, candidate.run_id, base.latency.p50_ms,
                    candidate.latency.p50_ms, ci, verdict(ci),
                    threshold is not None and is_regression(ci, threshold))


def diff_runs(base: Iterable[RunResult], candidate: Iterable[RunResult], *,
              threshold: float | None = None) -> Diff:
    """Match the latest measured run per cell on each side and diff every matched cell.

    With exactly one measured run on each side they are compared even when their cells differ
    (the user named the two runs), with a note saying which fields differ."""
    bl, cl = _latest(base), _latest(candidate)
    notes: list[str] = []
    if len(bl) == 1 and len(cl) == 1 and set(bl) != set(cl):
        (kb, rb), (kc, rc) = next(iter(bl.items())), next(iter(cl.items()))
        differ = [f"{n} {a} → {b}" for n, a, b in zip(KEY_NAMES, kb, kc) if a != b]
        notes.append("compared two runs of different cells: " + ", ".join(differ))
        return Diff((compare_pair(rb, rc, threshold),), threshold=threshold, notes=tuple(notes))
    cells = tuple(compare_pair(bl[k], cl[k], threshold) for k in sorted(set(bl) & set(cl)))
    return Diff(cells, tuple(sorted(set(bl) - set(cl))), tuple(sorted(set(cl) - set(bl))), threshold,
                tuple(notes))


def _ms(x: float) -> str:
    return f"{x:.4f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.1f}"


def _ratio(c: CellDiff) -> str:
    if c.ci.low is None:
        return f"{c.ci.ratio:.3f}×"
    return f"{c.ci.ratio:.3f}× [{c.ci.low:.3f}, {c.ci.high:.3f}]"


HEADERS = ["model", "format", "variant", "target", "threads", "input", "timed", "base p50 ms", "candidate p50 ms",
           "ratio [95% CI]", "verdict"]


def rows(d: Diff) -> list[list[str]]:
    """Formatted cells for the table / markdown views (``REGRESSION`` marks a tripped gate)."""
    out = []
    for c in d.cells:
        v = c.verdict + (" — REGRESSION" if c.regression else "")
        out.append([*c.key, _ms(c.base_p50_ms), _ms(c.candidate_p50_ms), _ratio(c), v])
    return out


def summary(d: Diff) -> str:
    """One line: how many cells got slower / faster / stayed, and the gate's outcome."""
    counts = {v: sum(c.verdict == v for c in d.cells) for v in (SLOWER, FASTER, SAME, NO_CI)}
    parts = [f"{len(d.cells)} matched cell(s): {counts[SLOWER]} slower, {counts[FASTER]} faster, "
             f"{counts[SAME]} no significant change"]
    if counts[NO_CI]:
        parts.append(f"{counts[NO_CI]} without samples")
    if d.only_base or d.only_candidate:
        parts.append(f"unmatched: {len(d.only_base)} only in base, {len(d.only_candidate)} only in candidate")
    if d.threshold is not None:
        n = len(d.regressions)
        parts.append(f"gate ({d.threshold:.0%} slower, whole CI): " + (f"FAILED by {n} cell(s)" if n else "passed"))
    return "; ".join(parts)


def markdown(d: Diff) -> str:
    """A markdown table plus the summary line (for PR comments)."""
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" for _ in HEADERS) + "|"]
    lines += ["| " + " | ".join(esc(x) for x in r) + " |" for r in rows(d)]
    text = "\n".join(lines) + "\n\n" + summary(d) + "\n"
    for n in d.notes:
        text += f"\n_{n}_\n"
    for side, keys in (("base", d.only_base), ("candidate", d.only_candidate)):
        for k in keys:
            text += f"\n- only in {side}: {' '.join(k)}"
    return text + ("\n" if d.only_base or d.only_candidate else "")


def sweep_name(r: RunResult) -> str | None:
    """The name of the sweep that measured ``r`` (``spec["sweep"]``), if any."""
    return (r.spec or {}).get("sweep")


def resolve(selector: str, db) -> tuple[str, list[RunResult]]:
    """What one side of ``edgebench diff`` names, as (description, runs).

    ``selector`` is, in this order: an existing results-database file (its latest run per cell), a
    sweep name recorded in ``db`` (the latest run per cell of that sweep), or a run id (prefix) in
    ``db``. Raises ConfigError naming what was tried."""
    path = Path(selector)
    if path.is_file():
        with Store(path) as store:
            return f"store {path}", store.results(kind="run")
    if not Path(db).exists():
        raise ConfigError(f"{selector!r} is not a file, and there is no results database at {db} to look it up in",
                          hint="pass two store files, or --db with the runs' database")
    with Store(db) as store:
        runs = store.results(kind="run")
        named = [r for r in runs if sweep_name(r) == selector]
        if named:
            return f"sweep {selector}", named
        matches = [r for r in runs if r.run_id.startswith(selector)]
    if len(matches) == 1:
        return f"run {matches[0].run_id}", matches
    sweeps = sorted({s for r in runs if (s := sweep_name(r))})
    what = f"{len(matches)} runs start with it" if matches else "no run id starts with it"
    raise ConfigError(f"{selector!r} is not a store file, a sweep name or a unique run id in {db} ({what})",
                      hint=("sweeps here: " + ", ".join(sweeps)) if sweeps
                      else "run ids: `edgebench compare --format json`")
