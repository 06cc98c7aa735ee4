"""ONNX Runtime execution providers by name (issue 14): ``--delegate`` picks one of
``get_available_providers()``, an unknown name lists them, and the RawSamples carry the per-node
provider assignment from a profiled run."""

from __future__ import annotations

import json
import subprocess
import sys
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


EDGEBENCH = str(Path(sys.executable).with_name("edgebench"))
CLI_FAST = ["--threads", "1", "--warmup", "1", "--warmup-seconds", "0", "--runs", "5", "--min-seconds", "0"]


def _eb(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EDGEBENCH, "--db", str(db), *args], capture_output=True, text=True, timeout=300)


def _stored(db: Path) -> list:
    from edgebench.results import Store

    if not db.exists():
        return []
    with Store(db) as store:
        return store.results()


def test_default_and_named_cpu_delegate_are_one_identity(tiny_onnx, tmp_path):
    """No flag, ``--delegate CPU`` and ``--delegate CPUExecutionProvider`` measure the same thing:
    one spec hash in the store and one compare row, named ``cpu``."""
    db = tmp_path / "r.db"
    for extra in ([], ["--delegate", "CPU"], ["--delegate", "CPUExecutionProvider"]):
        proc = _eb(db, "run", str(tiny_onnx), *CLI_FAST, *extra)
        assert proc.returncode == 0, proc.stderr
    stored = _stored(db)
    assert len(stored) == 3 and len({r.spec_hash for r in stored}) == 1
    assert all(r.spec["bench"].get("delegate") is None for r in stored)
    rows = json.loads(_eb(db, "compare", "-o", "json").stdout)
    assert [(r["model"], r["delegate"], r["hidden_runs"]) for r in rows] == [("tiny cnn;x'", "cpu", 2)]


@pytest.mark.parametrize("name", ["bogus", "xnnpack"])
def test_unknown_delegate_exits_2_before_measuring_and_stores_nothing(tiny_onnx, tmp_path, name):
    db = tmp_path / "r.db"
    proc = _eb(db, "run", str(tiny_onnx), *CLI_FAST, "--delegate", name)
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
    assert errors == [f"error config: unknown delegate {name!r} for onnxruntime on local — available here: "
                      + ", ".join(["cpu"] + sorted({p.replace("ExecutionProvider", "").lower()
                                                    for p in ort.get_available_providers()} - {"cpu"}))]
    assert "measuring" not in proc.stderr and proc.stdout == "" and "Traceback" not in proc.stderr
    assert _stored(db) == []
