"""The runner package (``python -m edgebench.runner``) on tiny models for each runtime, and every
way a run can go wrong.

The artifacts are made here with the converters directly (torch.jit, torch.onnx dynamo,
litert_torch), as a third party would, so these tests do not depend on edgebench's exporters.
They are cached in pytest's cache dir (keyed by the torch version) and shared with test_run_cli.py
and test_runner_batch.py.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebench.harness.protocol import LOCAL_ENTRY, SCHEMA_PATH, runner_argv
from edgebench.runner import probes
from edgebench.runner import inputs as rin
from edgebench.runner import loop
from edgebench.runner.errors import RunnerError
from edgebench.spec import BenchSpec

ROOT = Path(__file__).parents[2]
RUNNER_DIR = ROOT / "edgebench" / "runner"
FAST = BenchSpec(warmup_runs=2, warmup_seconds=0.0, runs=15, min_seconds=0.05, max_seconds=5.0, threads=1,
                 timeout_seconds=120)
SHAPE = (1, 3, 32, 32)
FILES = {"onnx": "tiny.onnx", "tflite": "tiny.tflite", "torchscript": "tiny.pt", "torch_lite": "tiny.ptl"}
# artifact kind → (runner runtime, format label)
KINDS = {"onnx": ("onnxruntime", "onnx"), "tflite": ("litert", "tflite"), "torchscript": ("torch", "torchscript"),
         "torch_lite": ("torch", "torchscript")}


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


def runner_env(*first: str) -> dict:
    """This environment with ``first`` dirs, then this checkout, on PYTHONPATH (the subprocess must
    run this tree's runner)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*first, str(ROOT)])}


def run_runner(model: Path, runtime: str, out: Path, bench: BenchSpec = FAST, env=None, fmt_label=None,
               **kw) -> tuple[int, dict, str]:
    argv = runner_argv(sys.executable, LOCAL_ENTRY, str(model), runtime, bench, str(out), fmt_label=fmt_label, **kw)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env or runner_env())
    data = json.loads(out.read_text()) if out.exists() else None
    return proc.returncode, data, proc.stderr


def validate(data: dict) -> None:
    import jsonschema

    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))


@pytest.mark.parametrize("kind,call", [("onnx", "run_with_iobinding"), ("tflite", "invoke"),
                                       ("torchscript", "forward"), ("torch_lite", "forward")])
def test_each_runtime_measures_and_returns_outputs(tiny, tmp_path, kind, call):
    import torch

    runtime, label = KINDS[kind]
    inputs = np.random.default_rng(0).standard_normal((3, *SHAPE[1:])).astype(np.float32)
    np.save(tmp_path / "in.npy", inputs)
    bench = FAST if runtime != "torch" else BenchSpec(**{**FAST.to_dict(), "input_shape": SHAPE})
    code, data, err = run_runner(tiny[kind], runtime, tmp_path / "r.json", bench, fmt_label=label,
                                 inputs_npy=str(tmp_path / "in.npy"), outputs_npy=str(tmp_path / "out.npy"))
    assert code == 0, err
    validate(data)
    assert data["status"] == "ok" and data["runner"] == "edgebench.runner" and data["runtime"] == runtime
    assert data["format"] == label
    assert data["timed_region"] == "invoke" and data["timed_call"] == call and data["include_io"] is False
    assert (data["delegate"] == "lite_interpreter") == (kind == "torch_lite")
    assert data["runtime_version"] and data["threads"] == 1
    assert data["input_shapes"] == [list(SHAPE)]
    assert data["output_shapes"] == [[1, 10]] and data["outputs_finite"] is True
    assert len(data["iterations_ms"]) >= FAST.runs and len(data["warmup_ms"]) >= FAST.warmup_runs
    assert all(t > 0 for t in data["iterations_ms"])
    assert data["load_ms"] > 0 and data["first_inference_ms"] > 0
    mem = data["memory"]
    assert mem["peak_rss_bytes"] >= mem["baseline_rss_bytes"] > 0 and mem["pss_bytes"] > 0
    assert "peak_rss_bytes" in mem["definition"]
    assert data["host"]["cores"] >= 1 and data["host"]["affinity"]
    assert data["host"]["isa_flags"] and all(f.startswith(probes.ISA_PREFIXES) for f in data["host"]["isa_flags"])
    assert data["device_state"]["before"] and data["device_state"]["after"]
    outputs = np.load(tmp_path / "out.npy")
    with torch.inference_mode():
        expected = eager_model(tiny["onnx"].parent)(torch.from_numpy(inputs)).numpy()
    assert outputs.shape == (3, 10)
    np.testing.assert_allclose(outputs, expected, rtol=1e-3, atol=1e-4)


