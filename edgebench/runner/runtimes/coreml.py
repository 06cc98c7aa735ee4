"""Core ML through ``coremltools`` on macOS (CPU only, so figures compare with the other runtimes).

Timed region: ``MLModel.predict`` on a feed dict built before the loop."""

from __future__ import annotations

import sys

import numpy as np

from ..errors import RunnerError
from . import Runtime


class CoreMLRuntime(Runtime):
    name = "coreml"
    module = "coremltools"
    dist = "coremltools"
    platforms = ("darwin",)
    timed_region = "predict"
    install_hint = "install edgebench[coreml] on macOS"
    delegate = "CPU_ONLY"
    default_delegate = "cpu_only"

    def __init__(self, path: str, threads: int | None, input_shape: list | None):
        super().__init__(path, threads, input_shape)
        if not sys.platform.startswith("darwin"):
            raise RunnerError("unsupported", "unsupported here: CoreML needs macOS",
                              "measure .mlpackage artifacts on a Mac; use another format here")
        try:
            import coremltools as ct
        except ImportError as exc:
            raise self._missing(exc)
        self.ct = ct
        self.version = ct.__version__
        self._out = None

    def load(self) -> None:
        self.model = self.ct.models.MLModel(self.path, compute_units=self.ct.ComputeUnit.CPU_ONLY)
        self._names = [i.name for i in self.model.get_spec().description.input]

    def inputs(self) -> list:
        out = []
        for i in self.model.get_spec().description.input:
            shape = list(i.type.multiArrayType.shape) or (list(self.input_shape) if self.input_shape else None)
            out.append({"name": i.name, "shape": shape, "dtype": "float32", "scale": None, "zero_point": None})
        return out

    def bind(self, feed: list) -> None:
        self._feed = dict(zip(self._names, feed))

    def invoke(self) -> None:
        self._out = self.model.predict(self._feed)

    def outputs(self) -> list:
        return [np.array(v, copy=True) for v in self._out.values()]
