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
    assert "ship b int8" in rec.sentence and "also the smallest" in rec.sentence and "1.33× the fastest fp32 (b fp32" in rec.sentence
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


def _lat(p50):
    return LatencyStats(n=50, mean_ms=p50, std_ms=0.1, min_ms=p50, p50_ms=p50, p90_ms=p50, p99_ms=p50, max_ms=p50,
                        iqr_ms=0.1, cv=0.01, median_ci_low_ms=p50 * 0.98, median_ci_high_ms=p50 * 1.02, outliers=0)


def _art_run(fmt, variant, p50, *, folder="art", delegate=None, sha="0" * 64, parity=None, size_mb=10.0,
             status=Status.OK, err=None):
    art = ArtifactInfo(path=f"{folder}/m/m-{variant}.{fmt}", format=fmt, variant=variant,
                       size_bytes=int(size_mb * MB), sha256=sha)
    return RunResult(model="m", format=fmt, variant=variant, target="local", status=status, artifact=art,
                     latency=None if p50 is None else _lat(p50), parity=parity, error=err,
                     spec={"bench": {"delegate": delegate}} if delegate else None)


def _vs(all_top1, n, decided, n_decided):
    return {"top1_agreement": all_top1, "n": n, "sqnr_db": 12.0, "top1_agreement_decided": decided,
            "n_decided": n_decided}


def test_parity_drop_is_judged_on_decided_held_out_inputs_only():
    """62 % over all parity inputs but 100 % where eager is decided: near-tie flips are no accuracy
    drop. A drop is known only from ≥ 5 decided held-out parity inputs; the calibration inputs
    (in-sample) never show it is small, but below 90 % they show the ranges are wrong."""
    fp32 = _art_run("a", "fp32", 3.0, parity={"vs_eager": _vs(1.0, 8, 1.0, 6)})
    ok = _art_run("a", "int8", 1.5, size_mb=2.5, sha="1" * 64,
                  parity={"vs_eager": _vs(0.625, 8, 1.0, 6), "vs_eager_on_calibration": _vs(0.7, 32, 1.0, 16)})
    (rec,) = recommend([fp32, ok], max_drop=0.01)
    assert rec.fastest is ok_candidate(rec, "int8") and rec.fastest.drop == 0.0
    assert "where eager is decided" in rec.fastest.quality and "n=6" in rec.fastest.quality
    # one decided held-out input: 100 % of 1 says nothing; 16/16 on the calibration inputs neither
    thin = _art_run("a", "int8", 1.5, size_mb=2.5, sha="1" * 64,
                    parity={"vs_eager": _vs(0.375, 8, 1.0, 1), "vs_eager_on_calibration": _vs(0.7, 32, 1.0, 16)})
    (rec,) = recommend([fp32, thin], max_drop=0.01)
    c = ok_candidate(rec, "int8")
    assert c.drop is None and "decided on only 1 of 8 held-out parity inputs" in c.unknown
    bad = _art_run("a", "int8", 1.5, size_mb=2.5, sha="1" * 64,
                   parity={"vs_eager": _vs(0.625, 8, 1.0, 6), "vs_eager_on_calibration": _vs(0.7, 32, 0.5, 16)})
    (rec,) = recommend([fp32, bad], max_drop=0.01)
    assert rec.fastest.variant == "fp32"
    why = {c.variant: w for c, w in rec.losers}
    assert why["int8"].startswith("too inaccurate: 50.0% drop > 1.0% budget") and "ranges are wrong" in why["int8"]


def ok_candidate(rec, variant):
    return next(c for c in (rec.fastest, rec.smallest, *(c for c, _ in rec.losers)) if c.variant == variant)


