"""Torch-level rewrites that let an int8 quantizer keep a graph whole (issue 14).

MobileNetV3's ``hardswish`` and ``hardsigmoid`` have no int8 kernel in XNNPACK: quantized as they
are, each one drops out of the delegate (20 partitions in MobileNetV3-Small) and the float
arithmetic around them needs QUANTIZE / DEQUANTIZE pairs. Written as the ops every int8 quantizer
and delegate covers, they stay int8 and inside one partition:

    hardsigmoid(x) = relu6(x + 3) · 1/6
    hardswish(x)   = x · relu6(x + 3) · 1/6

Both forms are exact in float (the same piecewise-linear function); only the int8 rounding differs.
:func:`observe_chained_adds` fixes a second leak, in PT2E's prepare step: when a residual ADD's
output feeds the next block's residual ADD directly (MobileNetV3 blocks 5→6, 10→11), that edge got
no observer, so the second ADD ran in float between DEQUANTIZE and QUANTIZE (4 float ADDs, 10
QUANTIZE/DEQUANTIZE in MobileNetV3-Small).

On a 4-D (image) tensor the constants 3 and 1/6 are (1, 1, 1, 1) buffers rather than Python scalars:
a quantized rank-0 constant makes litert-torch keep that ADD in NCHW with a TRANSPOSE on each side
(36 in MobileNetV3-Small: 1.42× fp32 instead of 1.78× measured on the same CPU).

Accuracy helpers shared by the int8 paths: :func:`bias_corrected` (empirical bias correction of the
int8 weight rounding, ~+1 dB logit SQNR on MobileNetV2) and :func:`percentile_observer` (PT2E
activation ranges from the 99.999th percentile, as onnxruntime's default calibration). Numbers in
the TFLite and ONNX exporters' docstrings.
"""

from __future__ import annotations

import copy
import functools
from typing import Any


