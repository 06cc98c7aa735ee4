"""LiteRT delegate axis and coverage (issue 14) through the runner's command line, the CLI, and the
exporter's int8 graph for MobileNetV3-Small (one XNNPACK partition, no float ADD/MUL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebench.runner.protocol import main as runner_main

pytest.importorskip("ai_edge_litert")
ROOT = Path(__file__).parents[2]
SCHEMA = ROOT / "edgebench" / "runner" / "raw_samples.schema.json"
FAST = ["--warmup-runs", "1", "--warmup-seconds", "0", "--runs", "3", "--min-seconds", "0", "--threads", "1"]


def _run(model: Path, out: Path, *extra: str) -> tuple[int, dict]:
    code = runner_main([str(model), "--runtime", "litert", "--json", str(out), *FAST, *extra])
    return code, json.loads(out.read_text())


def test_xnnpack_and_none_differ_in_delegation(tiny_tflite, tmp_path):
    import jsonschema

    code, xnn = _run(tiny_tflite, tmp_path / "x.json")
    assert code == 0, xnn["error"]
    d = xnn["delegation"]
    assert d["delegate"] == "xnnpack" and xnn["delegate"] == "XNNPACK"
    assert d["total_nodes"] > 0 and d["delegated_nodes"] == d["total_nodes"]
    assert d["partitions"] == 1 and d["fallback_ops"] == {}
    code, none = _run(tiny_tflite, tmp_path / "n.json", "--delegate", "none")
    assert code == 0, none["error"]
    n = none["delegation"]
    assert none["delegate"] is None and n["delegate"] == "none"
    assert (n["delegated_nodes"], n["partitions"]) == (0, 0)
    assert n["total_nodes"] == d["total_nodes"] and sum(n["fallback_ops"].values()) == n["total_nodes"]
    assert n["ops"] == d["ops"]  # the same model, only who runs it differs
    for data in (xnn, none):
        jsonschema.validate(data, json.loads(SCHEMA.read_text()))


def test_unknown_delegate_lists_the_available_ones(tiny_tflite, tmp_path):
    code, data = _run(tiny_tflite, tmp_path / "u.json", "--delegate", "gpu")
    assert code == 1 and data["status"] == "error"
    assert data["error"] == {"stage": "args", "message": "unknown delegate 'gpu' for litert",
                             "hint": "available here: xnnpack, none"}


def test_run_cli_delegate_none_and_unknown(tiny_tflite, tmp_path):
    base = [sys.executable, "-m", "edgebench", "--db", str(tmp_path / "r.db"), "run", str(tiny_tflite), "--runs", "3", "--warmup", "1",
            "--min-seconds", "0", "--warmup-seconds", "0", "--threads", "1", "-o", "json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([*base, "--delegate", "none"], capture_output=True, text=True, timeout=300, env=env,
                        cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    (row,) = json.loads(ok.stdout)
    assert row["delegate"] == "none" and row["delegation"].startswith("delegated 0/")
    bad = subprocess.run([*base, "--delegate", "gpu"], capture_output=True, text=True, timeout=300, env=env,
                         cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    errors = [ln for ln in bad.stderr.splitlines() if ln.startswith("error")]
    assert errors == ["error config: unknown delegate 'gpu' for litert on local — available here: xnnpack, none"]
    assert bad.stdout == "" and "measuring" not in bad.stderr  # refused before measuring: no table, no row
    for named in ([], ["--delegate", "XNNPACK"]):  # the default, by name or not: one identity
        assert subprocess.run([*base, *named], capture_output=True, text=True, timeout=300, env=env,
                              cwd=tmp_path).returncode == 0
    compare = subprocess.run([*base[:5], "compare", "-o", "json"], capture_output=True, text=True, timeout=300,
                             env=env, cwd=tmp_path)
    rows = json.loads(compare.stdout)
    assert sorted((r["delegate"], r["status"], r["hidden_runs"]) for r in rows) == [("none", "OK", 0),
                                                                                     ("xnnpack", "OK", 1)]


@pytest.mark.slow
def test_mobilenet_v3_small_int8_is_one_int8_partition(tmp_path):
    """The default static int8 path (PT2E, relu6-form hard activations): every node in one XNNPACK
    partition and no ADD / MUL computing in float between DEQUANTIZE and QUANTIZE."""
    pytest.importorskip("litert_torch")
    from ai_edge_litert.interpreter import Interpreter

    from edgebench.exporters import export
    from edgebench.spec import ExportSpec, ModelSpec, Variant

    (row,) = export(ModelSpec(name="mobilenet_v3_small"),
                    ExportSpec(formats=("tflite",), variant=Variant(precision="int8"), out_dir=tmp_path,
                               calibration_samples=4, parity_samples=2))
    assert row.artifact is not None, row.error
    assert row.artifact.manifest["quantization"]["hard_activations_rewritten"] == 28
    code, data = _run(Path(row.artifact.path), tmp_path / "r.json")
    assert code == 0, data["error"]
    d = data["delegation"]
    assert d["partitions"] == 1 and d["fallback_ops"] == {} and d["delegated_nodes"] == d["total_nodes"]
    it = Interpreter(model_path=row.artifact.path)
    it.allocate_tensors()
    float_arith = [o["op_name"] for o in it._get_ops_details()
                   if o["op_name"] in ("ADD", "MUL") and o["result_types"][0] == np.float32]
    assert float_arith == []
