"""edgebench recommend: fastest / smallest within the accuracy budget and why the others lose."""

from __future__ import annotations

from edgebench.results.model import ArtifactInfo, ErrorInfo, LatencyStats, Projection, RunResult, Status
from edgebench.results.recommend import recommend, table

MB = 1024 * 1024


def _run(fmt, variant, p50=None, *, size_mb=10.0, top1=None, acc=None, status=Status.OK, target="local", err=None):
    lat = None if p50 is None else LatencyStats(
        n=50, mean_ms=p50, std_ms=0.1, min_ms=p50, p50_ms=p50, p90_ms=p50, p99_ms=p50, max_ms=p50, iqr_ms=0.1,
        cv=0.01, median_ci_low_ms=p50 * 0.98, median_ci_high_ms=p50 * 1.02, outliers=0)
    parity = {"vs_eager": {"top1_agreement": top1, "sqnr_db": 30.0, "n": 64}} if top1 is not None else None
    accuracy = {"kind": "labelled", "accuracy": acc, "macro_f1": acc, "n": 100, "dataset": "d"} if acc else None
    art = ArtifactInfo(path=f"m-{variant}.{fmt}", format=fmt, variant=variant, size_bytes=int(size_mb * MB))
    return RunResult(model="m", format=fmt, variant=variant, target=target, status=status, artifact=art,
                     latency=lat, parity=parity, accuracy=accuracy, error=err)


def test_fastest_and_smallest_within_budget_and_why_others_lose():
    runs = [_run("a", "fp32", 10.0, top1=1.0), _run("a", "int8", 4.0, size_mb=2.5, top1=0.95),
            _run("b", "fp32", 8.0, top1=1.0), _run("b", "int8", 6.0, size_mb=2.6, top1=1.0),
            _run("c", "fp32", status=Status.UNSUPPORTED, err=ErrorInfo("unsupported", "needs macOS")),
            _run("d", "fp32", 1.0, status=Status.PARITY_FAILED, top1=0.2)]
    (rec,) = recommend(runs, max_drop=0.01)
    assert (rec.fastest.format, rec.fastest.variant) == ("b", "int8")
    assert (rec.smallest.format, rec.smallest.variant) == ("b", "int8")  # a int8 is smaller but 5 % off
    why = {(c.format, c.variant): w for c, w in rec.losers}
    assert why[("a", "int8")].startswith("too inaccurate: 5.0% drop > 1.0% budget")
    assert why[("a", "fp32")].startswith("slower: 10 ms vs 6 ms (1.67×)")
    assert why[("c", "fp32")] == "unsupported on local: needs macOS"
    assert why[("d", "fp32")].startswith("too inaccurate: its export failed the parity check")
    assert "ship b int8" in rec.sentence and "also the smallest" in rec.sentence and "1.33× the speed of b fp32" in rec.sentence
    # a wider budget lets the small int8 in
    (loose,) = recommend(runs, max_drop=0.05)
    assert (loose.fastest.format, loose.fastest.variant) == ("a", "int8")
    rows = table([loose])
    assert rows[0]["role"] == "fastest + smallest" and len(rows) == len(runs)


def test_labelled_accuracy_drop_is_against_the_best_fp32():
    runs = [_run("a", "fp32", 10.0, acc=0.80), _run("a", "int8", 4.0, acc=0.795, size_mb=2.5),
            _run("b", "int8", 3.0, acc=0.70, size_mb=2.0)]
    (rec,) = recommend(runs, max_drop=0.01)
    assert (rec.fastest.format, rec.fastest.variant) == ("a", "int8")
    assert abs(rec.fastest.drop - 0.005) < 1e-12
    assert "accuracy 79.5%" in rec.fastest.quality


def test_nothing_within_budget_says_why():
    (rec,) = recommend([_run("a", "int8", 4.0, top1=0.5), _run("b", "int8", 4.0)], max_drop=0.01)
    assert rec.fastest is None and rec.smallest is None
    assert "nothing to ship" in rec.sentence and "accuracy unknown" in rec.sentence


def test_tiers_use_projections_and_measured_targets_stay_apart():
    fp32, int8 = _run("a", "fp32", 10.0, top1=1.0), _run("a", "int8", 4.0, size_mb=2.5, top1=1.0)
    projections = [Projection(run_id=r.run_id, profile="mid", tier="mid", threads=t, point_ms=p, low_ms=p * 0.8,
                              high_ms=p * 1.2, method="x")
                   for r, p in ((fp32, 20.0), (int8, 30.0)) for t in ("1-big", "all-big")]
    recs = recommend([fp32, int8], projections)
    assert [(r.where, r.projected) for r in recs] == [("local", False), ("tier mid", True)]
    assert recs[1].fastest.variant == "fp32" and recs[1].smallest.variant == "int8"
    assert "the mid tier (projected)" in recs[1].sentence
    (only,) = recommend([fp32, int8], projections, tier="mid")
    assert only.projected


def test_candidates_on_different_delegates_say_which():
    """A sweep over delegates: two `tflite fp32` rows are not the same artifact to a reader, and a
    speed-up quoted between them must name both delegates."""
    from edgebench.results.model import RunResult, Status
    from edgebench.results.recommend import _candidate

    r = RunResult(model="m", format="tflite", variant="fp32", target="local", status=Status.OK,
                  spec={"bench": {"delegate": "none"}})
    c = _candidate(r, {}, "local", (1.0, 0.9, 1.1), 0.01)
    assert c.label == "tflite fp32 via none"
    plain = _candidate(RunResult(model="m", format="tflite", variant="fp32", target="local", status=Status.OK),
                       {}, "local", (1.0, 0.9, 1.1), 0.01)
    assert plain.label == "tflite fp32"
