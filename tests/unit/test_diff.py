"""edgebench diff: ratio of medians with a bootstrap CI, verdicts, the gate, cell matching, selectors."""

from __future__ import annotations

import numpy as np
import pytest

from edgebench.errors import ConfigError
from edgebench.results import Store
from edgebench.results.diff import (FASTER, NO_CI, SAME, SLOWER, RatioCI, diff_runs, is_regression, markdown,
                                    parse_fraction, ratio_of_medians, resolve, summary, verdict)
from edgebench.results.model import LatencyStats, RunResult, Status

FMT = "fmt-a"  # an opaque format label: diff never interprets it


def _run(samples, *, variant="fp32", fmt=FMT, threads=None, created="2026-01-01T00:00:00+00:00", sweep=None,
         status=Status.OK, include_io=False) -> RunResult:
    x = np.asarray(samples, dtype=float)
    p50 = float(np.median(x))
    lat = LatencyStats(n=x.size, mean_ms=float(x.mean()), std_ms=0.0, min_ms=float(x.min()), p50_ms=p50,
                       p90_ms=p50, p99_ms=p50, max_ms=float(x.max()), iqr_ms=0.0, cv=0.0, median_ci_low_ms=p50,
                       median_ci_high_ms=p50, outliers=0)
    spec = {"bench": {"threads": threads, "input_shape": None}} | ({"sweep": sweep} if sweep else {})
    return RunResult(model="m", format=fmt, variant=variant, target="local", status=status, created_at=created,
                     latency=lat, spec=spec, samples={"iterations_ms": list(x), "threads": threads,
                                                      "input_shapes": [[1, 3, 32, 32]], "include_io": include_io})


def test_constant_samples_give_the_exact_ratio_and_a_zero_width_interval():
    ci = ratio_of_medians([10.0] * 5, [20.0] * 7)
    assert ci == RatioCI(2.0, 2.0, 2.0)
    assert verdict(ci) == SLOWER
    assert is_regression(ci, 0.05) and is_regression(ci, 0.99) and not is_regression(ci, 1.0)
    assert ratio_of_medians([4.0], [2.0]) == RatioCI(0.5, 0.5, 0.5)


def test_ratio_is_candidate_median_over_base_median_and_the_interval_holds_it():
    ci = ratio_of_medians([1.0, 2.0, 3.0, 100.0, 2.5], [2.0, 4.0, 6.0, 5.0, 1.0])
    assert ci.ratio == 4.0 / 2.5
    assert ci.low <= ci.ratio <= ci.high
    assert ratio_of_medians([1.0, 2.0, 3.0, 100.0, 2.5], [2.0, 4.0, 6.0, 5.0, 1.0]) == ci  # fixed seed


def test_verdicts_follow_the_interval_only():
    assert verdict(RatioCI(1.2, 1.01, 1.4)) == SLOWER
    assert verdict(RatioCI(0.8, 0.7, 0.99)) == FASTER
    assert verdict(RatioCI(1.3, 0.99, 1.6)) == SAME  # a 30 % point change inside the CI is not a change
    assert verdict(RatioCI(1.0, 1.0, 1.0)) == SAME
    assert verdict(RatioCI(1.2, None, None)) == NO_CI


def test_the_gate_needs_the_whole_interval_above_the_threshold():
    assert not is_regression(RatioCI(1.20, 1.04, 1.40), 0.05)  # point 20 % slower, but 4 % is inside the CI
    assert is_regression(RatioCI(1.20, 1.06, 1.40), 0.05)
    assert not is_regression(RatioCI(1.20, None, None), 0.05)  # no samples: never a regression


def test_separated_and_identical_distributions():
    rng = np.random.default_rng(1)
    base = 10 + rng.normal(0, 0.2, 60)
    slow = 12 + rng.normal(0, 0.2, 60)
    assert verdict(ratio_of_medians(base, slow)) == SLOWER
    assert verdict(ratio_of_medians(slow, base)) == FASTER
    assert verdict(ratio_of_medians(base, base)) == SAME
    with pytest.raises(ValueError):
        ratio_of_medians([], [1.0])


