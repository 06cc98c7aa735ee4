"""LiteRT (``ai_edge_litert``), the TFLite interpreter with its default XNNPACK delegate on CPU.

Delegates (``--delegate``): ``xnnpack`` (default: the interpreter's own op resolver, which applies
XNNPACK) or ``none`` (the built-in kernels: ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``). Coverage comes
from the interpreter's post-delegation node list (:func:`coverage`).

Timed region: ``interpreter.invoke()`` after a single ``set_tensor`` per input — what LiteRT's
``benchmark_model`` times (inputs set once, then ``Invoke()``); ``get_tensor`` after the loop."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..errors import RunnerError
from . import Runtime


class LiteRtRuntime(Runtime):
    name = "litert"
    module = "ai_edge_litert"
    dist = "ai-edge-litert"
    timed_region = "invoke"
    install_hint = "install edgebench[tflite] (on a device: pip install ai-edge-litert)"
    delegate = "XNNPACK"
    default_delegate = "xnnpack"

    def __init__(self, path: str, threads: int | None, input_shape: list | None):
        super().__init__(path, threads, input_shape)
        try:
            from ai_edge_litert import interpreter as lite
        except ImportError as exc:
            raise self._missing(exc)
        try:
            from importlib.metadata import PackageNotFoundError, version
            self.version = version(self.dist)
        except (ImportError, PackageNotFoundError):  # a vendored copy without metadata
            self.version = getattr(lite, "__version__", None)
        self._lite = lite

    def available_delegates(self) -> list:
        return ["xnnpack", "none"]

    def load(self) -> None:
        if self.delegate_name == "none":
            self.delegate = None
            resolver = self._lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        else:  # the default op resolver applies the XNNPACK delegate on CPU
            resolver = self._lite.OpResolverType.AUTO
        self.interp = self._lite.Interpreter(model_path=self.path, num_threads=self.threads,
                                             experimental_op_resolver_type=resolver)
        details = self.interp.get_input_details()
        if self.input_shape and len(details) == 1:
            sig = list(details[0].get("shape_signature", details[0]["shape"]))
            if any(d < 0 for d in sig) and list(details[0]["shape"]) != list(self.input_shape):
                self.interp.resize_tensor_input(details[0]["index"], list(self.input_shape))
        self.interp.allocate_tensors()
        self._details()

    def _details(self) -> None:
        self._in = self.interp.get_input_details()
        self._out = self.interp.get_output_details()

    def inputs(self) -> list:
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
        if len(feed) != len(self._in):
            raise RunnerError("input", "the model has %d inputs, %d given" % (len(self._in), len(feed)))
        interp = self.interp
        if any(list(d["shape"]) != list(x.shape) for d, x in zip(self._in, feed)):
            for d, x in zip(self._in, feed):  # a dynamic dim takes another size: re-plan once
                interp.resize_tensor_input(d["index"], list(x.shape))
            interp.allocate_tensors()
            self._details()
        for d, x in zip(self._in, feed):
            interp.set_tensor(d["index"], x)

    def delegation(self) -> dict | None:
        details = getattr(self.interp, "_get_ops_details", None)  # private, but LiteRT's only node list
        if details is None:
            return None
        return dict(coverage(details()), delegate=self.delegate_name or "xnnpack")

    def invoke(self) -> None:
        self.interp.invoke()

    def outputs(self) -> list:
        return [self.interp.get_tensor(d["index"]) for d in self._out]

    def profile_ops(self, feed: list, runs: int) -> list:
        """Not available from Python: ``ai_edge_litert``'s Interpreter has no op profiler (its
        ``_get_ops_details`` names the ops, without timings); LiteRT's per-op timings come from the
        native ``benchmark_model --enable_op_profiling`` (the adb target's default runner)."""
        raise RunnerError("profile", "ai_edge_litert's Python Interpreter exposes no per-operator timing "
                                     "(only op names); use benchmark_model --enable_op_profiling")

def coverage(ops: list) -> dict:
    """Delegate coverage from an allocated interpreter's ``_get_ops_details()``: the model's own
    nodes come first, then one ``DELEGATE`` node per partition a delegate took. A model node
    belongs to a partition when it lies between that DELEGATE node's outputs and its inputs
    (walking producers backwards); every other model node runs on the built-in kernels.

    Returns ``{delegated_nodes, total_nodes, partitions, fallback_ops: {op name: count},
    ops: {op name: count of the model's nodes}}``."""
    nodes = [o for o in ops if o["op_name"] != "DELEGATE"]
    kernels = [o for o in ops if o["op_name"] == "DELEGATE"]
    producer = {}
    for o in nodes:
        for t in o["outputs"]:
            producer[int(t)] = o["index"]
    by_index = {o["index"]: o for o in nodes}
    taken = set()
    for k in kernels:
        boundary = set(int(t) for t in k["inputs"])
        stack = [int(t) for t in k["outputs"]]
        while stack:
            t = stack.pop()
            n = producer.get(t)
            if n is None or n in taken or t in boundary:
                continue
            taken.add(n)
            stack.extend(int(i) for i in by_index[n]["inputs"] if int(i) >= 0)
    rest = Counter(o["op_name"] for o in nodes if o["index"] not in taken)
    return {"delegated_nodes": len(taken), "total_nodes": len(nodes), "partitions": len(kernels),
            "fallback_ops": dict(sorted(rest.items())),
            "ops": dict(sorted(Counter(o["op_name"] for o in nodes).items()))}
