"""The store-like sink: stored first, then every listener; a sweep name lands in the record's spec."""

from __future__ import annotations

import pytest

from edgebench.results import Store
from edgebench.results.model import Projection, RunResult, Status
from edgebench.results.sink import Sink


def test_records_are_stored_before_listeners_see_them_and_tagged_with_the_sweep(db):
    seen = []
    with Sink(Store(db), [lambda r: seen.append((r, len(store_ids(db))))], sweep="nightly") as sink:
        run = RunResult(model="m", format="f", variant="fp32", target="local", status=Status.OK, spec={"a": 1})
        sink.add(run)
        proj = Projection(run_id=run.run_id, profile="mid", tier="mid", threads="all-big", point_ms=1.0,
                          low_ms=0.5, high_ms=2.0, method="x")
        sink.add(proj)
        assert sink.get(run.run_id).spec == {"a": 1, "sweep": "nightly"}  # reads pass through to the store
        assert sink.path == db
    assert [n for _, n in seen] == [1, 1]
    assert seen[0][0].spec["sweep"] == "nightly" and seen[1][0] is proj


def test_a_failing_listener_leaves_the_record_stored(db):
    def boom(_):
        raise RuntimeError("listener down")

    run = RunResult(model="m", format="f", variant="fp32", target="local", status=Status.OK)
    with Sink(Store(db), [boom]) as sink:
        with pytest.raises(RuntimeError):
            sink.add(run)
    assert store_ids(db) == [run.run_id]


def store_ids(db) -> list[str]:
    with Store(db) as s:
        return [r.run_id for r in s.results()]
