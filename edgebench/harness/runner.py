"""edgebench runner: measure one model file with one runtime and write RawSamples JSON.

Self-contained on purpose: stdlib + numpy + the one runtime the model needs, Python >= 3.9, no
edgebench imports. The same file runs in a fresh local subprocess and on a Raspberry Pi over SSH::

    python runner.py MODEL --format onnx|tflite|torchscript|coreml --json OUT
        [--threads N] [--warmup-runs N] [--warmup-seconds S] [--runs N] [--min-seconds S]
        [--max-seconds S] [--input-shape 1,3,224,224] [--include-io] [--inputs X.npy] [--outputs Y.npy]

Protocol: import the runtime; load the model (``load_ms``); prepare inputs outside the timed region;
time the first inference alone (``first_inference_ms``); warm up until both ``--warmup-runs`` runs
and ``--warmup-seconds`` have passed; then time iterations until both ``--runs`` runs and
``--min-seconds`` have passed, stopping early at ``--max-seconds`` (warm-up and timing each get that
cap). Every iteration is kept raw (``time.perf_counter_ns``). With ``--inputs`` the rows of that
.npy batch are run one by one after timing and the first output of each is saved to ``--outputs``.

The timed region of an iteration is the runtime's own inference call with the input already in
the runtime's dtype: ONNX Runtime ``session.run``, LiteRT ``set_tensor`` + ``invoke`` +
``get_tensor``, TorchScript ``module(x)``. ``--include-io`` adds pre- and post-processing to it:
a uint8 HWC image → float, normalised with ImageNet mean/std, transposed to the model's layout,
quantized for int8 inputs; outputs dequantized and arg-maxed.

Memory (the one definition used for every runtime; bytes):
  peak_rss_bytes        high-water resident set of the runner process (VmHWM from /proc/self/status,
                        else ru_maxrss) at the end: interpreter + numpy + runtime library + model.
  baseline_rss_bytes    RSS after importing the runtime, before loading the model.
  load_rss_delta_bytes  RSS right after loading the model and preparing inputs − baseline_rss_bytes.
  pss_bytes             proportional set size from /proc/self/smaps_rollup at the end (shared pages
                        split among the processes sharing them); null where not readable.
So ``peak_rss_bytes − baseline_rss_bytes`` is what the model (not Python or the runtime) costs at peak.

Exit code 0 with status "ok"; 1 with status "error" and the failing ``stage`` (args, runtime,
load, input, run, output). A crash leaves no JSON: the harness reports the stderr tail.
"""

from __future__ import annotations

import abc
import argparse
import json
import os
import platform
import sys
import time
import traceback

if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    # run as a script: our sibling modules (stats.py, memory.py …) must not shadow library imports
    sys.path.pop(0)

import numpy as np  # noqa: E402

SCHEMA_VERSION = 1
RUNNER = "edgebench.runner"
FORMATS = ("onnx", "tflite", "torchscript", "coreml")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MEMORY_DEFINITION = (
    "peak_rss_bytes: runner-process high-water RSS (VmHWM, else ru_maxrss) incl. interpreter and runtime; "
    "baseline_rss_bytes: RSS after importing the runtime, before loading; "
    "load_rss_delta_bytes: RSS after load and input preparation minus baseline; "
    "pss_bytes: Pss from /proc/self/smaps_rollup at the end"
)
# pip extra (edgebench) and bare package (a device without edgebench) per runtime
INSTALL_HINTS = {
    "onnxruntime": "install edgebench[onnx] (on a device: pip install onnxruntime)",
    "litert": "install edgebench[tflite] (on a device: pip install ai-edge-litert)",
    "torchscript": "install torch (edgebench's core dependency; on a device: pip install torch)",
    "torch_lite": "install torch (edgebench's core dependency; on a device: pip install torch)",
    "coreml": "install edgebench[coreml] on macOS",
}


