"""Result records round-trip through JSON and the SQLite store; every write is committed at once."""

from __future__ import annotations

import sqlite3

from edgebench.results import (ArtifactInfo, ErrorInfo, LatencyStats, Projection, RunResult, Status,
                               Store, load, load_projections)
from edgebench.results.model import from_json, to_json


def _full_result(**kw) -> RunResult:
    base = dict(
        model="mobilenet_v3_small", format="onnx", variant="int8", target="local", status=Status.OK,
        spec_hash="abc123", spec={"bench": {"runs": 50}},
        environment={"host": {"cpu": "x", "cores": 2}},
        artifact=ArtifactInfo(path="a.onnx", format="onnx", variant="int8", size_bytes=10, gzip_bytes=8,
                              sha256="f" * 64, params=5, nonzero_params=4, macs=100,
                              manifest={"inputs": [{"name": "x", "shape": [1, 3]}]}),
        samples={"iterations_ms": [1.0, 2.0]},
        latency=LatencyStats(2, 1.5, 0.7, 1.0, 1.5, 1.9, 2.0, 2.0, 0.5, 0.47, 1.0, 2.0, 0),
        first_inference_ms=3.0, load_ms=4.0, memory={"peak_rss_bytes": 1000},
        accuracy={"accuracy": 0.5}, parity={"vs_eager": {"sqnr_db": 40.0}},
        timings_s={"run": 1.2}, warnings=("too few runs",),
    )
    base.update(kw)
    return RunResult(**base)


def test_run_result_json_round_trip():
    r = _full_result()
    assert from_json(to_json(r)) == r


def test_failed_result_round_trip():
    r = RunResult(model="m", format="tflite", variant="fp32", target="adb:pixel", status=Status.RUN_FAILED,
                  error=ErrorInfo("run", "runner crashed (signal 11)", "see detail", "stderr tail"))
    assert from_json(to_json(r)) == r


def test_projection_round_trip():
    p = Projection(run_id="r1", profile="mid", tier="mid", threads="1-big", point_ms=10.0, low_ms=7.0,
                   high_ms=14.0, method="roofline+calibration", details={"residual_sd": 0.2})
    assert from_json(to_json(p)) == p


def test_unknown_fields_from_a_newer_writer_are_ignored():
    r = _full_result()
    d = r.to_dict()
    d["some_future_field"] = 1
    assert RunResult.from_dict(d) == r


def test_store_writes_immediately_and_loads(db):
    store = Store(db)
    r1 = _full_result()
    store.add(r1)
    # another connection sees the row before this store is closed: it was committed at once
    rows = sqlite3.connect(db).execute("SELECT run_id, status FROM results").fetchall()
    assert rows == [(r1.run_id, "OK")]
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    r2 = _full_result(variant="fp32", spec_hash="def456", status=Status.RUN_FAILED)
    store.add(r2)
    store.add(Projection(run_id=r1.run_id, profile="low", tier="low", threads="all-big",
                         point_ms=30.0, low_ms=20.0, high_ms=45.0, method="m"))
    assert store.results() == [r1, r2]
    assert store.get(r1.run_id[:20]) == r1
    assert store.find_spec("abc123") == r1
    assert store.find_spec("def456") is None  # a failed cell is not "done": a sweep re-runs it
    store.close()
    df = load(db)
    assert list(df["variant"]) == ["int8", "fp32"]
    assert "latency.p50_ms" in df.columns and "samples" not in df.columns
    assert df.loc[0, "latency.p50_ms"] == 1.5
    pdf = load_projections(db)
    assert list(pdf["point_ms"]) == [30.0]
    assert "point_ms" not in df.columns  # projections never mix into measured rows


def test_empty_store_loads_empty_frame(db):
    assert load(db).empty
