"""harness/runner.py on tiny models for each runtime, and every way a run can go wrong.

The artifacts are made here with the converters directly (torch.jit, torch.onnx dynamo,
litert_torch), as a third party would, so these tests do not depend on edgebench's exporters.
They are cached in pytest's cache dir (keyed by the torch version) and shared with test_run_cli.py.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebench.harness import runner
from edgebench.harness.protocol import RUNNER_PATH, SCHEMA_PATH, runner_argv
from edgebench.spec import BenchSpec

FAST = BenchSpec(warmup_runs=2, warmup_seconds=0.0, runs=15, min_seconds=0.05, max_seconds=5.0, threads=1,
                 timeout_seconds=120)
SHAPE = (1, 3, 32, 32)
FILES = {"onnx": "tiny.onnx", "tflite": "tiny.tflite", "torchscript": "tiny.pt", "torch_lite": "tiny.ptl"}


def build_tiny_artifacts(out: Path) -> dict[str, Path]:
    """tiny_cnn as .pt (traced + frozen), .ptl (lite interpreter), .onnx (dynamo) and .tflite
    (litert-torch); each made only if missing. Also ``eager.pt``: the state_dict they came from."""
    import torch

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from conftest import make_tiny_cnn

    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / v for k, v in FILES.items()}
    if all(p.exists() for p in paths.values()) and (out / "eager.pt").exists():
        return paths
    torch.manual_seed(0)
    model = make_tiny_cnn()
    x = torch.randn(*SHAPE)
    torch.save(model.state_dict(), out / "eager.pt")
    traced = torch.jit.trace(model, x)
    torch.jit.freeze(traced).save(str(paths["torchscript"]))
    traced._save_for_lite_interpreter(str(paths["torch_lite"]))
    torch.onnx.export(model, (x,), str(paths["onnx"]), dynamo=True, external_data=False)
    import litert_torch

    litert_torch.convert(model, (x,)).export(str(paths["tflite"]))
    return paths


def eager_model(artifacts_dir: Path):
    import torch

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from conftest import make_tiny_cnn

    model = make_tiny_cnn()
    model.load_state_dict(torch.load(artifacts_dir / "eager.pt", weights_only=True))
    return model.eval()


@pytest.fixture(scope="module")
def tiny(request) -> dict[str, Path]:
    import torch

    cache = Path(request.config.cache.mkdir(f"edgebench-tiny-{torch.__version__}"))
    return build_tiny_artifacts(cache)


def run_runner(model: Path, fmt: str, out: Path, bench: BenchSpec = FAST, env=None, **kw) -> tuple[int, dict, str]:
    argv = runner_argv(sys.executable, str(RUNNER_PATH), str(model), fmt, bench, str(out), **kw)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env)
    data = json.loads(out.read_text()) if out.exists() else None
    return proc.returncode, data, proc.stderr


def validate(data: dict) -> None:
    import jsonschema

    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))


@pytest.mark.parametrize("kind,runtime", [("onnx", "onnxruntime"), ("tflite", "litert"),
                                          ("torchscript", "torchscript"), ("torch_lite", "torch_lite")])
def test_each_runtime_measures_and_returns_outputs(tiny, tmp_path, kind, runtime):
    import torch

    fmt = "torchscript" if kind.startswith("torch") else kind
    inputs = np.random.default_rng(0).standard_normal((3, *SHAPE[1:])).astype(np.float32)
    np.save(tmp_path / "in.npy", inputs)
    bench = FAST if fmt != "torchscript" else BenchSpec(**{**FAST.to_dict(), "input_shape": SHAPE})
    code, data, err = run_runner(tiny[kind], fmt, tmp_path / "r.json", bench,
                                 inputs_npy=str(tmp_path / "in.npy"), outputs_npy=str(tmp_path / "out.npy"))
    assert code == 0, err
    validate(data)
    assert data["status"] == "ok" and data["runner"] == "edgebench.runner" and data["runtime"] == runtime
    assert data["runtime_version"] and data["threads"] == 1
    assert data["input_shapes"] == [list(SHAPE)]
    assert len(data["iterations_ms"]) >= FAST.runs and len(data["warmup_ms"]) >= FAST.warmup_runs
    assert all(t > 0 for t in data["iterations_ms"])
    assert data["load_ms"] > 0 and data["first_inference_ms"] > 0
    mem = data["memory"]
    assert mem["peak_rss_bytes"] >= mem["baseline_rss_bytes"] > 0 and mem["pss_bytes"] > 0
    assert "peak_rss_bytes" in mem["definition"]
    assert data["host"]["cores"] >= 1 and data["host"]["affinity"]
    assert data["device_state"]["before"] and data["device_state"]["after"]
    outputs = np.load(tmp_path / "out.npy")
    with torch.inference_mode():
        expected = eager_model(tiny["onnx"].parent)(torch.from_numpy(inputs)).numpy()
    assert outputs.shape == (3, 10)
    np.testing.assert_allclose(outputs, expected, rtol=1e-3, atol=1e-4)


def test_include_io_times_preprocessing_too(tiny, tmp_path):
    code, data, err = run_runner(tiny["tflite"], "tflite", tmp_path / "r.json",
                                 BenchSpec(**{**FAST.to_dict(), "include_io": True}))
    assert code == 0, err
    validate(data)
    assert data["include_io"] is True and len(data["iterations_ms"]) >= FAST.runs


def test_timed_loop_bounds():
    calls = []
    times = runner._timed_loop(lambda: calls.append(1), 5, 0.0, 10.0)
    assert len(times) == 5  # runs reached, no minimum time
    times = runner._timed_loop(lambda: None, 1, 0.05, 10.0)
    assert len(times) > 1  # kept going until min_seconds
    import time

    times = runner._timed_loop(lambda: time.sleep(0.01), 10_000, 0.0, 0.05)
    assert 1 <= len(times) < 10  # capped by max_seconds


def test_quantized_inputs():
    x = np.array([-1.0, 0.0, 0.5, 10.0], dtype=np.float32)
    q = runner.quantize(x, 0.05, -3, "int8")
    # round(x / 0.05) − 3 = −23, −3, 7, 197 → clipped to 127
    assert q.dtype == np.int8 and q.tolist() == [-23, -3, 7, 127]
    assert runner.dequantize(q, 0.05, -3).tolist() == pytest.approx([-1.0, 0.0, 0.5, 6.5])
    inp = {"name": "x", "shape": [1, 4], "dtype": "uint8", "scale": 0.1, "zero_point": 128}
    assert runner.to_runtime_dtype(x, inp).tolist() == [118, 128, 133, 228]


def test_dynamic_dims_need_an_input_shape():
    dyn = {"name": "x", "shape": [None, 3, None, None]}
    with pytest.raises(runner.RunnerError, match=r"dynamic dims \[\?,3,\?,\?\]"):
        runner.resolve_shape(dyn, None)
    assert runner.resolve_shape(dyn, [1, 3, 64, 48]) == [1, 3, 64, 48]
    assert runner.resolve_shape({"name": "x", "shape": [None, 3, 8, 8]}, None) == [1, 3, 8, 8]  # batch only
    with pytest.raises(runner.RunnerError, match="does not match"):
        runner.resolve_shape(dyn, [1, 1, 64, 48])


def test_runner_is_self_contained_and_python39_syntax():
    src = RUNNER_PATH.read_text()
    tree = ast.parse(src, feature_version=(3, 9))
    top = {a.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for a in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert top - set(sys.stdlib_module_names) == {"numpy"}
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("edgebench")]


# --- bad input -----------------------------------------------------------------------------------

def _error(data: dict) -> dict:
    validate(data)
    assert data["status"] == "error" and data["iterations_ms"] == []
    return data["error"]


@pytest.mark.parametrize("fmt,name", [("onnx", "junk.onnx"), ("tflite", "junk.tflite"), ("torchscript", "junk.pt")])
def test_not_a_model_file(tmp_path, fmt, name):
    path = tmp_path / name
    path.write_bytes(b"this is not a model\n" * 50)
    code, data, err = run_runner(path, fmt, tmp_path / "r.json",
                                 BenchSpec(**{**FAST.to_dict(), "input_shape": SHAPE}))
    assert code == 1
    e = _error(data)
    assert e["stage"] == "load" and "junk" in e["message"] and e["hint"]


def test_missing_model_file(tmp_path):
    code, data, _ = run_runner(tmp_path / "nope.onnx", "onnx", tmp_path / "r.json")
    assert code == 1 and _error(data)["stage"] == "load"


def test_input_shape_mismatch(tiny, tmp_path):
    code, data, _ = run_runner(tiny["onnx"], "onnx", tmp_path / "r.json",
                               BenchSpec(**{**FAST.to_dict(), "input_shape": (1, 3, 64, 64)}))
    e = _error(data)
    assert code == 1 and e["stage"] == "input" and "[1,3,64,64]" in e["message"] and "[1,3,32,32]" in e["message"]


def test_torchscript_needs_an_input_shape(tiny, tmp_path):
    code, data, _ = run_runner(tiny["torchscript"], "torchscript", tmp_path / "r.json")
    e = _error(data)
    assert code == 1 and e["stage"] == "input" and "--input-shape" in e["hint"]


def test_coreml_is_unsupported_on_linux(tmp_path):
    pkg = tmp_path / "m.mlpackage"
    pkg.mkdir()
    code, data, _ = run_runner(pkg, "coreml", tmp_path / "r.json")
    e = _error(data)
    assert code == 1 and e["stage"] == "unsupported" and e["message"] == "unsupported here: CoreML needs macOS"


def _fake_runtime(tmp_path: Path, body: str) -> dict:
    """An environment whose ``onnxruntime`` is a stand-in module (for the runner subprocess only)."""
    import os

    pkg = tmp_path / "fake" / "onnxruntime"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(body)
    return {**os.environ, "PYTHONPATH": str(tmp_path / "fake")}


def test_missing_runtime_says_what_to_install(tiny, tmp_path):
    env = _fake_runtime(tmp_path, "raise ModuleNotFoundError(\"No module named 'onnxruntime'\")\n")
    code, data, _ = run_runner(tiny["onnx"], "onnx", tmp_path / "r.json", env=env)
    e = _error(data)
    assert code == 1 and e["stage"] == "runtime" and "edgebench[onnx]" in e["hint"]


def test_missing_runtime_through_the_harness_is_load_failed(tiny, tmp_path, monkeypatch):
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.results import Status
    from edgebench.targets import resolve

    env = _fake_runtime(tmp_path, "raise ModuleNotFoundError(\"No module named 'onnxruntime'\")\n")
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    r = measure_artifact(from_path(tiny["onnx"]), resolve("local"), FAST)
    assert r.status == Status.LOAD_FAILED and "edgebench[onnx]" in r.error.hint


def test_segfault_is_run_failed_with_stderr_tail(tiny, tmp_path, monkeypatch, db):
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.results import Status, Store
    from edgebench.targets import resolve

    body = ("import os, signal, sys\nprint('native runtime fell over', file=sys.stderr, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setenv("PYTHONPATH", _fake_runtime(tmp_path, body)["PYTHONPATH"])
    with Store(db) as store:
        r = measure_artifact(from_path(tiny["onnx"]), resolve("local"), FAST, store=store)
        assert store.get(r.run_id).status == Status.RUN_FAILED  # stored the moment it existed
    assert r.status == Status.RUN_FAILED
    assert "SIGSEGV" in r.error.message and "native runtime fell over" in r.error.detail


def test_timeout_kills_the_runner(tiny):
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.results import Status
    from edgebench.targets import resolve

    slow = BenchSpec(**{**FAST.to_dict(), "min_seconds": 60.0, "max_seconds": 60.0, "timeout_seconds": 3.0})
    r = measure_artifact(from_path(tiny["onnx"]), resolve("local"), slow)
    assert r.status == Status.TIMEOUT and r.error.stage == "timeout"


@pytest.mark.slow
def test_int8_input_model_is_fed_quantized_and_outputs_dequantized(tmp_path, tiny_zoo_entry):
    """A full-int8 TFLite artifact (int8 input and output tensors) from edgebench's exporter."""
    import torch

    from edgebench.exporters import export
    from edgebench.models import load
    from edgebench.spec import ExportSpec, ModelSpec, Variant

    (r,) = export(ModelSpec(name="tiny_cnn"), ExportSpec(formats=("tflite",), variant=Variant(precision="int8"),
                                                         out_dir=tmp_path / "a", calibration_samples=8))
    assert r.artifact is not None, r.error
    inp = r.artifact.manifest["inputs"][0]
    assert inp["dtype"] == "int8" and inp["scale"]
    x = np.random.default_rng(1).standard_normal((4, *SHAPE[1:])).astype(np.float32)
    np.save(tmp_path / "in.npy", x)
    code, data, err = run_runner(Path(r.artifact.path), "tflite", tmp_path / "r.json",
                                 inputs_npy=str(tmp_path / "in.npy"), outputs_npy=str(tmp_path / "out.npy"))
    assert code == 0, err
    validate(data)
    assert data["inputs"][0]["dtype"] == "int8" and data["inputs"][0]["scale"] == pytest.approx(inp["scale"])
    out = np.load(tmp_path / "out.npy")
    with torch.inference_mode():
        ref = load(ModelSpec(name="tiny_cnn")).module(torch.from_numpy(x)).numpy()  # the model exported
    sqnr = 10 * np.log10(np.sum(ref ** 2) / np.sum((out - ref) ** 2))
    assert out.dtype == np.float32 and sqnr > 25  # quantized in, dequantized out: close to eager
