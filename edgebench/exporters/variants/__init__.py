"""Torch-level variants applied before any format: pruning (unstructured / structured) and binarizing.

``apply(module, variant, example)`` gives a new eval-mode module with the transform applied and
the facts the manifest reports about it (sparsity, params and MACs before/after, layers kept in
full precision, packed 1-bit size). Precision (fp16 / int8) is not a variant transform: each
exporter owns its own quantisation.
"""

from __future__ import annotations

from typing import Any, Callable

from edgebench.errors import ConfigError
from edgebench.spec import Variant

__all__ = ["apply", "called_layers", "weight_layers", "weight_sparsity", "TRANSFORMS"]


def _prune(module: Any, variant: Variant, example: Any) -> dict[str, Any]:
    from edgebench.exporters.variants.prune import prune_unstructured

    return prune_unstructured(module, variant.amount)


def _prune_structured(module: Any, variant: Variant, example: Any) -> dict[str, Any]:
    from edgebench.exporters.variants.prune import prune_structured

    return prune_structured(module, variant.amount, example)


def _binarize(module: Any, variant: Variant, example: Any) -> dict[str, Any]:
    from edgebench.exporters.variants.binarize import binarize

    return binarize(module, example, activations=variant.binarize_activations)


# Each transform works IN PLACE on the copy apply() hands it and returns its own manifest facts.
TRANSFORMS: dict[str, Callable[[Any, Variant, Any], dict[str, Any]]] = {
    "prune": _prune,
    "prune_structured": _prune_structured,
    "binarize": _binarize,
}


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


def apply(module: Any, variant: Variant, example: Any) -> tuple[Any, dict[str, Any]]:
    """A NEW eval-mode module with ``variant``'s torch-level transform, and the manifest facts.

    The caller's module is never modified. For ``transform == "none"`` the module itself comes
    back (nothing to copy) with ``{"transform": "none"}``. Otherwise the info dict holds
    ``transform``, ``amount``, ``sparsity`` (zero share of Conv/Linear weights), ``params`` /
    ``nonzero_params`` / ``macs`` ``_before`` and ``_after`` plus what the transform adds
    (``kept_full_precision``, ``packed_1bit_bytes``, ``note`` …).
    """
    import copy

    from edgebench.models.counting import count

    if variant.transform == "none":
        return module, {"transform": "none"}
    transform = TRANSFORMS.get(variant.transform)
    if transform is None:
        raise ConfigError(f"unknown transform {variant.transform!r}",
                          hint=f"one of none, {', '.join(TRANSFORMS)}")
    before = count(module, example)
    new = copy.deepcopy(module).eval()
    extra = transform(new, variant, example)
    # requires_grad stays as the caller had it: count() relies on it to see MultiheadAttention's
    # projections (with no grad-requiring weights torch takes a fused path its flop counter misses)
    new = extra.pop("module", new).eval()
    after = count(new, example)
    info: dict[str, Any] = {
        "transform": variant.transform,
        "amount": variant.amount if variant.transform.startswith("prune") else None,
        "sparsity": weight_sparsity(new),
        "params_before": before.params, "params_after": after.params,
        "nonzero_params_before": before.nonzero_params, "nonzero_params_after": after.nonzero_params,
        "macs_before": before.macs, "macs_after": after.macs,
    }
    info.update(extra)
    return new, info