def test_npz_inputs_and_outputs(tiny, tmp_path):
    """--inputs .npz (keyed by input name) / --outputs .npz (every output) give the .npy figures."""
    x = np.random.default_rng(2).standard_normal((4, *SHAPE[1:])).astype(np.float32)
    np.save(tmp_path / "in.npy", x)
    code, _, err = run_runner(tiny["onnx"], "onnxruntime", tmp_path / "a.json", inputs_npy=str(tmp_path / "in.npy"),
                              outputs_npy=str(tmp_path / "out.npy"))
    assert code == 0, err
    import onnxruntime as ort

    name = ort.InferenceSession(str(tiny["onnx"]), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    np.savez(tmp_path / "in.npz", **{name: x})
    code, _, err = run_runner(tiny["onnx"], "onnxruntime", tmp_path / "b.json", inputs_npy=str(tmp_path / "in.npz"),
                              outputs_npy=str(tmp_path / "out.npz"))
    assert code == 0, err
    with np.load(tmp_path / "out.npz") as z:
        assert z.files == ["output_0"]
        np.testing.assert_array_equal(z["output_0"], np.load(tmp_path / "out.npy"))


def test_include_io_times_preprocessing_too(tiny, tmp_path):
    """--include-io is recorded as "invoke+io" and is never faster than the bare invoke (same
    artifact, same protocol; pre-processing, copy-in and copy-out added)."""
    bench = BenchSpec(**{**FAST.to_dict(), "runs": 300, "min_seconds": 0.3})
    code, plain, err = run_runner(tiny["tflite"], "litert", tmp_path / "a.json", bench)
    assert code == 0, err
    code, io, err = run_runner(tiny["tflite"], "litert", tmp_path / "b.json",
                               BenchSpec(**{**bench.to_dict(), "include_io": True}))
    assert code == 0, err
    validate(io)
    assert io["include_io"] is True and io["timed_region"] == "invoke+io" and io["timed_call"] == "invoke"
    assert plain["timed_region"] == "invoke"
    assert len(io["iterations_ms"]) >= bench.runs
    # medians over ≥ 300 iterations each; the io loop does strictly more work per iteration
    assert np.median(io["iterations_ms"]) >= np.median(plain["iterations_ms"])


def test_timed_loop_bounds():
    calls = []
    times = loop.timed_loop(lambda: calls.append(1), 5, 0.0, 10.0)
    assert len(times) == 5  # runs reached, no minimum time
    times = loop.timed_loop(lambda: None, 1, 0.05, 10.0)
    assert len(times) > 1  # kept going until min_seconds
    import time

    times = loop.timed_loop(lambda: time.sleep(0.01), 10_000, 0.0, 0.05)
    assert 1 <= len(times) < 10  # capped by max_seconds


def test_quantized_inputs():
    x = np.array([-1.0, 0.0, 0.5, 10.0], dtype=np.float32)
    q = rin.quantize(x, 0.05, -3, "int8")
    # round(x / 0.05) − 3 = −23, −3, 7, 197 → clipped to 127
    assert q.dtype == np.int8 and q.tolist() == [-23, -3, 7, 127]
    assert rin.dequantize(q, 0.05, -3).tolist() == pytest.approx([-1.0, 0.0, 0.5, 6.5])
    inp = {"name": "x", "shape": [1, 4], "dtype": "uint8", "scale": 0.1, "zero_point": 128}
    assert rin.to_runtime_dtype(x, inp).tolist() == [118, 128, 133, 228]
    assert rin.to_runtime_dtype(q.astype(np.uint8), inp).dtype == np.uint8  # already quantized: as given
    ids = {"name": "ids", "shape": [1, 4], "dtype": "int64", "scale": None, "zero_point": None}
    # integer ids are never zeros: 1 .. (smallest dim above 1) − 1, so they index / count within every axis
    fed = rin.synthetic_feed(ids, [1, 4], bound=rin.index_bound([[1, 4]]))
    assert fed.dtype == np.int64 and fed.min() >= 1 and fed.max() <= 3


def test_dynamic_dims_need_an_input_shape():
    dyn = {"name": "x", "shape": [None, 3, None, None]}
    with pytest.raises(RunnerError, match=r"dynamic dims \[\?,3,\?,\?\]"):
        rin.resolve_shape(dyn, None)
    assert rin.resolve_shape(dyn, [1, 3, 64, 48]) == [1, 3, 64, 48]
    assert rin.resolve_shape({"name": "x", "shape": [None, 3, 8, 8]}, None) == [1, 3, 8, 8]  # batch only
    with pytest.raises(RunnerError, match="does not match"):
        rin.resolve_shape(dyn, [1, 1, 64, 48])


def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """(absolute module, at module level?) of every import; relative imports are skipped."""
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module, id(node) in top))
    return out


