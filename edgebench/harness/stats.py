"""Latency statistics from raw per-iteration samples. Pure functions, no I/O.

Definitions (all in milliseconds unless said otherwise):
- percentiles (p50, p90, p99, quartiles for the IQR) use numpy's default linear interpolation;
- ``std_ms`` is the sample standard deviation (ddof = 1; 0 for a single sample); ``cv = std / mean``;
- outliers: modified z-score ``0.6745 · |x − median| / MAD > 3.5`` (Iglewicz & Hoaglin); when the
  MAD is 0 the mean absolute deviation is used instead (``|x − median| / (1.253314 · MeanAD) > 3.5``);
  outliers are counted and warned about, never removed;
- the 95 % confidence interval of the median is a percentile bootstrap (``scipy.stats.bootstrap``,
  fixed seed, so the same samples always give the same interval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edgebench.results.model import LatencyStats

MIN_RUNS = 30  # fewer timed runs than this: the median's interval is wide
MAX_CV = 0.05
SLOW_FIRST_FACTOR = 2.0  # first inference this many times the median: lazy initialisation
MAX_DRIFT = 0.05
MAX_OUTLIER_FRACTION = 0.05
OUTLIER_Z = 3.5
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Summary:
    """Latency statistics and the warnings a user can act on."""

    latency: LatencyStats
    warnings: tuple[str, ...]


def outlier_count(samples: Sequence[float]) -> int:
    """How many samples are outliers by the modified z-score (MAD; MeanAD when the MAD is 0)."""
    x = np.asarray(samples, dtype=float)
    if x.size < 3:
        return 0
    med = np.median(x)
    dev = np.abs(x - med)
    mad = np.median(dev)
    if mad > 0:
        z = 0.6745 * dev / mad
    else:
        mean_ad = np.mean(dev)
        if mean_ad == 0:
            return 0
        z = dev / (1.253314 * mean_ad)
    return int(np.sum(z > OUTLIER_Z))


def median_ci(samples: Sequence[float], *, confidence: float = 0.95,
              n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median (same samples → same interval)."""
    x = np.asarray(samples, dtype=float)
    if x.size < 2 or np.all(x == x[0]):
        return float(x[0]), float(x[0])
    from scipy.stats import bootstrap

    res = bootstrap((x,), np.median, confidence_level=confidence, n_resamples=n_resamples,
                    method="percentile", vectorized=True, batch=200,
                    random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def drift(samples: Sequence[float]) -> float | None:
    """Relative change of the median from the first third to the last third of the run
    (positive: got slower), or None with fewer than 6 samples."""
    x = np.asarray(samples, dtype=float)
    third = x.size // 3
    if third < 2:
        return None
    first, last = np.median(x[:third]), np.median(x[-third:])
    return float((last - first) / first) if first > 0 else None


def latency_stats(samples: Sequence[float]) -> LatencyStats:
    """n, mean, std, min, p50, p90, p99, max, IQR, CV, bootstrap CI of the median, outliers."""
    x = np.asarray(samples, dtype=float)
    if x.size == 0:
        raise ValueError("no samples")
    p25, p50, p75, p90, p99 = np.percentile(x, [25, 50, 75, 90, 99])
    mean = float(np.mean(x))
    std = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    low, high = median_ci(x)
    return LatencyStats(
        n=int(x.size), mean_ms=mean, std_ms=std, min_ms=float(np.min(x)), p50_ms=float(p50),
        p90_ms=float(p90), p99_ms=float(p99), max_ms=float(np.max(x)), iqr_ms=float(p75 - p25),
        cv=std / mean if mean > 0 else 0.0, median_ci_low_ms=low, median_ci_high_ms=high,
        outliers=outlier_count(x),
    )


def check(stats: LatencyStats, samples: Sequence[float], first_inference_ms: float | None = None,
          *, min_runs: int = MIN_RUNS) -> tuple[str, ...]:
    """Warnings a user can act on: too few runs, CV > 5 %, slow first run, drift > 5 %, outliers > 5 %."""
    out = []
    if stats.n < min_runs:
        out.append(f"only {stats.n} timed runs (< {min_runs}): the median is rough — raise --runs or --min-seconds")
    if stats.cv > MAX_CV:
        out.append(f"CV {stats.cv:.1%} > {MAX_CV:.0%}: noisy timings — close other programs, pin --threads, "
                   "raise --min-seconds")
    if first_inference_ms is not None and stats.p50_ms > 0 and first_inference_ms > SLOW_FIRST_FACTOR * stats.p50_ms:
        out.append(f"first inference {first_inference_ms:.3g} ms is {first_inference_ms / stats.p50_ms:.1f}× the "
                   "median: lazy initialisation — warm the model up before the first real request")
    d = drift(samples)
    if d is not None and abs(d) > MAX_DRIFT:
        word = "slower" if d > 0 else "faster"
        out.append(f"drift: the last third of the runs is {abs(d):.1%} {word} than the first (thermal or "
                   "frequency scaling) — let the device cool, fix the governor, or warm up longer")
    if stats.n and stats.outliers / stats.n > MAX_OUTLIER_FRACTION:
        out.append(f"{stats.outliers} outliers ({stats.outliers / stats.n:.1%} > {MAX_OUTLIER_FRACTION:.0%}): "
                   "background load or interrupts — report the median, investigate the tail")
    return tuple(out)


def summarize(samples: Sequence[float], first_inference_ms: float | None = None) -> Summary:
    """Statistics and warnings of one run's per-iteration samples."""
    stats = latency_stats(samples)
    return Summary(stats, check(stats, samples, first_inference_ms))