class RunnerError(Exception):
    """A failure with the stage it happened in and what to do about it."""

    def __init__(self, stage: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.hint = hint


# ----------------------------------------------------------------------------------------------
# host, device state and memory (also imported by edgebench.harness.hostinfo / memory)

def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def cpu_model() -> str | None:
    """The CPU's marketing name (``model name`` / ``Hardware`` / ``Model`` in /proc/cpuinfo)."""
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Model", "cpu model"):
        for line in text.splitlines():
            if line.split(":", 1)[0].strip() == key and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _cpu_dirs() -> list[str]:
    base = "/sys/devices/system/cpu"
    try:
        names = os.listdir(base)
    except OSError:
        return []
    cpus = [n for n in names if n.startswith("cpu") and n[3:].isdigit()]
    return [os.path.join(base, n) for n in sorted(cpus, key=lambda n: int(n[3:]))]


def device_state() -> dict:
    """Per-core governor and current frequency (kHz), thermal zones (°C) and load average."""
    governors, freqs = {}, {}
    for d in _cpu_dirs():
        name = os.path.basename(d)
        gov = _read(os.path.join(d, "cpufreq", "scaling_governor"))
        cur = _read(os.path.join(d, "cpufreq", "scaling_cur_freq"))
        if gov is not None:
            governors[name] = gov
        if cur is not None and cur.isdigit():
            freqs[name] = int(cur)
    thermal = {}
    base = "/sys/class/thermal"
    try:
        zones = sorted(z for z in os.listdir(base) if z.startswith("thermal_zone"))
    except OSError:
        zones = []
    for z in zones:
        temp = _read(os.path.join(base, z, "temp"))
        kind = _read(os.path.join(base, z, "type")) or z
        if temp is not None and temp.lstrip("-").isdigit():
            thermal[kind] = int(temp) / 1000.0
    try:
        load = list(os.getloadavg())
    except (OSError, AttributeError):
        load = None
    return {"time": time.time(), "governors": governors or None, "cur_freq_khz": freqs or None,
            "thermal_c": thermal or None, "loadavg": load}


def affinity() -> list[int] | None:
    """CPUs this process may run on (None where the OS does not say)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def host_info() -> dict:
    """The machine: CPU model, cores, arch, OS, Python, numpy, governors, max frequency, affinity."""
    max_freq = {}
    for d in _cpu_dirs():
        f = _read(os.path.join(d, "cpufreq", "cpuinfo_max_freq"))
        if f is not None and f.isdigit():
            max_freq[os.path.basename(d)] = int(f)
    state = device_state()
    return {
        "hostname": platform.node(), "cpu_model": cpu_model(), "cores": os.cpu_count(),
        "arch": platform.machine(), "os": platform.platform(), "python": platform.python_version(),
        "numpy": np.__version__, "governors": state["governors"], "max_freq_khz": max_freq or None,
        "affinity": affinity(),
    }


def _status_kb(key: str) -> int | None:
    text = _read("/proc/self/status")
    if text:
        for line in text.splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def current_rss() -> int | None:
    """Resident set size now, in bytes (VmRSS; None where /proc is missing)."""
    return _status_kb("VmRSS")


def peak_rss() -> int | None:
    """High-water RSS in bytes: VmHWM, else ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm
    try:
        import resource
    except ImportError:
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def pss() -> int | None:
    """Proportional set size in bytes from /proc/self/smaps_rollup (Linux ≥ 4.14), else None."""
    text = _read("/proc/self/smaps_rollup")
    if text:
        for line in text.splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return None


# ----------------------------------------------------------------------------------------------
# runtimes: each loads a model and exposes inputs, a feed step and a run step

class Runtime(abc.ABC):
    """One runtime: ``load()``, ``inputs()``, ``bind(feed)`` (untimed), ``run()`` (timed)."""

    name = ""
    delegate: str | None = None
    version: str | None = None

    @abc.abstractmethod
    def load(self) -> None:
        """Load the model file (timed as load_ms)."""

    @abc.abstractmethod
    def inputs(self) -> list[dict]:
        """[{name, shape (None for a dynamic dim), dtype (numpy name), scale, zero_point}]"""

    @abc.abstractmethod
    def bind(self, feed: list) -> None:
        """Hand prepared inputs (numpy, runtime dtype) to the runtime, outside the timed region."""

    @abc.abstractmethod
    def run(self) -> list:
        """One inference on the bound inputs; returns outputs as numpy arrays."""

    def output_quant(self) -> list:
        """(scale, zero_point) per output, or None for float outputs."""
        return []


class OrtRuntime(Runtime):
    name = "onnxruntime"
    delegate = "CPUExecutionProvider"

    def __init__(self, path: str, threads: int | None, shape: list | None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise RunnerError("runtime", "onnxruntime is not installed (%s)" % exc, INSTALL_HINTS[self.name])
        self.version = ort.__version__
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or 0  # 0 = ORT's default (one per physical core)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self._ort = ort
        self._opts = opts
        self._path = path

    def load(self) -> None:
        self.session = self._ort.InferenceSession(self._path, sess_options=self._opts,
                                                  providers=["CPUExecutionProvider"])
        self._names = [o.name for o in self.session.get_outputs()]

    def inputs(self) -> list[dict]:
        out = []
        for i in self.session.get_inputs():
            shape = [d if isinstance(d, int) and d >= 0 else None for d in i.shape]
            dtype = i.type[len("tensor("):-1] if i.type.startswith("tensor(") else i.type
            dtype = {"float": "float32", "double": "float64", "float16": "float16"}.get(dtype, dtype)
            out.append({"name": i.name, "shape": shape, "dtype": dtype, "scale": None, "zero_point": None})
        return out

    def bind(self, feed: list) -> None:
        self._feed = {i.name: x for i, x in zip(self.session.get_inputs(), feed)}

    def run(self) -> list:
        return self.session.run(self._names, self._feed)


class LiteRtRuntime(Runtime):
    name = "litert"
    delegate = "XNNPACK"

    def __init__(self, path: str, threads: int | None, shape: list | None):
        try:
            from ai_edge_litert import interpreter as lite
        except ImportError as exc:
            raise RunnerError("runtime", "ai-edge-litert is not installed (%s)" % exc, INSTALL_HINTS[self.name])
        try:
            from importlib.metadata import version
            self.version = version("ai-edge-litert")
        except ImportError:  # PackageNotFoundError: a vendored copy without metadata
            self.version = getattr(lite, "__version__", None)
        self._lite = lite
        self._path = path
        self._threads = threads
        self._shape = shape

    def load(self) -> None:
        # the default op resolver applies the XNNPACK delegate on CPU
        self.interp = self._lite.Interpreter(model_path=self._path, num_threads=self._threads)
        details = self.interp.get_input_details()
        if self._shape and len(details) == 1:
            sig = list(details[0].get("shape_signature", details[0]["shape"]))
            if any(d < 0 for d in sig) and list(details[0]["shape"]) != list(self._shape):
                self.interp.resize_tensor_input(details[0]["index"], list(self._shape))
        self.interp.allocate_tensors()
        self._in = self.interp.get_input_details()
        self._out = self.interp.get_output_details()

    def inputs(self) -> list[dict]:
        out = []
        for d in self._in:
            sig = list(d.get("shape_signature", d["shape"]))
            shape = [int(s) if s >= 0 else None for s in sig]
            scale, zp = d.get("quantization", (0.0, 0))
            q = scale not in (0, 0.0)
            out.append({"name": d["name"], "shape": shape, "dtype": np.dtype(d["dtype"]).name,
                        "scale": float(scale) if q else None, "zero_point": int(zp) if q else None})
        return out

    def output_quant(self) -> list:
        res = []
        for d in self._out:
            scale, zp = d.get("quantization", (0.0, 0))
            res.append((float(scale), int(zp)) if scale not in (0, 0.0) else None)
        return res

    def bind(self, feed: list) -> None:
        self._feed = feed

    def run(self) -> list:
        interp = self.interp
        for d, x in zip(self._in, self._feed):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        return [interp.get_tensor(d["index"]) for d in self._out]


class TorchRuntime(Runtime):
    name = "torchscript"

    def __init__(self, path: str, threads: int | None, shape: list | None):
        try:
            import torch
        except ImportError as exc:
            raise RunnerError("runtime", "torch is not installed (%s)" % exc, INSTALL_HINTS[self.name])
        self.torch = torch
        self.version = torch.__version__
        if threads:
            torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)  # one inference at a time, like the other runtimes
        except RuntimeError:  # only settable before any parallel work; a fresh process always can
            pass
        self._path = path
        self._shape = shape
        self.lite = path.endswith(".ptl")
        if self.lite:
            self.name = "torch_lite"

    def load(self) -> None:
        torch = self.torch
        if self.lite:
            from torch.jit.mobile import _load_for_lite_interpreter
            self.module = _load_for_lite_interpreter(self._path)
        else:
            self.module = torch.jit.load(self._path, map_location="cpu")
            self.module.eval()

    def inputs(self) -> list[dict]:
        # a TorchScript file does not record its input shape: --input-shape (or the manifest) says it
        return [{"name": "input", "shape": list(self._shape) if self._shape else None, "dtype": "float32",
                 "scale": None, "zero_point": None}]

    def bind(self, feed: list) -> None:
        self._feed = [self.torch.from_numpy(np.ascontiguousarray(x)) for x in feed]

    def run(self) -> list:
        with self.torch.inference_mode():
            out = self.module(*self._feed)
        if isinstance(out, (tuple, list)):
            return [o.numpy() for o in out]
        if isinstance(out, dict):
            return [v.numpy() for v in out.values()]
        return [out.numpy()]


class CoreMLRuntime(Runtime):
    name = "coreml"

    def __init__(self, path: str, threads: int | None, shape: list | None):
        if sys.platform != "darwin":
            raise RunnerError("unsupported", "unsupported here: CoreML needs macOS",
                              "measure .mlpackage artifacts on a Mac; use onnx/tflite/torchscript here")
        try:
            import coremltools as ct
        except ImportError as exc:
            raise RunnerError("runtime", "coremltools is not installed (%s)" % exc, INSTALL_HINTS[self.name])
        self.ct = ct
        self.version = ct.__version__
        self._path = path
        self._shape = shape

    def load(self) -> None:
        self.model = self.ct.models.MLModel(self._path, compute_units=self.ct.ComputeUnit.CPU_ONLY)
        spec = self.model.get_spec()
        self._names = [i.name for i in spec.description.input]

    def inputs(self) -> list[dict]:
        spec = self.model.get_spec()
        out = []
        for i in spec.description.input:
            shape = list(i.type.multiArrayType.shape) or (list(self._shape) if self._shape else None)
            out.append({"name": i.name, "shape": shape, "dtype": "float32", "scale": None, "zero_point": None})
        return out

    def bind(self, feed: list) -> None:
        self._feed = dict(zip(self._names, feed))

    def run(self) -> list:
        out = self.model.predict(self._feed)
        return [np.asarray(v) for v in out.values()]


RUNTIMES = {"onnx": OrtRuntime, "tflite": LiteRtRuntime, "torchscript": TorchRuntime, "coreml": CoreMLRuntime}


# ----------------------------------------------------------------------------------------------
# inputs

def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    """Affine quantization q = clip(round(x / scale) + zero_point) into ``dtype`` (int8 / uint8 / int16)."""
    info = np.iinfo(np.dtype(dtype))
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """x = (q − zero_point) · scale as float32."""
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)