@pytest.mark.parametrize("text,value", [("5%", 0.05), ("0.05", 0.05), ("0.5", 0.5), ("1", 1.0), ("0", 0.0),
                                        (" 12.5 % ", 0.125), ("150%", 1.5)])
def test_parse_fraction(text, value):
    assert parse_fraction(text) == pytest.approx(value)


def test_parse_fraction_grows_with_what_is_written():
    """0.5 is half, 0.5% is half a percent, 5 is refused (not silently 5 %): no reading where a
    larger number written means a smaller threshold."""
    written = ["0.005", "0.5%", "1%", "0.05", "5%", "0.5", "50%", "1"]
    values = [parse_fraction(w) for w in written]
    assert values == sorted(values)
    with pytest.raises(ConfigError, match="ambiguous"):
        parse_fraction("5")


@pytest.mark.parametrize("text", ["abc", "-1%", "nan", "5", "12"])
def test_parse_fraction_rejects(text):
    with pytest.raises(ConfigError):
        parse_fraction(text)


def test_an_accuracy_drop_above_everything_is_refused():
    with pytest.raises(ConfigError, match="more than 100%"):
        parse_fraction("150%", "--max-accuracy-drop", maximum=1.0)


def test_cells_match_on_threads_and_latest_run_wins():
    base = [_run([10.0] * 9), _run([10.0] * 9, threads=1), _run([10.0] * 9, variant="int8")]
    cand = [_run([30.0] * 9, created="2026-01-01T00:00:00+00:00"),
            _run([11.0] * 9, created="2026-01-02T00:00:00+00:00"),  # the latest of the cell
            _run([5.0] * 9, threads=1), _run([7.0] * 9, fmt="fmt-b"), _run([10.0] * 9, variant="int8", include_io=True)]
    d = diff_runs(base, cand, threshold=0.05)
    by = {(c.key[2], c.key[4]): c for c in d.cells}
    assert set(by) == {("fp32", "default"), ("fp32", "1")}
    assert by[("fp32", "default")].ci.ratio == pytest.approx(1.1) and by[("fp32", "default")].regression
    assert by[("fp32", "1")].verdict == FASTER and not by[("fp32", "1")].regression
    assert [k[2] for k in d.only_base] == ["int8"]  # timed with pre/post-processing on one side only
    assert sorted((k[1], k[6]) for k in d.only_candidate) == [(FMT, "invoke+io"), ("fmt-b", "invoke")]
    assert len(d.regressions) == 1
    assert "FAILED by 1 cell" in summary(d) and "only in base" in markdown(d)


def test_failed_runs_are_not_diffed_and_two_named_runs_are_compared_anyway():
    d = diff_runs([_run([10.0] * 5)], [_run([10.0] * 5, status=Status.RUN_FAILED)])
    assert d.cells == () and len(d.only_base) == 1
    d = diff_runs([_run([10.0] * 5)], [_run([12.0] * 5, variant="int8")])
    assert len(d.cells) == 1 and "variant fp32 → int8" in d.notes[0]


def test_resolve_store_file_sweep_name_and_run_id(tmp_path):
    db, other = tmp_path / "a.db", tmp_path / "b.db"
    named, plain = _run([1.0] * 3, sweep="nightly"), _run([2.0] * 3, variant="int8")
    with Store(db) as s:
        s.add(named)
        s.add(plain)
    with Store(other) as s:
        s.add(plain)
    assert resolve(str(other), db)[1][0].run_id == plain.run_id
    label, runs = resolve("nightly", db)
    assert label == "sweep nightly" and [r.run_id for r in runs] == [named.run_id]
    assert resolve(plain.run_id[:-2], db)[1][0].run_id == plain.run_id
    with pytest.raises(ConfigError, match="sweeps here: nightly"):
        resolve("nope", db)
    with pytest.raises(ConfigError, match="no results database"):
        resolve("nope", tmp_path / "missing.db")
