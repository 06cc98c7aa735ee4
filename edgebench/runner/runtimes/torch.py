"""PyTorch: TorchScript (``.pt``, ``torch.jit.load``) and the lite interpreter (``.ptl``).

Timed region: ``module.forward`` on pre-built tensors under ``torch.inference_mode()``."""

from __future__ import annotations

import numpy as np

from . import Runtime

LITE_SUFFIX = ".ptl"


class TorchRuntime(Runtime):
    name = "torch"
    module = "torch"
    dist = "torch"
    timed_region = "forward"
    install_hint = "install torch (edgebench's core dependency; on a device: pip install torch)"

    def __init__(self, path: str, threads: int | None, input_shape: list | None):
        super().__init__(path, threads, input_shape)
        try:
            import torch
        except ImportError as exc:
            raise self._missing(exc)
        self.torch = torch
        self.version = torch.__version__
        if threads:
            torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)  # one inference at a time, like the other runtimes
        except RuntimeError:  # only settable before any parallel work; a fresh process always can
            pass
        self.lite = self.path.endswith(LITE_SUFFIX)
        self.delegate = "lite_interpreter" if self.lite else None
        self._out = None

    def load(self) -> None:
        torch = self.torch
        if self.lite:
            from torch.jit.mobile import _load_for_lite_interpreter
            self.module_ = _load_for_lite_interpreter(self.path)
        else:
            self.module_ = torch.jit.load(self.path, map_location="cpu")
            self.module_.eval()

    def inputs(self) -> list:
        # a TorchScript file does not record its input shape: --input-shape (or the manifest) says it
        return [{"name": "input", "shape": list(self.input_shape) if self.input_shape else None,
                 "dtype": "float32", "scale": None, "zero_point": None}]

    def bind(self, feed: list) -> None:
        self._feed = [self.torch.from_numpy(np.ascontiguousarray(x)) for x in feed]

    def invoke(self) -> None:
        with self.torch.inference_mode():
            self._out = self.module_(*self._feed)

    def outputs(self) -> list:
        out = self._out
        if isinstance(out, (tuple, list)):
            return [o.numpy().copy() for o in out]
        if isinstance(out, dict):
            return [v.numpy().copy() for v in out.values()]
        return [out.numpy().copy()]