def resolve_shape(inp: dict, requested: list | None) -> list:
    """The concrete input shape: the model's where fixed, ``--input-shape`` where dynamic or unknown.

    A requested shape that contradicts a fixed dimension is an ``input`` error."""
    model = inp["shape"]
    if requested is None:
        if model is None:
            raise RunnerError("input", "the input shape of %r is unknown" % inp["name"],
                              "pass --input-shape, e.g. --input-shape 1,3,224,224")
        if any(d is None for d in model):
            if model[0] is None and len(model) > 1 and all(d is not None for d in model[1:]):
                return [1] + list(model[1:])  # only the batch dim is dynamic: measure batch 1
            raise RunnerError("input", "input %r has dynamic dims %s" % (inp["name"], _fmt(model)),
                              "pass --input-shape with every dim, e.g. --input-shape 1,3,224,224")
        return list(model)
    req = list(requested)
    if model is not None:
        if len(model) != len(req) or any(m is not None and m != r for m, r in zip(model, req)):
            raise RunnerError("input", "--input-shape %s does not match input %r of the model %s"
                              % (_fmt(req), inp["name"], _fmt(model)),
                              "use the model's shape or omit --input-shape")
    return req


def _fmt(shape) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def synthetic_input(shape: list, seed: int = 0) -> np.ndarray:
    """A deterministic float32 tensor with normalised-image statistics (standard normal)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def to_runtime_dtype(x: np.ndarray, inp: dict) -> np.ndarray:
    """Float data → the input's dtype (quantized with its scale / zero point for integer inputs)."""
    dtype = inp["dtype"]
    if dtype in ("int8", "uint8", "int16") and inp.get("scale"):
        return quantize(x, inp["scale"], inp["zero_point"] or 0, dtype)
    if dtype.startswith("float"):
        return x.astype(dtype, copy=False)
    return np.zeros(x.shape, dtype=dtype)