def test_runner_package_is_a_leaf_and_python39_syntax():
    """Every runner file parses as Python 3.9, imports only stdlib + numpy (+ its own package) at
    module level, and nothing from the rest of edgebench; only a runtime module imports a runtime
    library, inside a function."""
    from edgebench.runner import RUNTIMES

    own = {Path(sys.modules[cls.__module__].__file__).resolve(): {m.split(".")[0] for m in (cls.module, *cls.requires)}
           for cls in RUNTIMES.values()}
    files = sorted(RUNNER_DIR.rglob("*.py"))
    assert len(files) >= 14
    libraries = set()
    for path in files:
        tree = ast.parse(path.read_text(), feature_version=(3, 9))
        for module, top_level in _imports(tree):
            root = module.split(".")[0]
            if module.startswith("edgebench"):
                assert module.startswith("edgebench.runner"), (path, module)
            elif root in sys.stdlib_module_names or root == "numpy":
                continue
            else:  # a runtime module imports its own library, lazily
                assert root in own.get(path.resolve(), ()) and not top_level, (path, module)
                libraries.add(root)
    assert {"onnxruntime", "ai_edge_litert", "torch", "coremltools"} <= libraries


# --- bad input -----------------------------------------------------------------------------------

def _error(data: dict) -> dict:
    validate(data)
    assert data["status"] == "error" and data["iterations_ms"] == []
    return data["error"]


@pytest.mark.parametrize("runtime,name", [("onnxruntime", "junk.onnx"), ("litert", "junk.tflite"),
                                          ("torch", "junk.pt")])
def test_not_a_model_file(tmp_path, runtime, name):
    path = tmp_path / name
    path.write_bytes(b"this is not a model\n" * 50)
    code, data, err = run_runner(path, runtime, tmp_path / "r.json",
                                 BenchSpec(**{**FAST.to_dict(), "input_shape": SHAPE}))
    assert code == 1
    e = _error(data)
    assert e["stage"] == "load" and "junk" in e["message"] and e["hint"]


def test_missing_model_file(tmp_path):
    code, data, _ = run_runner(tmp_path / "nope.onnx", "onnxruntime", tmp_path / "r.json")
    assert code == 1 and _error(data)["stage"] == "load"


def test_unknown_runtime_is_a_usage_error(tiny, tmp_path):
    argv = [sys.executable, *LOCAL_ENTRY, str(tiny["onnx"]), "--runtime", "nope", "--json", str(tmp_path / "r.json")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=runner_env())
    assert proc.returncode == 2 and "invalid choice: 'nope'" in proc.stderr and "onnxruntime" in proc.stderr


def test_input_shape_mismatch(tiny, tmp_path):
    code, data, _ = run_runner(tiny["onnx"], "onnxruntime", tmp_path / "r.json",
                               BenchSpec(**{**FAST.to_dict(), "input_shape": (1, 3, 64, 64)}))
    e = _error(data)
    assert code == 1 and e["stage"] == "input" and "[1,3,64,64]" in e["message"] and "[1,3,32,32]" in e["message"]


