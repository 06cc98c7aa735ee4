"""harness/stats.py against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgebench.harness import stats


def test_descriptive_statistics_of_one_to_ten():
    s = stats.latency_stats(list(range(1, 11)))
    assert s.n == 10
    assert s.mean_ms == 5.5
    # sample variance: Σ(x − 5.5)² = 82.5, / (n − 1) = 9.1667
    assert s.std_ms == pytest.approx(math.sqrt(82.5 / 9))
    assert s.min_ms == 1 and s.max_ms == 10
    assert s.p50_ms == 5.5
    # linear interpolation at rank q·(n − 1): p90 → 8.1 → 9 + 0.1, p99 → 8.91 → 9 + 0.91
    assert s.p90_ms == pytest.approx(9.1)
    assert s.p99_ms == pytest.approx(9.91)
    # p25 at rank 2.25 → 3.25, p75 at rank 6.75 → 7.75
    assert s.iqr_ms == pytest.approx(4.5)
    assert s.cv == pytest.approx(math.sqrt(82.5 / 9) / 5.5)
    assert s.outliers == 0
    assert s.median_ci_low_ms <= 5.5 <= s.median_ci_high_ms


def test_single_sample():
    s = stats.latency_stats([4.0])
    assert (s.n, s.mean_ms, s.std_ms, s.p50_ms, s.cv, s.iqr_ms) == (1, 4.0, 0.0, 4.0, 0.0, 0.0)
    assert (s.median_ci_low_ms, s.median_ci_high_ms) == (4.0, 4.0)


def test_no_samples_is_an_error():
    with pytest.raises(ValueError):
        stats.latency_stats([])


def test_mad_outliers():
    # median 3, |x − 3| = 2 1 0 1 97, MAD = 1: 0.6745·97 = 65.4 > 3.5; 0.6745·2 = 1.35 is not
    assert stats.outlier_count([1, 2, 3, 4, 100]) == 1
    # all within 3.5 MADs: 0.6745·|9 − 5| / 2 = 1.35
    assert stats.outlier_count([1, 3, 5, 7, 9]) == 0


def test_outliers_when_mad_is_zero_use_the_mean_absolute_deviation():
    # median 10, MAD 0; MeanAD = 40/10 = 4 → 40 / (1.253314·4) = 7.98 > 3.5
    assert stats.outlier_count([10] * 9 + [50]) == 1
    assert stats.outlier_count([10] * 10) == 0


def test_drift_first_third_vs_last_third():
    # thirds of 9: medians 1 and 2 → +100 %
    assert stats.drift([1, 1, 1, 1, 1, 1, 2, 2, 2]) == pytest.approx(1.0)
    assert stats.drift([2, 2, 2, 1, 1, 1, 1, 1, 1]) == pytest.approx(-0.5)
    assert stats.drift([1, 2, 3, 4, 5]) is None  # fewer than 6 samples


def test_bootstrap_ci_is_reproducible_and_brackets_the_median():
    rng = np.random.default_rng(3)
    x = rng.normal(10, 1, size=200)
    a, b = stats.median_ci(x), stats.median_ci(x)
    assert a == b
    assert a[0] < np.median(x) < a[1]
    assert stats.median_ci([7.0] * 5) == (7.0, 7.0)


def test_bootstrap_ci_matches_scipy_percentile_bootstrap():
    from scipy.stats import bootstrap

    x = np.arange(1.0, 31.0)
    res = bootstrap((x,), np.median, confidence_level=0.95, n_resamples=2000, method="percentile",
                    random_state=np.random.default_rng(0))
    assert stats.median_ci(x) == (res.confidence_interval.low, res.confidence_interval.high)


def test_no_warnings_for_a_clean_run():
    x = [10.0 + 0.01 * (i % 3) for i in range(60)]
    assert stats.summarize(x, first_inference_ms=12.0).warnings == ()


def _warned(x, first=None, word=""):
    return [w for w in stats.summarize(x, first_inference_ms=first).warnings if word in w]


def test_warning_too_few_runs():
    assert _warned([10.0] * 29, word="timed runs")
    assert not _warned([10.0] * 30, word="timed runs")


def test_warning_cv_above_five_percent():
    # alternating 9 / 11 over 40 runs: std ≈ 1.013, mean 10 → CV ≈ 10 %
    assert _warned([9.0, 11.0] * 20, word="CV")
    assert not _warned([9.9, 10.1] * 20, word="CV")


def test_warning_slow_first_run():
    assert _warned([10.0] * 40, first=20.5, word="first inference")
    assert not _warned([10.0] * 40, first=19.9, word="first inference")


def test_warning_drift():
    assert _warned([10.0] * 20 + [11.0] * 20, word="drift")  # thirds of 13: medians 10 and 11 → 10 %
    assert not _warned([10.0] * 20 + [10.4] * 20, word="drift")  # 4 %


def test_warning_outliers_above_five_percent():
    base = [10.0, 10.1, 9.9, 10.05] * 10  # 40 runs
    assert _warned(base[:37] + [30.0] * 3, word="outliers")  # 3/40 = 7.5 %
    assert not _warned(base[:38] + [30.0] * 2, word="outliers")  # 2/40 = 5 %, not above


def test_aggregates_only_runner_gives_stats_without_an_interval():
    from edgebench.harness.measure import latency_from_summary

    s = latency_from_summary({"count": 50, "mean_ms": 4.0, "std_ms": 0.2, "min_ms": 3.5, "max_ms": 6.0,
                              "p50_ms": 3.9, "p95_ms": 4.5})
    assert (s.n, s.mean_ms, s.p50_ms, s.min_ms, s.max_ms) == (50, 4.0, 3.9, 3.5, 6.0)
    assert s.cv == pytest.approx(0.05)
    assert s.median_ci_low_ms is None and s.p90_ms is None  # never invented
