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