def test_torchscript_needs_an_input_shape(tiny, tmp_path):
    code, data, _ = run_runner(tiny["torchscript"], "torch", tmp_path / "r.json")
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
    pkg = tmp_path / "fake" / "onnxruntime"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(body)
    return runner_env(str(tmp_path / "fake"))


def test_missing_runtime_says_what_to_install(tiny, tmp_path):
    env = _fake_runtime(tmp_path, "raise ModuleNotFoundError(\"No module named 'onnxruntime'\")\n")
    code, data, _ = run_runner(tiny["onnx"], "onnxruntime", tmp_path / "r.json", env=env)
    e = _error(data)
    assert code == 1 and e["stage"] == "runtime" and "edgebench[onnx]" in e["hint"]


def test_missing_runtime_through_the_harness_is_load_failed(tiny, tmp_path, monkeypatch):
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.results import Status
    from edgebench.targets import resolve

    env = _fake_runtime(tmp_path, "raise ModuleNotFoundError(\"No module named 'onnxruntime'\")\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))  # the local target appends edgebench's root
    r = measure_artifact(from_path(tiny["onnx"]), resolve("local"), FAST)
    assert r.status == Status.LOAD_FAILED and "edgebench[onnx]" in r.error.hint
    assert env["PYTHONPATH"].startswith(str(tmp_path / "fake"))


def test_segfault_is_run_failed_with_stderr_tail(tiny, tmp_path, monkeypatch, db):
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.results import Status, Store
    from edgebench.targets import resolve

    body = ("import os, signal, sys\nprint('native runtime fell over', file=sys.stderr, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGSEGV)\n")
    _fake_runtime(tmp_path, body)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))
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


@pytest.fixture(scope="module")
def int8_tflite(tmp_path_factory):
    """A full-int8 TFLite artifact (int8 input and output tensors) from edgebench's exporter, and
    its manifest input entry."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_tests_conftest", Path(__file__).parents[1] / "conftest.py")
    shared = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shared)  # tests/conftest.py: tests/integration has its own conftest module

    from edgebench.exporters import export
    from edgebench.models import load
    from edgebench.models.input_spec import InputSpec
    from edgebench.models.zoo import ZooEntry, zoo
    from edgebench.spec import ExportSpec, ModelSpec, Variant

    def build(num_classes: int):
        import torch

        torch.manual_seed(0)
        return shared.make_tiny_cnn(num_classes)

    zoo.add("tiny_cnn", ZooEntry("tiny_cnn", build, InputSpec(shape=SHAPE, num_classes=10), "test CNN", "tests"))
    try:
        (r,) = export(ModelSpec(name="tiny_cnn"),
                      ExportSpec(formats=("tflite",), variant=Variant(precision="int8"),
                                 out_dir=tmp_path_factory.mktemp("int8"), calibration_samples=8,
                                 format_options={"tflite": {"int8_io": True}}))  # int8 in and out
        assert r.artifact is not None, r.error
        eager = load(ModelSpec(name="tiny_cnn")).module  # the model exported
        yield Path(r.artifact.path), r.artifact.manifest["inputs"][0], eager
    finally:
        zoo.remove("tiny_cnn")


@pytest.mark.slow
def test_int8_input_model_is_fed_quantized_and_outputs_dequantized(tmp_path, int8_tflite):
    import torch

    path, inp, eager = int8_tflite
    assert inp["dtype"] == "int8" and inp["scale"]
    x = np.random.default_rng(1).standard_normal((4, *SHAPE[1:])).astype(np.float32)
    np.save(tmp_path / "in.npy", x)
    code, data, err = run_runner(path, "litert", tmp_path / "r.json",
                                 inputs_npy=str(tmp_path / "in.npy"), outputs_npy=str(tmp_path / "out.npy"))
    assert code == 0, err
    validate(data)
    assert data["inputs"][0]["dtype"] == "int8" and data["inputs"][0]["scale"] == pytest.approx(inp["scale"])
    out = np.load(tmp_path / "out.npy")
    with torch.inference_mode():
        ref = eager(torch.from_numpy(x)).numpy()  # the model exported
    sqnr = 10 * np.log10(np.sum(ref ** 2) / np.sum((out - ref) ** 2))
    assert out.dtype == np.float32 and sqnr > 25  # quantized in, dequantized out: close to eager
