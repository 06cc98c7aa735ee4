"""Pure parts of the HTML report: the Pareto front and the choice of the quality axis."""

from __future__ import annotations

from edgebench.results.report import pareto_front, quality_axis


def test_pareto_front_keeps_what_nothing_beats():
    pts = [(10.0, 0.99), (4.0, 0.90), (5.0, 0.95), (6.0, 0.93), (4.0, 0.80), (12.0, 0.99), (20.0, 1.0)]
    # (6, .93) is beaten by (5, .95); (4, .80) by (4, .90); (12, .99) by (10, .99)
    assert pareto_front(pts) == [1, 2, 0, 6]
    assert pareto_front([]) == []
    assert pareto_front([(1.0, 0.5), (1.0, 0.5)]) == [0]


def test_quality_axis_prefers_accuracy_then_agreement_then_sqnr():
    acc = {"quality_accuracy": 0.7, "quality_top1_agreement": 1.0}
    agr = {"quality_top1_agreement": 0.9, "quality_sqnr_db": 30.0}
    sq = {"quality_sqnr_db": 20.0}
    assert quality_axis([acc, acc]).key == "quality_accuracy"
    assert quality_axis([acc, agr]).key == "quality_top1_agreement"  # the measure every row has
    assert quality_axis([agr, sq]).key == "quality_sqnr_db"
    assert quality_axis([acc, {}]).key == "quality_accuracy"  # else the first any row has
    assert quality_axis([{}]) is None


def test_run_table_and_bars_tell_delegates_and_files_apart():
    """Two `onnx fp32` runs on different delegates and two `int8` files in different folders: the
    run table has a delegate column, every bar label is distinct and names the delegate, and the
    plots stay one chart per model (not one per label)."""
    from edgebench.results.model import ArtifactInfo, LatencyStats, RunResult, Status
    from edgebench.results.report import context

    def run(variant, p50, delegate, folder="art", sha="0"):
        lat = LatencyStats(n=50, mean_ms=p50, std_ms=0.1, min_ms=p50, p50_ms=p50, p90_ms=p50, p99_ms=p50,
                           max_ms=p50, iqr_ms=0.1, cv=0.01, median_ci_low_ms=p50, median_ci_high_ms=p50, outliers=0)
        art = ArtifactInfo(path=f"{folder}/m/m-{variant}.x", format="x", variant=variant, size_bytes=10 ** 6,
                           sha256=sha * 64)
        return RunResult(model="m", format="x", variant=variant, target="local", status=Status.OK, artifact=art,
                         latency=lat, memory={"peak_rss_bytes": 10 ** 8},
                         samples={"delegation": {"delegate": delegate}},
                         parity={"vs_eager": {"top1_agreement": 1.0, "n": 8, "sqnr_db": 60.0}})

    runs = [run("fp32", 4.0, "cpu"), run("fp32", 3.0, "azure"), run("int8", 1.5, "cpu", sha="1"),
            run("int8", 1.4, "cpu", folder="artcal", sha="2")]
    ctx = context(runs)
    assert sorted(r["delegate"] for r in ctx["rows"]) == ["azure", "cpu", "cpu", "cpu"]
    speed = [b for b in ctx["plots"]["bars"] if "speed-up" in b["title"]]
    assert [b["title"] for b in speed] == ["m on local: speed-up vs fp32"]
    labels = speed[0]["labels"]
    assert len(labels) == 4 and len(set(labels)) == 4 and all(" via " in x for x in labels)
    assert all(x in speed[0]["svg"] for x in labels)
    assert any("artcal/m" in x for x in labels)
    assert len([b for b in ctx["plots"]["bars"] if b["title"].endswith(": size")]) == 1
