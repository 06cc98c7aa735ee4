"""Which Conv / Linear layers a module has, in the order they run, and how sparse their weights are."""

from __future__ import annotations

from typing import Any


def _registered(module: Any) -> list[tuple[str, Any]]:
    import torch.nn as nn

    kinds = (nn.modules.conv._ConvNd, nn.Linear)
    return [(n, m) for n, m in module.named_modules() if isinstance(m, kinds)]


def called_layers(module: Any, example: Any) -> list[tuple[str, Any]]:
    """``(name, layer)`` of the Conv/Linear layers whose own ``forward`` runs on ``example``, in the
    order they run. Layers a parent uses through its weights only (MultiheadAttention's
    ``out_proj``) are not in it."""
    import torch

    registered = _registered(module)
    names = {id(m): n for n, m in registered}
    order: list[tuple[str, Any]] = []
    seen: set[int] = set()

    def hook(mod: Any, args: Any) -> None:
        if id(mod) not in seen:
            seen.add(id(mod))
            order.append((names[id(mod)], mod))

    handles = [m.register_forward_pre_hook(hook) for _, m in registered]
    try:
        with torch.no_grad():
            module(example)
    finally:
        for h in handles:
            h.remove()
    return order


def weight_layers(module: Any, example: Any = None) -> list[tuple[str, Any]]:
    """``(name, layer)`` for every Conv/Linear of ``module``.

    With ``example`` the layers come in the order they run on that input (what "first" and "last"
    layer mean), then those that never run their own forward, in registration order.
    """
    registered = _registered(module)
    if example is None:
        return registered
    order = called_layers(module, example)
    ran = {id(m) for _, m in order}
    return order + [(n, m) for n, m in registered if id(m) not in ran]


def weight_sparsity(module: Any) -> float:
    """Share of exactly-zero weights over all Conv/Linear weight tensors (biases excluded)."""
    import torch

    total = zeros = 0
    for _, layer in weight_layers(module):
        w = layer.weight.detach()
        total += w.numel()
        zeros += int(w.numel() - torch.count_nonzero(w))
    return zeros / total if total else 0.0
