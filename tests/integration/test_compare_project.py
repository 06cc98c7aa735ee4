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
        model="mobilenet_v3_small", format="fmt-a", variant=variant, target="local", status=Status.OK,
        spec={"bench": {"threads": 1}},
        environment={"host": {"cpu_model": "AMD EPYC 7B13", "arch": "x86_64", "cores": 2}},
        artifact=ArtifactInfo(path="m.model", format="fmt-a", variant=variant, size_bytes=10_000_000,
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


def test_project_paired_times_the_artifact_beside_a_reference_and_anchors_on_its_rows(db, tmp_path, monkeypatch,
                                                                                        tiny_zoo_entry, tiny_cnn):
    """`edgebench project --run`: the artifact is timed interleaved with a reference exported from
    the zoo into the cache, and the pi4 projection is ratio × pi4's published ResNet18 row."""
    import math

    import torch

    from edgebench.cli import main
    from edgebench.exporters import registry
    from edgebench.profiles import references

    fmt = next(n for n in registry.names() if registry.get(n).extension == ".pt")
    monkeypatch.setattr(registry.get(fmt), "runtime", "torch", raising=False)  # the plug-in's runtime (formats branch)
    monkeypatch.setattr(references, "CACHE_DIR", tmp_path / "references")
    path = tmp_path / "tiny.pt"
    torch.jit.trace(tiny_cnn, torch.randn(1, 3, 32, 32)).save(str(path))
    run = RunResult(
        model="tiny_cnn", format=fmt, variant="fp32", target="local", status=Status.OK,
        spec={"bench": {"threads": 1, "input_shape": [1, 3, 32, 32]}},
        environment={"host": {"cpu_model": "AMD EPYC", "arch": "x86_64", "cores": 2}},
        artifact=ArtifactInfo(path=str(path), format=fmt, variant="fp32",
                              manifest={"source": {"kind": "zoo", "name": "tiny_cnn"}, "model": "tiny_cnn",
                                        "input_spec": {"shape": [1, 3, 32, 32]}}),
        latency=LatencyStats(50, 0.5, 0.01, 0.45, 0.5, 0.55, 0.6, 0.7, 0.01, 0.02, 0.49, 0.51, 0))
    with Store(db) as store:
        store.add(run)
    with __import__("pytest").raises(SystemExit) as ex:
        main(["--db", str(db), "project", "--run", run.run_id, "--tiers", "pi4", "--rounds", "3", "-o", "json"])
    assert ex.value.code in (0, None)
    assert list((tmp_path / "references").rglob("resnet18-224-fp32*"))  # exported once, cached
    with Store(db) as store:
        stored = {p.threads: p for p in store.projections(run.run_id)}
    all_big, one = stored["all-big"], stored["1-big"]
    assert all_big.method.endswith("(device-rows)") and one.method.endswith("(device-rows+threads)")
    (anchor,) = all_big.details["anchors"]
    assert anchor["reference"] == "resnet18@224" and anchor["row"]["latency_ms"] == 100.3
    assert "realtime_rpi" in anchor["row"]["source"]
    ratio = all_big.details["host_ratios"]["resnet18@224"]["ratio"]
    assert 0 < ratio < 1  # a 0.4 M-MAC CNN against a 1.8 G-MAC ResNet18, timed side by side
    assert all_big.point_ms == __import__("pytest").approx(ratio * 100.3 * math.exp(anchor["correction_log"]))
    assert len(all_big.details["paired"]["round_medians_ms"]["user"]) == 3