def _layout(shape: list) -> str:
    return "NHWC" if len(shape) == 4 and shape[3] in (1, 3) and shape[1] not in (1, 3) else "NCHW"


class IO:
    """Pre-/post-processing timed with --include-io: uint8 HWC image → input tensor; output → argmax."""

    def __init__(self, inputs: list, shapes: list, out_quant: list):
        self.inputs, self.shapes, self.out_quant = inputs, shapes, out_quant
        self.images = []
        rng = np.random.default_rng(1)
        for shape in shapes:
            if len(shape) == 4:
                layout = _layout(shape)
                h, w = (shape[1], shape[2]) if layout == "NHWC" else (shape[2], shape[3])
                self.images.append(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
            else:
                self.images.append(None)
        self.mean = np.array(IMAGENET_MEAN, dtype=np.float32)
        self.std = np.array(IMAGENET_STD, dtype=np.float32)

    def pre(self) -> list:
        feed = []
        for inp, shape, img in zip(self.inputs, self.shapes, self.images):
            if img is None:
                feed.append(to_runtime_dtype(synthetic_input(shape), inp))
                continue
            x = (img.astype(np.float32) / 255.0 - self.mean) / self.std
            if _layout(shape) == "NCHW":
                x = x.transpose(2, 0, 1)[: shape[1]]
            else:
                x = x[..., : shape[3]]
            feed.append(to_runtime_dtype(np.ascontiguousarray(x).reshape(shape), inp))
        return feed

    def post(self, outputs: list) -> int:
        out = outputs[0]
        q = self.out_quant[0] if self.out_quant else None
        if q is not None:
            out = dequantize(out, q[0], q[1])
        return int(np.argmax(out))


# ----------------------------------------------------------------------------------------------
# the measurement

def _timed_loop(step, min_runs: int, min_seconds: float, max_seconds: float) -> list:
    """Run ``step`` until ``min_runs`` runs and ``min_seconds`` have passed (cap: ``max_seconds``)."""
    times = []
    clock = time.perf_counter_ns
    start = clock()
    min_ns, max_ns = int(min_seconds * 1e9), int(max_seconds * 1e9)
    while True:
        elapsed = clock() - start
        if len(times) >= min_runs and elapsed >= min_ns:
            break
        if times and elapsed >= max_ns:
            break
        t0 = clock()
        step()
        times.append((clock() - t0) / 1e6)
    return times


def measure(args) -> dict:
    """Load, time and (optionally) run a batch of inputs; return the RawSamples dict (status ok)."""
    fmt = args.format
    result = _base(args)
    result["device_state"] = {"before": device_state(), "after": None}
    t0 = time.perf_counter_ns()
    rt = RUNTIMES[fmt](args.model, args.threads, args.input_shape)
    result["import_ms"] = (time.perf_counter_ns() - t0) / 1e6
    result["runtime"] = rt.name
    result["runtime_version"] = rt.version
    result["delegate"] = rt.delegate
    result["host"]["libraries"] = {rt.name: rt.version, "numpy": np.__version__}
    baseline = current_rss()
    t0 = time.perf_counter_ns()
    try:
        rt.load()
    except RunnerError:
        raise
    except Exception as exc:
        raise RunnerError("load", "cannot load %s as %s: %s" % (os.path.basename(args.model), fmt, _one_line(exc)),
                          "is it a valid %s model file (not truncated, not another format)?" % fmt)
    result["load_ms"] = (time.perf_counter_ns() - t0) / 1e6

    inputs = rt.inputs()
    if args.input_shape and len(inputs) > 1:
        raise RunnerError("input", "--input-shape sets one input but the model has %d" % len(inputs),
                          "models with several inputs must have fixed shapes")
    shapes = [resolve_shape(i, args.input_shape) for i in inputs]
    result["input_shapes"] = shapes
    result["inputs"] = [dict(i, shape=s) for i, s in zip(inputs, shapes)]
    feed = [to_runtime_dtype(synthetic_input(s, seed=k), i) for k, (i, s) in enumerate(zip(inputs, shapes))]
    io = IO(inputs, shapes, rt.output_quant()) if args.include_io else None
    rt.bind(feed)
    after_load = current_rss()

    if io is not None:
        def step():
            rt.bind(io.pre())
            io.post(rt.run())
    else:
        def step():
            rt.run()

    try:
        t0 = time.perf_counter_ns()
        step()
        result["first_inference_ms"] = (time.perf_counter_ns() - t0) / 1e6
    except Exception as exc:
        raise RunnerError("run", "first inference failed: %s" % _one_line(exc),
                          "check --input-shape against the model's input")
    result["warmup_ms"] = _timed_loop(step, args.warmup_runs, args.warmup_seconds, args.max_seconds)
    result["iterations_ms"] = _timed_loop(step, max(1, args.runs), args.min_seconds, args.max_seconds)

    if args.inputs:
        _run_batch(rt, inputs, shapes, args.inputs, args.outputs)

    result["memory"] = {
        "peak_rss_bytes": peak_rss(), "baseline_rss_bytes": baseline,
        "load_rss_delta_bytes": (after_load - baseline) if after_load is not None and baseline is not None else None,
        "pss_bytes": pss(), "footprint_bytes": None, "definition": MEMORY_DEFINITION,
    }
    result["device_state"]["after"] = device_state()
    result["status"] = "ok"
    return result


def _run_batch(rt, inputs: list, shapes: list, inputs_npy: str, outputs_npy: str | None) -> None:
    """Feed each row of ``inputs_npy`` (shape (N, *input_shape[1:])) and save the first output."""
    if not outputs_npy:
        raise RunnerError("args", "--inputs needs --outputs")
    try:
        batch = np.load(inputs_npy)
    except (OSError, ValueError) as exc:
        raise RunnerError("input", "cannot read --inputs %s: %s" % (inputs_npy, _one_line(exc)))
    if len(inputs) != 1:
        raise RunnerError("input", "--inputs feeds one input but the model has %d" % len(inputs))
    want = list(shapes[0][1:])
    if list(batch.shape[1:]) != want:
        raise RunnerError("input", "--inputs rows are %s but the model takes %s"
                          % (_fmt(list(batch.shape[1:])), _fmt(want)),
                          "preprocess to the model's input shape and layout")
    quant = rt.output_quant()
    outs = []
    try:
        for row in batch:
            rt.bind([to_runtime_dtype(np.ascontiguousarray(row[None], dtype=np.float32), inputs[0])])
            out = rt.run()[0]
            if quant and quant[0] is not None:
                out = dequantize(out, quant[0][0], quant[0][1])
            outs.append(np.asarray(out, dtype=np.float32).reshape(out.shape[1:] if out.shape[:1] == (1,) else out.shape))
    except RunnerError:
        raise
    except Exception as exc:
        raise RunnerError("run", "inference on --inputs failed: %s" % _one_line(exc))
    try:
        np.save(outputs_npy, np.stack(outs) if outs else np.zeros((0,), np.float32))
    except OSError as exc:
        raise RunnerError("output", "cannot write --outputs %s: %s" % (outputs_npy, exc))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]


