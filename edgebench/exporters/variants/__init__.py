"""Torch-level variants applied before any format: pruning (unstructured / structured) and binarizing.

``apply(module, variant, example)`` gives a new eval-mode module with the transform applied and
the facts the manifest reports about it (sparsity, params and MACs before/after, layers kept in
full precision, packed 1-bit size). Precision (fp16 / int8) is not a variant transform: each
exporter owns its own quantisation.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from edgebench.errors import ConfigError, UnsupportedError
from edgebench.exporters.variants.binarize import binarize
from edgebench.exporters.variants.layers import (called_layers, layer_sparsity, model_sparsity, weight_layers,
                                                weight_matrices, weight_sparsity)
from edgebench.exporters.variants.prune import prune_structured, prune_unstructured
from edgebench.models.counting import count
from edgebench.spec import Variant

__all__ = ["apply", "called_layers", "layer_sparsity", "model_sparsity", "weight_layers", "weight_matrices",
           "weight_sparsity", "TRANSFORMS"]


def _prune(module: Any, variant: Variant, example: Any) -> dict[str, Any]:
    return prune_unstructured(module, variant.amount)


def _prune_structured(module: Any, variant: Variant, example: Any) -> dict[str, Any]:
    return prune_structured(module, variant.amount, example)


def _binarize(module: Any, variant: Variant, example: Any) -> dict[str, Any]:
    return binarize(module, example, activations=variant.binarize_activations)


# Each transform works IN PLACE on the copy apply() hands it and returns its own manifest facts.
TRANSFORMS: dict[str, Callable[[Any, Variant, Any], dict[str, Any]]] = {
    "prune": _prune,
    "prune_structured": _prune_structured,
    "binarize": _binarize,
}


def apply(module: Any, variant: Variant, example: Any) -> tuple[Any, dict[str, Any]]:
    """A NEW eval-mode module with ``variant``'s torch-level transform, and the manifest facts.

    The caller's module is never modified. For ``transform == "none"`` the module itself comes
    back (nothing to copy) with ``{"transform": "none"}``. Otherwise the info dict holds
    ``transform``, ``amount``, ``sparsity`` (zero share of the weight matrices: Conv/Linear weights
    and attention Q/K/V projections), ``sparsity_whole_model`` (zero share of every parameter,
    biases / norms / embeddings included), ``layer_sparsity`` (per weight matrix), ``params`` /
    ``nonzero_params`` / ``macs`` ``_before`` and ``_after`` plus what the transform adds
    (``kept_full_precision``, ``packed_1bit_bytes``, ``note`` …).
    """
    if variant.transform == "none":
        return module, {"transform": "none"}
    transform = TRANSFORMS.get(variant.transform)
    if transform is None:
        raise ConfigError(f"unknown transform {variant.transform!r}",
                          hint=f"one of none, {', '.join(TRANSFORMS)}")
    if not weight_layers(module):
        # a torch.export program or TorchScript module keeps its weights in a graph, not in
        # nn.Conv2d / nn.Linear layers: transforming nothing and calling it done would be a lie
        raise UnsupportedError(f"{variant.label}: the model has no nn.Conv / nn.Linear layers to "
                               f"{variant.transform.replace('_', ' ')} (a torch.export or TorchScript "
                               "program keeps its weights in a graph)",
                               hint="export from the nn.Module: a state_dict with --arch, or a pickled module")
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
        "sparsity_scope": "weight matrices: Conv/Linear weights and attention Q/K/V projections",
        "sparsity_whole_model": model_sparsity(new),
        "layer_sparsity": layer_sparsity(new),
        "params_before": before.params, "params_after": after.params,
        "nonzero_params_before": before.nonzero_params, "nonzero_params_after": after.nonzero_params,
        "macs_before": before.macs, "macs_after": after.macs,
    }
    info.update(extra)
    return new, info
