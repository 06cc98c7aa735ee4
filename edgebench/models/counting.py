"""Parameter and MAC counts. MACs come from ``torch.utils.flop_counter`` (FLOPs / 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Counts:
    """params, non-zero params, MACs at batch 1, and MACs per aten operator."""

    params: int
    nonzero_params: int
    macs: int
    macs_by_op: dict[str, int] = field(default_factory=dict)

    @property
    def sparsity(self) -> float:
        """Share of parameters that are exactly zero."""
        return 1.0 - self.nonzero_params / self.params if self.params else 0.0


def param_counts(module: Any) -> tuple[int, int]:
    """(params, non-zero params); shared tensors counted once."""
    import torch

    seen: set[int] = set()
    total = nonzero = 0
    tensors = list(module.parameters())
    if not tensors:  # an exported / scripted module may keep weights as buffers
        tensors = [b for b in module.buffers() if b.is_floating_point()]
    for p in tensors:
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        nonzero += int(torch.count_nonzero(p.detach()))
    return total, nonzero


def _cpu_sdpa_flop(query, key, value, *args, out_shape=None, **kwargs) -> int:
    # FlopCounterMode hands shapes (it wraps custom formulas with its shape wrapper)
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query, key, value)


def count(module: Any, example: Any) -> Counts:
    """Count ``module`` on one example input (batch 1)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params, nonzero = param_counts(module)
    # the CPU flash-attention kernel is not in torch's table; it does the same work as the others
    cpu_sdpa = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    counter = FlopCounterMode(display=False, custom_mapping={cpu_sdpa: _cpu_sdpa_flop})
    # Grad stays on: under no_grad, nn.MultiheadAttention takes a fused fast path whose
    # projections the flop counter cannot see (ViT-B/16 would count 11.3 G instead of 17.6 G).
    with torch.enable_grad(), counter:
        module(example)
    by_op = {str(op).removeprefix("aten.").split(".")[0]: int(n) // 2
             for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return Counts(params, nonzero, counter.get_total_flops() // 2, by_op)
