"""TorchScript exporter: trace + freeze (``.pt``); ``--mobile`` adds ``optimize_for_mobile`` and
saves for the lite interpreter (``.ptl``).

- fp32: the shared trace of the module, frozen.
- fp16: weights and compute in half precision; a float32 input is cast in the graph and the
  output cast back, so callers feed the same tensors as for fp32.
- int8-dynamic: ``torch.ao.quantization.quantize_dynamic`` — int8 Linear weights, activations
  quantised on the fly. Convolutions stay float32 (PyTorch has no dynamic int8 convolution).
- int8 (static): FX graph-mode post-training quantisation (x86 / fbgemm qconfig, per-channel
  weights) calibrated on the calibration inputs, then traced and frozen.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.exporters.base import INPUT_NAME, OUTPUT_NAME, ConvertResult, Exporter, io_entry, register
from edgebench.exporters.context import ExportContext
from edgebench.exporters.converter_errors import converter_error
from edgebench.exporters.variants.layers import weight_layers
from edgebench.errors import UnsupportedError
from edgebench.spec import ExportSpec

ALTERNATIVES = "try --format onnx or --format tflite"


@dataclass(frozen=True)
class TorchScriptOptions:
    """TorchScript export options."""

    mobile: bool = field(default=False, metadata={
        "help": "TorchScript: optimize_for_mobile + lite-interpreter .ptl."})


def _cast_wrapper(module: Any) -> Any:
    """``module`` in half precision behind a float32 interface."""
    import torch
    import torch.nn as nn

    class Half(nn.Module):
        def __init__(self, inner: nn.Module):
            super().__init__()
            self.inner = inner.half()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x.half()).float()

    return Half(module).eval()


def _quantize_static(ctx: ExportContext) -> Any:
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    module = _copy(ctx.module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its own deprecation
        prepared = prepare_fx(module, get_default_qconfig_mapping("x86"), (ctx.example,))
        with torch.no_grad():
            for x in ctx.calibration:
                prepared(x)
        return convert_fx(prepared)


def _copy(module: Any) -> Any:
    import copy

    return copy.deepcopy(module).eval()


@register("torchscript")
class TorchScriptExporter(Exporter):
    """TorchScript via ``torch.jit.trace`` + ``torch.jit.freeze`` (optionally mobile-optimised)."""

    extension = ".pt"
    suffixes = (".pt", ".ptl")
    precisions = ("fp32", "fp16", "int8", "int8-dynamic")
    reads_torchscript = True  # a TorchScript checkpoint is re-traced / re-saved as it is
    runtime = "torch"
    extra = ""
    modules = ("torch",)
    converter_dist = "torch"
    libraries = ("torch",)
    cost = 1.0
    Options = TorchScriptOptions
    alternatives = ALTERNATIVES

    def extension_for(self, options: TorchScriptOptions) -> str:
        """``.ptl`` (lite interpreter) with ``mobile``, else ``.pt``."""
        return ".ptl" if options.mobile else ".pt"

    def _scripted(self, ctx: ExportContext) -> tuple[Any, list[str]]:
        import torch

        notes: list[str] = []
        precision = ctx.precision
        if precision == "fp32":
            return ctx.traced(), notes
        if precision.startswith("int8") and not weight_layers(ctx.module):
            # PyTorch's quantisation swaps nn.Conv / nn.Linear layers; a graph program has none, and
            # "quantising" it would write the fp32 model under an int8 label
            raise UnsupportedError(f"TorchScript {precision} needs nn.Conv / nn.Linear layers to quantise; "
                                   "this model (a torch.export or TorchScript program) has none",
                                   hint="export from the nn.Module (a state_dict with --arch), or use "
                                        "another format's int8")
        if precision == "fp16":
            module = _cast_wrapper(_copy(ctx.module))
        elif precision == "int8-dynamic":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = torch.ao.quantization.quantize_dynamic(_copy(ctx.module), {torch.nn.Linear},
                                                                dtype=torch.qint8)
            notes.append("int8-dynamic quantises Linear layers only; convolutions stay float32 "
                         "(PyTorch has no dynamic int8 convolution)")
        else:
            module = _quantize_static(ctx)
        with torch.no_grad():
            return torch.jit.trace(module, (ctx.example,), check_trace=False), notes

    def convert(self, ctx: ExportContext, spec: ExportSpec, dest: Path,
                options: TorchScriptOptions) -> ConvertResult:
        """Trace, freeze (and mobile-optimise) the module; save it at ``dest``."""
        import torch

        try:
            with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scripted, notes = self._scripted(ctx)
                frozen = torch.jit.freeze(scripted.eval())
                if options.mobile:
                    from torch.utils.mobile_optimizer import optimize_for_mobile

                    mobile = frozen
                    if torch._C._is_xnnpack_enabled():
                        mobile = optimize_for_mobile(frozen)
                    else:
                        # optimize_for_mobile asserts XNNPACK (absent from e.g. CUDA wheels); the
                        # lite-interpreter file is still valid, just not pre-fused for XNNPACK
                        notes.append("this torch build lacks XNNPACK, so optimize_for_mobile could not run: "
                                     "the .ptl is frozen but not mobile-optimised (export with a CPU torch wheel)")
                    mobile._save_for_lite_interpreter(str(dest))
                else:
                    torch.jit.save(frozen, str(dest))
        except UnsupportedError:
            raise
        except Exception as exc:  # tracing / freezing / quantising raise many types
            raise converter_error("torchscript", exc, ALTERNATIVES) from exc
        with torch.no_grad():
            out = ctx.module(ctx.example)
        dtype = "float32"
        quant = {}
        if ctx.precision.startswith("int8"):
            quant = {"mode": "static" if ctx.precision == "int8" else "dynamic",
                     "backend": "x86 (fbgemm)", "per_channel": ctx.precision == "int8",
                     "calibration_samples": len(ctx.calibration) or None}
        return ConvertResult(
            inputs=[io_entry(INPUT_NAME, ctx.example.shape, dtype)],
            outputs=[io_entry(OUTPUT_NAME, out.shape, dtype)],
            quantization=quant, notes=notes,
            details={"lite_interpreter": options.mobile},
        )

    def file_param_counts(self, path: Path) -> tuple[int | None, int | None]:
        """Floating-point parameters (or, frozen, tensor constants) of a ``.pt`` file; a lite ``.ptl``
        does not expose them."""
        if path.suffix != ".pt":
            return None, None
        import torch

        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except (RuntimeError, OSError, ValueError):  # not TorchScript: the run itself reports why
            return None, None
        tensors = [t for t in module.state_dict().values() if t.is_floating_point()]
        if not tensors:  # a frozen module keeps its weights as graph constants
            tensors = [n.output().toIValue() for n in module.graph.findAllNodes("prim::Constant")
                       if n.output().type().kind() == "TensorType"]
            tensors = [t for t in tensors if t.is_floating_point()]
        return sum(t.numel() for t in tensors), sum(int(t.count_nonzero()) for t in tensors)