def test_no_decided_input_is_unknown_quality_not_rejected_nor_claimed_within_budget():
    fp32 = _art_run("a", "fp32", 0.9, parity={"vs_eager": _vs(1.0, 8, None, 0)})
    int8 = _art_run("a", "int8", 0.5, size_mb=2.5, sha="1" * 64,
                    parity={"vs_eager": _vs(0.75, 8, None, 0), "vs_eager_on_calibration": _vs(0.8, 32, None, 0)})
    (rec,) = recommend([fp32, int8], max_drop=0.01)
    c = ok_candidate(rec, "int8")
    assert c.excluded is None and c.drop is None and c.unknown
    assert "accuracy drop unknown: eager undecided on all parity inputs; measure with run --dataset DIR" in c.unknown
    assert rec.fastest is c and "within a 1.0% accuracy drop" not in rec.sentence.split("ship a int8")[1].split(";")[0]
    assert "accuracy drop unknown" in rec.sentence
    assert "a fp32" in rec.sentence  # the fastest known within budget is named too
    rows = {r["variant"]: r for r in table([rec])}
    assert "accuracy drop unknown" in rows["int8"]["why"] and rows["int8"]["drop"] is None
    assert ok_candidate(rec, "fp32").drop == 0.0  # fp32 is the reference even with no decided input


def test_old_parity_without_decided_keys_keeps_all_inputs_agreement():
    fp32 = _art_run("a", "fp32", 3.0, parity={"vs_eager": {"top1_agreement": 1.0, "n": 8, "sqnr_db": 60.0}})
    int8 = _art_run("a", "int8", 1.5, sha="1" * 64,
                    parity={"vs_eager": {"top1_agreement": 0.625, "n": 8, "sqnr_db": 12.0}})
    (rec,) = recommend([fp32, int8], max_drop=0.01)
    assert rec.fastest.variant == "fp32"
    assert ok_candidate(rec, "int8").excluded.startswith("too inaccurate: 37.5% drop")


def test_speedup_is_against_the_fastest_fp32_and_the_same_format_and_delegate():
    vs = {"vs_eager": _vs(1.0, 8, 1.0, 4)}
    runs = [_art_run("b", "fp32", 16.8, delegate="none", parity=vs, sha="2" * 64),
            _art_run("b", "fp32", 3.27, delegate="xnnpack", parity=vs, sha="2" * 64),
            _art_run("a", "fp32", 3.0, parity=vs, sha="3" * 64),
            _art_run("b", "int8", 1.5, delegate="xnnpack", parity=vs, sha="4" * 64, size_mb=2.5)]
    (rec,) = recommend(runs, max_drop=0.01)
    assert rec.fastest.format == "b" and rec.fastest.variant == "int8"
    assert "2.00× the fastest fp32 (a fp32" in rec.sentence
    assert "2.18× b fp32 via xnnpack" in rec.sentence
    assert "11.2" not in rec.sentence


def test_recommendation_names_the_file_and_delegate_and_failures_read_cleanly():
    vs = {"vs_eager": _vs(1.0, 8, 1.0, 4)}
    runs = [_art_run("b", "int8", 1.5, folder="art", delegate="xnnpack", parity=vs, sha="a" * 64),
            _art_run("b", "int8", 1.4, folder="artcal", delegate="xnnpack", parity=vs, sha="b" * 64),
            _art_run("b", "int8", None, folder="art", delegate="gpu", parity=vs, sha="a" * 64,
                     status=Status.RUN_FAILED, err=ErrorInfo("args", "unknown delegate 'gpu'"))]
    (rec,) = recommend(runs, max_drop=0.01)
    assert "artcal/m/m-int8.b" in rec.sentence and "sha256 bbbbbbbb" in rec.sentence and "via xnnpack" in rec.sentence
    assert rec.sentence.count("(") == rec.sentence.count(")")
    rows = table([rec])
    assert {r["artifact"] for r in rows if r["delegate"] == "xnnpack"} == {"b int8 (art/m)", "b int8 (artcal/m)"}
    assert all(r["delegate"] for r in rows) and rows[0]["path"] == "artcal/m/m-int8.b"
    failed = next(r for r in rows if r["delegate"] == "gpu")
    assert failed["why"] == "failed (RUN_FAILED, args: unknown delegate 'gpu')"
