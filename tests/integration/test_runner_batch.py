"""Batch mode, runtime discovery and the runner zipapp.

``run_batch`` must give what each runtime library gives when driven directly (the parity path is
the timed path); ``runner.pyz`` must run where edgebench is not importable (a device)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from edgebench.runner import RUNTIMES, RunnerError, get_runtime, run_batch
from edgebench.runner.inputs import dequantize, quantize
from edgebench.runner.pack import build_zipapp, content_hash

sys.path.insert(0, str(Path(__file__).parent))
from test_runner import SHAPE, int8_tflite, tiny, validate  # noqa: E402,F401  (fixtures)

SAMPLES = [[np.random.default_rng(k).standard_normal(SHAPE).astype(np.float32)] for k in range(3)]


def test_discovery_lists_every_runtime():
    assert {"onnxruntime", "litert", "torch", "coreml"} <= set(RUNTIMES)
    for name, cls in RUNTIMES.items():
        assert cls.name == name and cls.module and cls.dist and cls.timed_region
        assert get_runtime(name) is cls
    assert RUNTIMES["coreml"].platforms == ("darwin",)
    if not sys.platform.startswith("darwin"):
        assert RUNTIMES["coreml"].unavailable_reason() == "unsupported here: coreml needs macOS"
    with pytest.raises(RunnerError, match="unknown runtime 'nope'") as err:
        get_runtime("nope")
    assert err.value.stage == "args" and "onnxruntime" in err.value.hint


def _direct_onnxruntime(path: Path, x: np.ndarray) -> list:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def _direct_litert(path: Path, x: np.ndarray) -> list:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _direct_torch(path: Path, x: np.ndarray) -> list:
    import torch

    with torch.inference_mode():
        return [torch.jit.load(str(path)).eval()(torch.from_numpy(x)).numpy()]


@pytest.mark.parametrize("kind,runtime,direct", [("onnx", "onnxruntime", _direct_onnxruntime),
                                                 ("tflite", "litert", _direct_litert),
                                                 ("torchscript", "torch", _direct_torch)])
def test_run_batch_gives_the_runtimes_own_outputs(tiny, kind, runtime, direct):
    before = [s[0].copy() for s in SAMPLES]
    got = run_batch(runtime, tiny[kind], SAMPLES, threads=1, input_shape=list(SHAPE))
    assert len(got) == len(SAMPLES)
    for s, b in zip(SAMPLES, before):  # the caller's arrays are read, never written
        np.testing.assert_array_equal(s[0], b)
    for sample, outs in zip(SAMPLES, got):
        want = direct(tiny[kind], sample[0])
        assert len(outs) == len(want) == 1
        assert outs[0].dtype == np.float32 and outs[0].shape == (1, 10)  # batch dim kept
        np.testing.assert_allclose(outs[0], want[0], rtol=1e-6, atol=1e-6)
    # each sample's outputs are its own: not views of one reused output buffer
    assert not np.array_equal(got[0][0], got[1][0])


def test_run_batch_errors(tiny, tmp_path):
    with pytest.raises(RunnerError) as err:
        run_batch("onnxruntime", tmp_path / "missing.onnx", SAMPLES)
    assert err.value.stage == "load"
    with pytest.raises(RunnerError) as err:
        run_batch("onnxruntime", tiny["onnx"], [[SAMPLES[0][0], SAMPLES[0][0]]])
    assert err.value.stage == "input" and "2 arrays" in err.value.message
    with pytest.raises(RunnerError) as err:
        run_batch("onnxruntime", tiny["onnx"], [[np.zeros((1, 3, 8, 8), np.float32)]])
    assert err.value.stage == "run" and "[1,3,8,8]" in err.value.message


@pytest.mark.slow
def test_run_batch_quantizes_int8_inputs_and_dequantizes_outputs(int8_tflite):
    from ai_edge_litert.interpreter import Interpreter

    path, inp, _ = int8_tflite
    got = run_batch("litert", path, SAMPLES, threads=1)
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    din, dout = it.get_input_details()[0], it.get_output_details()[0]
    (s_in, z_in), (s_out, z_out) = din["quantization"], dout["quantization"]
    assert din["dtype"] == np.int8 and s_in == pytest.approx(inp["scale"]) and s_out > 0
    for sample, outs in zip(SAMPLES, got):
        it.set_tensor(din["index"], quantize(sample[0], s_in, z_in, "int8"))
        it.invoke()
        raw = it.get_tensor(dout["index"])
        assert raw.dtype == np.int8
        assert outs[0].dtype == np.float32
        np.testing.assert_array_equal(outs[0], dequantize(raw, s_out, z_out))
    # already-quantized samples pass through unchanged
    q = [[quantize(s[0], s_in, z_in, "int8")] for s in SAMPLES]
    np.testing.assert_array_equal(run_batch("litert", path, q, threads=1)[1][0], got[1][0])


def test_zipapp_is_cached_by_content(tmp_path):
    pyz = build_zipapp(tmp_path)
    assert pyz == tmp_path / "runner.pyz"
    assert (tmp_path / "runner.pyz.sha256").read_text().strip() == content_hash()
    mtime = pyz.stat().st_mtime_ns
    assert build_zipapp(tmp_path).stat().st_mtime_ns == mtime  # same content: not rebuilt
    (tmp_path / "runner.pyz.sha256").write_text("stale\n")  # what an older runner's build leaves
    build_zipapp(tmp_path)
    assert (tmp_path / "runner.pyz.sha256").read_text().strip() == content_hash()  # rebuilt


def test_zipapp_runs_where_edgebench_is_not_importable(tiny, tmp_path):
    """``python -S`` with only site-packages on the path (no .pth files, so the editable edgebench
    install is invisible; numpy and the runtime stay importable), from a temp dir; then ``-I``."""
    pyz = build_zipapp(tmp_path / "cache")
    site = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = site
    work = tmp_path / "work"
    work.mkdir()
    probe = subprocess.run([sys.executable, "-S", "-c", "import edgebench"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "No module named 'edgebench'" in probe.stderr
    np.save(work / "in.npy", np.concatenate([s[0] for s in SAMPLES]))
    argv = [sys.executable, "-S", str(pyz), str(tiny["onnx"]), "--runtime", "onnxruntime", "--json", "r.json",
            "--format", "label-x", "--runs", "5", "--min-seconds", "0", "--warmup-runs", "1", "--warmup-seconds", "0",
            "--threads", "1", "--inputs", "in.npy", "--outputs", "out.npy"]
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((work / "r.json").read_text())
    validate(data)
    assert data["status"] == "ok" and data["format"] == "label-x" and data["timed_call"] == "run_with_iobinding"
    want = np.concatenate([o[0] for o in run_batch("onnxruntime", tiny["onnx"], SAMPLES, threads=1)])
    np.testing.assert_allclose(np.load(work / "out.npy"), want, rtol=1e-6, atol=1e-6)
    # the brief's check: isolated mode (-I ignores PYTHONPATH and the user site) from a temp dir
    iso = subprocess.run([sys.executable, "-I", str(pyz), str(tiny["onnx"]), "--runtime", "onnxruntime",
                          "--json", "i.json", "--runs", "3", "--min-seconds", "0", "--warmup-seconds", "0"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert iso.returncode == 0, iso.stderr
    assert json.loads((work / "i.json").read_text())["status"] == "ok"
    # discovery works inside the zip: the usage line lists every runtime
    usage = subprocess.run([sys.executable, "-S", str(pyz), "--help"], cwd=work, env=env, capture_output=True,
                           text=True, timeout=60)
    choices = "{" + ",".join(sorted(RUNTIMES)) + "}"
    assert usage.returncode == 0 and choices in usage.stdout.replace(" ", "").replace("\n", "")


def test_onnxruntime_dynamic_batch_rebinds_per_shape(tmp_path):
    """Symbolic dims: the output is sized by an untimed run, and a new input shape re-binds."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "relu.onnx"
    onnx.save(model, str(path))
    rng = np.random.default_rng(0)
    samples = [[rng.standard_normal((1, 4)).astype(np.float32)], [rng.standard_normal((3, 4)).astype(np.float32)],
               [rng.standard_normal((3, 4)).astype(np.float32)]]
    got = run_batch("onnxruntime", path, samples)
    for (s,), (o,) in zip(samples, got):
        np.testing.assert_array_equal(o, np.maximum(s, 0))


@pytest.mark.parametrize("kind,runtime", [("onnx", "onnxruntime"), ("tflite", "litert"), ("torchscript", "torch")])
def test_include_io_step_runs_on_every_runtime(tiny, kind, runtime):
    """The --include-io iteration (pre → bind → invoke → outputs → post) in-process, per runtime:
    the arg-max it computes is the one of the plain path on the same pre-processed input."""
    from edgebench.runner.batch import open_runtime
    from edgebench.runner.inputs import IO

    rt = open_runtime(runtime, tiny[kind], threads=1, input_shape=list(SHAPE))
    specs = rt.inputs()
    io = IO(specs, [list(SHAPE)], rt.output_quant())
    feed = io.pre()
    rt.bind(feed)
    rt.invoke()
    top = io.post(rt.outputs())
    assert 0 <= top < 10
    (outs,) = run_batch(runtime, tiny[kind], [feed], threads=1, input_shape=list(SHAPE))
    assert int(np.argmax(outs[0])) == top
