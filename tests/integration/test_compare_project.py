"""`edgebench compare --project`: projected columns sit beside the measured ones, labelled as
projected, stored as their own rows, and never change a measured number."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from edgebench.results import ArtifactInfo, LatencyStats, RunResult, Status, Store


def _measured(p50: float, variant: str = "fp32") -> RunResult:
    return RunResult(
        model="mobilenet_v3_small", format="tflite", variant=variant, target="local", status=Status.OK,
        spec={"bench": {"threads": 1}},
        environment={"host": {"cpu_model": "AMD EPYC 7B13", "arch": "x86_64", "cores": 2}},
        artifact=ArtifactInfo(path="m.tflite", format="tflite", variant=variant, size_bytes=10_000_000,
                              params=2_542_856, macs=56_510_400),
        latency=LatencyStats(50, p50, 0.1, p50 * 0.9, p50, p50 * 1.1, p50 * 1.2, p50 * 1.3, 0.1, 0.02,
                             p50 * 0.98, p50 * 1.02, 0),
    )


def _compare(db, *args):
    return subprocess.run([sys.executable, "-m", "edgebench", "--db", str(db), "compare", *args],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "250"})


def test_compare_project_adds_labelled_columns_and_stores_rows(db):
    with Store(db) as store:
        fp32, int8 = _measured(2.5), _measured(7.2, "int8")
        store.add(fp32)
        store.add(int8)
    r = _compare(db, "--project", "--tiers", "low,mid", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = {row["variant"]: row for row in json.loads(r.stdout)}
    assert rows["fp32"]["p50_ms"] == 2.5 and rows["int8"]["p50_ms"] == 7.2  # measured, untouched
    for row in rows.values():
        low, mid = row["proj:low:1-big:point_ms"], row["proj:mid:1-big:point_ms"]
        assert low > mid > row["p50_ms"]  # a low-tier phone core is slower than a mid one, both than this desktop
        assert row["proj:low:1-big:low_ms"] < low < row["proj:low:1-big:high_ms"]
    with Store(db) as store:
        stored = store.projections(fp32.run_id)
        assert {(p.profile, p.threads) for p in stored} == {(t, s) for t in ("low", "mid") for s in ("1-big", "all-big")}
        assert all(p.run_id == fp32.run_id for p in stored)
    # a second call reuses the stored projections instead of adding more
    assert _compare(db, "--project", "--tiers", "low,mid", "--format", "json").returncode == 0
    with Store(db) as store:
        assert len(store.projections(fp32.run_id)) == 4
    table = _compare(db, "--project", "--tiers", "mid", "--format", "markdown").stdout
    header = table.splitlines()[0]
    assert "mid 1-big ms — projected (" in header and "p50 ms [95% CI]" in header
    plain = _compare(db, "--format", "markdown").stdout
    assert "projected" not in plain