def _base(args) -> dict:
    return {
        "schema_version": SCHEMA_VERSION, "runner": RUNNER, "status": "error", "error": None,
        "runtime": _runtime_name(args.format, args.model) if args.format else "unknown", "runtime_version": None,
        "format": args.format or "unknown", "model_path": args.model, "threads": args.threads, "delegate": None,
        "input_shapes": None, "load_ms": None, "first_inference_ms": None, "warmup_ms": [],
        "iterations_ms": [], "include_io": bool(args.include_io), "summary": None, "memory": None,
        "device_state": None, "host": host_info(), "outputs": None,
        "protocol": {"warmup_runs": args.warmup_runs, "warmup_seconds": args.warmup_seconds, "runs": args.runs,
                     "min_seconds": args.min_seconds, "max_seconds": args.max_seconds},
    }


def _runtime_name(fmt: str, path: str) -> str:
    if fmt == "torchscript" and path.endswith(".ptl"):
        return "torch_lite"
    return {"onnx": "onnxruntime", "tflite": "litert", "torchscript": "torchscript", "coreml": "coreml"}.get(fmt, fmt)


def _shape(text: str) -> list:
    try:
        dims = [int(d) for d in text.replace("x", ",").split(",") if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers like 1,3,224,224, got %r" % text)
    if not dims or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError("every dim must be a positive integer, got %r" % text)
    return dims


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="runner.py", description="Measure one model; write RawSamples JSON.")
    p.add_argument("model")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--json", required=True, help="where to write the RawSamples JSON")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--warmup-runs", type=int, default=10)
    p.add_argument("--warmup-seconds", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--input-shape", type=_shape, default=None)
    p.add_argument("--include-io", action="store_true")
    p.add_argument("--inputs", default=None, help=".npy batch run row by row after timing")
    p.add_argument("--outputs", default=None, help=".npy where the outputs of --inputs go")
    return p


def die_with_parent() -> None:
    """Linux: get SIGKILL when the parent (the harness, or the remote shell) dies, so a killed
    sweep leaves no orphan runner loading the CPU while the next measurement runs."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list | None = None) -> int:
    """Entry point: exit 0 with status ok, 1 with status error (the JSON says which stage)."""
    args = parser().parse_args(argv)
    die_with_parent()
    try:
        if not os.path.exists(args.model):
            raise RunnerError("load", "model file %s does not exist" % args.model)
        result = measure(args)
        code = 0
    except RunnerError as err:
        result = _base(args)
        result["error"] = {"stage": err.stage, "message": err.message, "hint": err.hint}
        code = 1
    except MemoryError:
        result = _base(args)
        result["error"] = {"stage": "run", "message": "out of memory", "hint": "a smaller model or input"}
        code = 1
    except Exception as exc:  # anything unexpected still becomes a result the harness can show
        result = _base(args)
        result["error"] = {"stage": "run", "message": "%s: %s" % (type(exc).__name__, _one_line(exc)),
                           "hint": None}
        traceback.print_exc()
        code = 1
    tmp = args.json + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, args.json)  # a half-written file never looks like a result
    return code


if __name__ == "__main__":
    sys.exit(main())
