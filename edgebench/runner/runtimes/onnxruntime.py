"""ONNX Runtime (CPU execution provider): inputs and outputs bound once through ``IOBinding``.

Timed region: ``session.run_with_iobinding`` on OrtValues bound before the loop — the inputs copied
once into runtime-owned OrtValues, the outputs pre-allocated for their shapes — which is what
``onnxruntime_perf_test`` times (pre-created input tensors, no per-run feed dict).

Execution providers (``--delegate``): ``cpu`` (default) or any other provider this wheel lists in
``get_available_providers()``, by its short lower-case name (``xnnpack`` for
``XnnpackExecutionProvider``) or its full name; CPU stays behind it as the fallback. Coverage:
one profiled run in a second session after timing (the timed session never profiles) gives the
provider of every node of the optimised graph."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter

import numpy as np

from ..errors import RunnerError
from . import Runtime

# ONNX element type (``tensor(float)``) → numpy dtype name
_DTYPES = {"float": "float32", "double": "float64", "float16": "float16", "int8": "int8", "uint8": "uint8",
           "int16": "int16", "uint16": "uint16", "int32": "int32", "uint32": "uint32", "int64": "int64",
           "uint64": "uint64", "bool": "bool"}


def _dtype(ort_type: str) -> str:
    inner = ort_type[len("tensor("):-1] if ort_type.startswith("tensor(") else ort_type
    return _DTYPES.get(inner, inner)


class OrtRuntime(Runtime):
    name = "onnxruntime"
    module = "onnxruntime"
    dist = "onnxruntime"
    timed_region = "run_with_iobinding"
    install_hint = "install edgebench[onnx] (on a device: pip install onnxruntime)"
    delegate = "CPUExecutionProvider"
    default_delegate = "cpu"

    def __init__(self, path: str, threads: int | None, input_shape: list | None):
        super().__init__(path, threads, input_shape)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise self._missing(exc)
        self.version = ort.__version__
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or 0  # 0 = ORT's default (one per physical core)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self._ort = ort
        self._opts = opts
        self._binding = None
        self._in_values: list = []
        self._out_values: list = []

    def _providers_by_name(self) -> dict:
        names = {}
        for full in self._ort.get_available_providers():
            names[full.replace("ExecutionProvider", "").lower()] = full
        names.setdefault("cpu", "CPUExecutionProvider")
        return names

    def available_delegates(self) -> list:
        names = self._providers_by_name()
        return ["cpu"] + sorted(n for n in names if n != "cpu")

    @classmethod
    def canonical_delegate(cls, name: str | None) -> str | None:
        """``cpu`` for ``CPU``, ``cpu`` or ``CPUExecutionProvider`` (the provider's full name is an
        alias of its short one, any case)."""
        name = super().canonical_delegate(name)
        full = "executionprovider"
        return name[:-len(full)] if name and name.endswith(full) and name != full else name

    def _providers(self) -> list:
        full = self._providers_by_name()[self.delegate_name or "cpu"]
        return [full] if full == "CPUExecutionProvider" else [full, "CPUExecutionProvider"]

    def load(self) -> None:
        providers = self._providers()
        self.session = self._ort.InferenceSession(self.path, sess_options=self._opts, providers=providers)
        used = self.session.get_providers()
        if providers[0] not in used:  # ORT dropped a provider that failed to initialise
            raise RunnerError("unsupported", "%s did not apply to %s (session providers: %s)"
                              % (providers[0], os.path.basename(self.path), ", ".join(used)),
                              "pick one of: " + ", ".join(self.available_delegates()))
        self.delegate = providers[0]
        self._in_meta = self.session.get_inputs()
        self._out_meta = self.session.get_outputs()

    def inputs(self) -> list:
        out = []
        for i in self._in_meta:
            shape = [d if isinstance(d, int) and d >= 0 else None for d in i.shape]
            out.append({"name": i.name, "shape": shape, "dtype": _dtype(i.type), "scale": None, "zero_point": None})
        return out

    def bind(self, feed: list) -> None:
        if len(feed) != len(self._in_meta):
            raise RunnerError("input", "the model has %d inputs, %d given" % (len(self._in_meta), len(feed)))
        feed = [np.ascontiguousarray(x) for x in feed]
        same = self._binding is not None and all(
            v.shape() == list(x.shape) and v.data_type() == self._in_types[k] and x.dtype == self._in_np[k]
            for k, (v, x) in enumerate(zip(self._in_values, feed)))
        if same:
            for v, x in zip(self._in_values, feed):
                v.update_inplace(x)  # copy-in to the bound buffer (never share the caller's array)
        else:
            self._bind_new(feed)

    def _bind_new(self, feed: list) -> None:
        OrtValue = self._ort.OrtValue
        binding = self.session.io_binding()
        self._in_values = [OrtValue.ortvalue_from_shape_and_type(list(x.shape), x.dtype.type) for x in feed]
        for v, x in zip(self._in_values, feed):
            v.update_inplace(x)
        self._in_types = [v.data_type() for v in self._in_values]
        self._in_np = [x.dtype for x in feed]
        for meta, value in zip(self._in_meta, self._in_values):
            binding.bind_ortvalue_input(meta.name, value)
        shapes = [list(o.shape) for o in self._out_meta]
        if not all(isinstance(d, int) and d >= 0 for s in shapes for d in s):
            # symbolic output dims: one untimed run with ORT-allocated outputs tells their shapes
            for meta in self._out_meta:
                binding.bind_output(meta.name, "cpu")
            self.session.run_with_iobinding(binding)
            shapes = [v.shape() for v in binding.get_outputs()]
            binding.clear_binding_outputs()
        self._out_values = [OrtValue.ortvalue_from_shape_and_type(s, np.dtype(_dtype(m.type)).type)
                            for s, m in zip(shapes, self._out_meta)]
        for meta, value in zip(self._out_meta, self._out_values):
            binding.bind_ortvalue_output(meta.name, value)
        self._binding = binding

    def delegation(self) -> dict | None:
        """One profiled run (its own session, after timing) → the provider of every executed node."""
        opts = self._ort.SessionOptions()
        opts.intra_op_num_threads = self._opts.intra_op_num_threads
        opts.log_severity_level = 3
        opts.enable_profiling = True
        with tempfile.TemporaryDirectory(prefix="edgebench-ort-") as tmp:
            opts.profile_file_prefix = os.path.join(tmp, "profile")
            session = self._ort.InferenceSession(self.path, sess_options=opts, providers=self._providers())
            feed = {m.name: v.numpy() for m, v in zip(self._in_meta, self._in_values)}
            for _ in range(3):  # the last run is warm: its kernel times are the ones op_ms keeps
                session.run(None, feed)
            path = session.end_profiling()
            with open(path) as fh:
                events = json.load(fh)
        return dict(provider_coverage(events, self.delegate), delegate=self.delegate_name or "cpu")

    def invoke(self) -> None:
        self.session.run_with_iobinding(self._binding)

    def outputs(self) -> list:
        return [np.array(v.numpy(), copy=True) for v in self._out_values]

    def profile_ops(self, feed: list, runs: int) -> list:
        """ONNX Runtime's session profiling (``SessionOptions.enable_profiling``): a second session
        with the same options writes a JSON trace whose ``Node`` events (``*_kernel_time``) give
        each node's op type, name, duration (µs) and execution provider; only the events inside the
        last ``runs`` ``model_run`` windows count (the warm-up runs before them do not)."""
        import json
        import os
        import shutil
        import tempfile

        from ..ops import PROFILE_WARMUP, aggregate

        where = tempfile.mkdtemp(prefix="edgebench-ort-profile-")
        try:
            opts = self._ort.SessionOptions()
            opts.intra_op_num_threads = self._opts.intra_op_num_threads
            opts.inter_op_num_threads = self._opts.inter_op_num_threads
            opts.execution_mode = self._opts.execution_mode
            opts.log_severity_level = 3
            opts.enable_profiling = True
            opts.profile_file_prefix = os.path.join(where, "ort")
            session = self._ort.InferenceSession(self.path, sess_options=opts, providers=self._providers())
            named = {m.name: np.ascontiguousarray(x) for m, x in zip(session.get_inputs(), feed)}
            for _ in range(PROFILE_WARMUP + runs):
                session.run(None, named)
            with open(session.end_profiling()) as fh:
                trace = json.load(fh)
        finally:
            shutil.rmtree(where, ignore_errors=True)
        windows = [(e["ts"], e["ts"] + e["dur"]) for e in trace if e.get("name") == "model_run"][-runs:]
        events = []
        for e in trace:
            name = e.get("name", "")
            if e.get("cat") != "Node" or not name.endswith("_kernel_time"):
                continue
            if not any(lo <= e["ts"] <= hi for lo, hi in windows):
                continue
            args = e.get("args") or {}
            provider = args.get("provider")
            events.append((args.get("op_name", "?"), name[:-len("_kernel_time")], e["dur"] / 1e3,
                           provider not in (None, "CPUExecutionProvider"), provider))
        return aggregate(events, len(windows) or 1)

def provider_coverage(events: list, provider: str) -> dict:
    """Coverage from an ONNX Runtime profile (the ``enable_profiling`` JSON): every ``Node`` event
    ``…_kernel_time`` names its node, op and execution provider. Nodes on ``provider`` are
    delegated; ``partitions`` counts runs of consecutive delegated nodes in execution order (None
    when ``provider`` is the CPU provider itself, which has no fallback); ``ops`` counts the executed
    nodes per op type and ``op_ms`` sums their kernel time in the last profiled run (ms)."""
    order, seen = [], set()
    op_ms = Counter()
    runs = [e.get("ts", 0) for e in events if e.get("name") == "model_run"]
    last_run = max(runs) if runs else 0
    for e in events:
        args = e.get("args") or {}
        name = e.get("name", "")
        if e.get("cat") != "Node" or not name.endswith("_kernel_time") or "provider" not in args:
            continue
        node = name[:-len("_kernel_time")]
        if e.get("ts", 0) >= last_run:
            op_ms[args.get("op_name", "?")] += e.get("dur", 0) / 1000.0
        if node in seen:
            continue
        seen.add(node)
        order.append((args.get("op_name", "?"), args["provider"]))
    on = [p == provider for _, p in order]
    partitions = None
    if provider != "CPUExecutionProvider":
        partitions = sum(1 for k, v in enumerate(on) if v and (k == 0 or not on[k - 1]))
    rest = Counter(op for op, p in order if p != provider)
    return {"delegated_nodes": sum(on), "total_nodes": len(order), "partitions": partitions,
            "fallback_ops": dict(sorted(rest.items())),
            "ops": dict(sorted(Counter(op for op, _ in order).items())),
            "op_ms": {op: round(ms, 4) for op, ms in op_ms.most_common()}}
