"""ExecuTorch (.pte) end to end on the tiny CNN: real torch.export → XNNPACK lowering → .pte, parity
through the runner's executorch runtime, `edgebench run` timing it, and the reasons given when
the runtime is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebench.exporters import export, registry
from edgebench.exporters.manifest import read_manifest
from edgebench.exporters.parity import FP32_MIN_SQNR_DB
from edgebench.results import Status
from edgebench.runner import RUNTIMES
from edgebench.runner.batch import run_batch
from edgebench.runner.errors import RunnerError
from edgebench.spec import ExportSpec, ModelSpec, Variant

FMT = "executorch"
EXPORTER = registry.get(FMT)
RUNTIME = RUNTIMES[EXPORTER.runtime]
pytestmark = pytest.mark.skipif(EXPORTER.unavailable_reason() is not None or RUNTIME.unavailable_reason() is not None,
                                reason=str(EXPORTER.unavailable_reason() or RUNTIME.unavailable_reason()))

EDGEBENCH = str(Path(sys.executable).with_name("edgebench"))
FAST = ["--warmup", "2", "--warmup-seconds", "0", "--runs", "15", "--min-seconds", "0.05"]


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """fp32 + int8 with the XNNPACK partitioner, and fp32 on the portable kernels only."""
    import importlib.util

    loader = importlib.util.spec_from_file_location("_edgebench_root_conftest",
                                                    Path(__file__).parents[1] / "conftest.py")
    root_conftest = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(root_conftest)
    from edgebench.models.input_spec import InputSpec
    from edgebench.models.zoo import ZooEntry, zoo

    def build(num_classes: int):
        import torch

        torch.manual_seed(0)
        return root_conftest.make_tiny_cnn(num_classes)

    zoo.add("tiny_cnn", ZooEntry("tiny_cnn", build, InputSpec(shape=(1, 3, 32, 32), num_classes=10), "t", "tests"))
    out = tmp_path_factory.mktemp("et")
    try:
        base = dict(formats=(FMT,), calibration_samples=16, parity_samples=8)
        xnn = export(ModelSpec("tiny_cnn"), ExportSpec(out_dir=out / "xnnpack", **base),
                     variants=[Variant(precision="fp32"), Variant(precision="int8")])
        portable = export(ModelSpec("tiny_cnn"), ExportSpec(out_dir=out / "portable",
                                                            format_options={FMT: {"partitioner": "none"}}, **base))
    finally:
        zoo.remove("tiny_cnn")
    result = {("xnnpack", r.variant): r for r in xnn} | {("none", r.variant): r for r in portable}
    for row in result.values():
        assert row.status == Status.OK, row.error
    return result


def test_fp32_matches_eager_through_the_timed_runtime(rows):
    for key in (("xnnpack", "fp32"), ("none", "fp32")):
        eager = rows[key].parity["vs_eager"]
        assert eager["n"] == 8 and eager["sqnr_db"] >= FP32_MIN_SQNR_DB, (key, eager)
        assert eager["top1_agreement"] == 1.0


def test_int8_is_quantized_and_agrees_with_eager(rows):
    row = rows[("xnnpack", "int8")]
    manifest = read_manifest(Path(row.artifact.path))
    q = manifest["quantization"]
    assert q["mode"] == "static" and q["per_channel"] is True and q["calibration_samples"] == 16
    # float32 I/O: quantize / dequantize live inside the program
    assert manifest["inputs"][0]["dtype"] == "float32" and manifest["inputs"][0]["scale"] is None
    eager = row.parity["vs_eager"]
    assert 15 < eager["sqnr_db"] < FP32_MIN_SQNR_DB  # really quantized, still tracking eager
    assert eager["top1_agreement"] >= 0.75


def test_manifest_records_partitioner_and_delegation(rows):
    fp32 = read_manifest(Path(rows[("xnnpack", "fp32")].artifact.path))
    assert fp32["export_options"]["partitioner"] == "xnnpack"
    d = fp32["details"]
    assert d["partitioner"] == "xnnpack" and d["delegated_subgraphs"] == 1
    # every conv / relu / pool / linear of the tiny CNN goes to XNNPACK
    assert d["delegated_nodes"] >= 9 and d["portable_nodes"] == 0 and d["portable_ops"] == {}
    int8 = read_manifest(Path(rows[("xnnpack", "int8")].artifact.path))["details"]
    assert int8["delegated_nodes"] > d["delegated_nodes"]  # + the quantize / dequantize nodes
    portable = read_manifest(Path(rows[("none", "fp32")].artifact.path))
    p = portable["details"]
    assert portable["export_options"]["partitioner"] == "none"
    assert p["delegated_nodes"] == 0 and p["delegated_subgraphs"] == 0
    assert p["portable_nodes"] == sum(p["portable_ops"].values()) >= 9
    assert any("convolution" in op for op in p["portable_ops"])


def test_runtime_reads_the_program_and_names_its_delegate(rows):
    path = rows[("xnnpack", "fp32")].artifact.path
    rt = RUNTIME(path, None, None)
    rt.load()
    assert rt.inputs() == [{"name": "input", "shape": [1, 3, 32, 32], "dtype": "float32",
                            "scale": None, "zero_point": None}]
    assert rt.threads_used >= 1 and rt.delegate == f"XnnpackBackend, {rt.threads_used} threads"
    assert EXPORTER.file_input_shape(Path(path)) == (1, 3, 32, 32)
    portable = RUNTIME(rows[("none", "fp32")].artifact.path, rt.threads_used, None)
    assert portable.delegate == f"portable kernels, {rt.threads_used} threads"
    # the pool is process-wide and a loaded method holds it: another size is refused, not applied
    with pytest.raises(RunnerError) as err:
        RUNTIME(path, rt.threads_used + 1, None)
    assert err.value.stage == "runtime" and "its own process" in err.value.hint


def test_a_wrong_input_shape_is_an_input_error(rows):
    with pytest.raises(RunnerError) as err:
        run_batch(FMT, rows[("xnnpack", "fp32")].artifact.path, [[np.zeros((1, 3, 64, 64), np.float32)]])
    assert err.value.stage == "input" and "1x3x32x32" in err.value.hint


def test_a_broken_file_is_a_load_error(tmp_path):
    bad = tmp_path / "broken.pte"
    bad.write_bytes(b"not a program")
    with pytest.raises(RunnerError) as err:
        run_batch(FMT, bad, [[np.zeros((1, 3, 32, 32), np.float32)]])
    assert err.value.stage == "load" and "broken.pte" in err.value.message and "\n" not in err.value.message


def eb(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EDGEBENCH, "--db", str(db), *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("threads", [1, 2])
def test_edgebench_run_measures_the_pte_with_the_threads_asked(rows, tmp_path, threads):
    db = tmp_path / "r.db"
    proc = eb(db, "run", rows[("xnnpack", "fp32")].artifact.path, "--threads", str(threads), *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "cpuinfo" not in proc.stderr
    (row,) = json.loads(eb(db, "compare", "-o", "json").stdout)
    assert row["status"] == "OK" and row["format"] == FMT and row["p50_ms"] > 0 and row["n"] >= 15
    from edgebench.results import Store

    with Store(db) as store:
        rec = store.get(row["run_id"])
    raw = rec.samples
    assert raw["runtime"] == "executorch" and raw["threads"] == threads
    assert raw["delegate"] == f"XnnpackBackend, {threads} threads"


@pytest.mark.parametrize("machine,python,no_wheel", [
    ("armv7l", "3.11", "executorch publishes no wheel for armv7l"),
    ("aarch64", "3.9", "executorch publishes no wheel for Python 3.9 (needs >= 3.10)"),
    ("aarch64", "3.11", None),
])
def test_ssh_doctor_says_where_there_is_no_executorch_wheel(machine, python, no_wheel):
    from edgebench.targets import resolve

    target = resolve("ssh:pi@192.0.2.1")
    target._probe = {"python": python + ".2", "py_tag": python, "machine": machine, "system": "Linux",
                     "platform": "linux", "modules": {"numpy": "1.26.4"}, "free_bytes": 2**30,
                     "executable": "/usr/bin/python3"}
    rows = {name: (ok, detail) for name, ok, detail in target.doctor()}
    ok, detail = rows["executorch"]
    assert not ok
    if no_wheel:
        assert detail.startswith(f"not installed: {no_wheel}") and "executorch" not in rows["install"][1]
        assert no_wheel in target.why_not(FMT)
    else:
        assert detail == "not installed" and "executorch" in rows["install"][1]
        assert "pip install" in target.why_not(FMT)


@pytest.mark.parametrize("attr,value", [("module", ("edgebench_no_such_executorch",)),
                                        ("requires", ("edgebench_no_such_torch",))])
def test_missing_runtime_is_a_reason_not_a_crash(monkeypatch, attr, value):
    from edgebench.targets import resolve

    monkeypatch.setattr(RUNTIME, attr, value[0] if attr == "module" else value)
    reason = RUNTIME.unavailable_reason()
    assert reason == f"{value[0]} is not installed: {RUNTIME.install_hint}"
    assert "edgebench[executorch]" in reason and "pip install executorch torch" in reason
    assert EXPORTER.runnable_reason() == reason  # the manifest says why parity could not run
    local = resolve("local")
    assert FMT not in local.runtimes and local.why_not(FMT) == reason
