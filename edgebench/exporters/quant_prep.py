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
"""

from __future__ import annotations

import copy
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
