"""ONNX Runtime execution providers by name (issue 14): ``--delegate`` picks one of
``get_available_providers()``, an unknown name lists them, and the RawSamples carry the per-node
provider assignment from a profiled run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgebench.runner.protocol import main as runner_main

ort = pytest.importorskip("onnxruntime")
FAST = ["--warmup-runs", "1", "--warmup-seconds", "0", "--runs", "3", "--min-seconds", "0", "--threads", "1"]


def _run(model: Path, out: Path, *extra: str) -> tuple[int, dict]:
    code = runner_main([str(model), "--runtime", "onnxruntime", "--json", str(out), *FAST, *extra])
    return code, json.loads(out.read_text())


@pytest.mark.parametrize("name", [None, "cpu", "CPUExecutionProvider"])
def test_cpu_provider_coverage_from_the_profile(tiny_onnx, tmp_path, name):
    code, data = _run(tiny_onnx, tmp_path / "r.json", *(["--delegate", name] if name else []))
    assert code == 0, data["error"]
    d = data["delegation"]
    assert data["delegate"] == "CPUExecutionProvider" and d["delegate"] == "cpu"
    assert d["total_nodes"] > 0 and d["delegated_nodes"] == d["total_nodes"] and d["partitions"] is None
    assert d["fallback_ops"] == {} and sum(d["ops"].values()) == d["total_nodes"]
    assert "Conv" in d["ops"] and set(d["op_ms"]) <= set(d["ops"])


def test_unknown_provider_lists_the_available_ones(tiny_onnx, tmp_path):
    code, data = _run(tiny_onnx, tmp_path / "u.json", "--delegate", "no-such-ep")
    assert code == 1 and data["error"]["stage"] == "args"
    assert data["error"]["message"] == "unknown delegate 'no-such-ep' for onnxruntime"
    offered = data["error"]["hint"].removeprefix("available here: ").split(", ")
    assert offered[0] == "cpu"
    assert {p.replace("ExecutionProvider", "").lower() for p in ort.get_available_providers()} <= set(offered)