def relu6_activations(module: Any) -> tuple[Any, int]:
    """A copy of ``module`` (in eval mode) with every ``nn.Hardswish`` / ``nn.Hardsigmoid``
    submodule replaced by its relu6 form, and how many were replaced (0: the copy is unchanged,
    e.g. MobileNetV2). Functional ``F.hardswish`` calls inside ``forward`` are not seen."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Relu6Hardsigmoid(nn.Module):
        """hardsigmoid as relu6(x + 3) / 6: add, clamp and mul, all int8-quantizable."""

        def __init__(self):
            super().__init__()
            self.register_buffer("three", torch.full((1, 1, 1, 1), 3.0), persistent=False)
            self.register_buffer("sixth", torch.full((1, 1, 1, 1), 1.0 / 6.0), persistent=False)

        def gate(self, x):
            if x.dim() == 4:
                return F.relu6(x + self.three) * self.sixth
            return F.relu6(x + 3.0) * (1.0 / 6.0)

        def forward(self, x):
            return self.gate(x)

    class Relu6Hardswish(Relu6Hardsigmoid):
        """hardswish as x · relu6(x + 3) / 6."""

        def forward(self, x):
            return x * self.gate(x)

    rewritten = copy.deepcopy(module)
    swaps = {nn.Hardswish: Relu6Hardswish, nn.Hardsigmoid: Relu6Hardsigmoid}
    n = 0
    for parent in list(rewritten.modules()):
        for name, child in list(parent.named_children()):
            new = swaps.get(type(child))
            if new is not None:
                setattr(parent, name, new())
                n += 1
    rewritten.training = False  # not .eval(): a graph module from PT2E refuses eval()
    for m in rewritten.modules():
        m.training = False
    return rewritten, n


_ELEMENTWISE = ("add.Tensor", "add_.Tensor", "mul.Tensor", "mul_.Tensor")


def observe_chained_adds(prepared: Any) -> int:
    """In a PT2E-prepared graph module, route every element-wise add / mul input that reads another
    op's output directly (bypassing the observer PT2E put on that output) through that observer,
    so ``convert_pt2e`` quantizes the edge. Returns how many edges were re-routed (0: nothing to fix)."""
    def observer(node: Any) -> bool:
        return node.op == "call_module" and "activation_post_process" in str(node.target)

    fixed = 0
    for node in prepared.graph.nodes:
        if node.op != "call_function" or not str(node.target).endswith(_ELEMENTWISE):
            continue
        args = []
        for arg in node.args:
            if hasattr(arg, "op") and arg.op == "call_function":
                seen = [u for u in arg.users if observer(u)]
                if seen:
                    arg, fixed = seen[0], fixed + 1
            args.append(arg)
        node.args = tuple(args)
    if fixed:
        prepared.recompile()
    return fixed


def bias_corrected(module: Any, calibration: list[Any], min_scale: float = 0.0,
                   float_stem: int = 0) -> tuple[Any, int]:
    """Empirical bias correction for per-channel symmetric int8 weights (Nagel et al., "Data-Free
    Quantization", 2019): a traced copy of ``module`` with every BatchNorm2d that follows a Conv2d
    folded into it, and each Conv2d's bias shifted per output channel by the mean error its weight
    rounding causes on ``calibration`` (batch tensors fed in order): E[conv(x, W − Q(W))], where
    Q(W) is the int8 grid the quantizers use (scale = max |W| / 127 per output channel, at least
    ``min_scale``). The weights become Q(W) themselves, so the quantizer's own rounding is exact.
    Float outputs change by the correction only (a few 1e-3 of a logit on MobileNetV2).
    ``float_stem`` convs the caller keeps in float are left as they are: 1 = the first conv when it
    reads the graph input with ≤ 4 channels (an image stem), 2 = also the depthwise conv right after
    it (the ONNX exporter's ``float_stem`` choices).

    Returns (module, convs corrected); (``module``, 0) when torch.fx cannot trace it (data-dependent
    control flow): the caller quantizes the model as it is."""
    import torch
    import torch.fx as fx
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    try:
        gm = fx.symbolic_trace(copy.deepcopy(module).eval())
    except Exception:  # noqa: BLE001 - fx raises many types for untraceable code; such models stay as they are
        return module, 0
    mods = dict(gm.named_modules())

    def replace(target: str, new: Any) -> None:
        parent, _, name = target.rpartition(".")
        setattr(gm.get_submodule(parent) if parent else gm, name, new)

    for node in list(gm.graph.nodes):
        src = node.args[0] if node.args else None
        if (node.op == "call_module" and isinstance(mods.get(node.target), nn.BatchNorm2d)
                and getattr(src, "op", None) == "call_module" and isinstance(mods.get(src.target), nn.Conv2d)
                and len(src.users) == 1):
            replace(src.target, fuse_conv_bn_eval(mods[src.target], mods[node.target]))
            node.replace_all_uses_with(src)
            gm.graph.erase_node(node)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()

    def grid(w: Any) -> Any:
        scale = (w.abs().amax(dim=(1, 2, 3), keepdim=True) / 127).clamp(min=min_scale)
        return torch.where(scale > 0, (w / scale.clamp(min=1e-30)).round().clamp(-127, 127) * scale, w)

    mods = dict(gm.named_modules())  # after the folding
    order = [n for n in gm.graph.nodes if n.op == "call_module" and isinstance(mods.get(n.target), nn.Conv2d)]
    convs = {n.target: mods[n.target] for n in order}
    if (float_stem and order and mods[order[0].target].in_channels <= 4
            and getattr(order[0].args[0], "op", None) == "placeholder"):
        convs.pop(order[0].target, None)
        dw = mods[order[1].target] if float_stem > 1 and len(order) > 1 else None
        if dw is not None and dw.groups == dw.in_channels == dw.out_channels > 1:
            convs.pop(order[1].target, None)
    error: dict[str, Any] = {}

    def hook(name: str) -> Any:
        def record(m: Any, inputs: Any, _out: Any) -> None:
            e = F.conv2d(inputs[0], m.weight - grid(m.weight), None, m.stride, m.padding, m.dilation, m.groups)
            error[name] = error.get(name, 0) + e.mean(dim=(0, 2, 3))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in convs.items()]
    try:
        with torch.no_grad():
            for x in calibration:
                gm(x)
    finally:
        for h in handles:
            h.remove()
    with torch.no_grad():
        for name, m in convs.items():
            if name not in error:
                continue
            if m.bias is None:
                m.bias = nn.Parameter(torch.zeros(m.out_channels))
            m.bias.add_(error[name] / len(calibration))
            m.weight.copy_(grid(m.weight))
    gm.training = False
    return gm, len(error)


@functools.lru_cache(maxsize=None)
def percentile_observer() -> Any:
    """A torchao PT2E activation observer whose range is the [100 − p, p] percentile interval
    (p = ``percentile``, default 99.999, onnxruntime's Percentile calibration) of the histogram
    torchao's HistogramObserver keeps, instead of that observer's L2-error search (which clips
    the rare large activations that decide a classifier's top-1). Use it as
    ``percentile_observer().with_args(percentile=…, eps=…)``."""
    import torch
    from torchao.quantization.pt2e import HistogramObserver

    class PercentileObserver(HistogramObserver):
        def __init__(self, *args: Any, percentile: float = 99.999, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.percentile = percentile

        def _non_linear_param_search(self) -> tuple[Any, Any]:
            total = self.histogram.sum()
            if total <= 0:
                return self.min_val, self.max_val
            cumulative = torch.cumsum(self.histogram, dim=0) / total
            tail = torch.tensor([1.0 - self.percentile / 100.0, self.percentile / 100.0], dtype=cumulative.dtype)
            lo, hi = torch.searchsorted(cumulative, tail).clamp(max=self.bins - 1).tolist()
            width = (self.max_val - self.min_val) / self.bins
            return self.min_val + width * lo, self.min_val + width * (hi + 1)

    return PercentileObserver
