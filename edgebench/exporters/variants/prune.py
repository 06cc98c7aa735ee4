"""Pruning: L1 unstructured (zeros inside dense tensors) and structured (whole channels removed)."""

from __future__ import annotations

from typing import Any

from edgebench.errors import UnsupportedError
from edgebench.exporters.variants.layers import weight_layers

UNSTRUCTURED_NOTE = (
    "unstructured sparsity only zeroes weights inside dense tensors: dense CPU kernels "
    "(XNNPACK, MLAS, Eigen) still multiply every zero, so latency stays about the same; "
    "use --structured to remove whole channels, or a sparse runtime, to gain speed"
)


def prune_unstructured(module: Any, amount: float) -> dict[str, Any]:
    """Zero the ``amount`` share of smallest-|w| weights of every Conv/Linear, IN PLACE, permanently.

    Uses ``torch.nn.utils.prune.l1_unstructured`` per layer and ``prune.remove`` so the module
    holds plain weights again (exportable). Returns the manifest facts (pruned layers, a note
    on why sparsity alone does not speed dense kernels).
    """
    import torch
    from torch.nn.utils import prune

    layers = weight_layers(module)
    with torch.no_grad():
        for _, layer in layers:
            prune.l1_unstructured(layer, name="weight", amount=amount)
            prune.remove(layer, "weight")
    return {"method": "torch.nn.utils.prune.l1_unstructured (per layer, made permanent)",
            "pruned_layers": len(layers), "note": UNSTRUCTURED_NOTE}


def prune_structured(module: Any, amount: float, example: Any) -> dict[str, Any]:
    """Remove the ``amount`` share of channels (lowest L1 norm) from ``module`` with torch-pruning.

    Dependent layers (BatchNorm, depthwise convs, residual adds) shrink with them, so params
    and MACs really drop. The layer producing the model's output is left whole, so the number
    of classes (or output channels) stays. Returns the manifest facts; the pruned module comes
    back under ``"module"`` (torch-pruning edits in place).
    """
    import torch

    try:
        import torch_pruning as tp
    except ImportError:
        raise UnsupportedError("structured pruning needs torch-pruning, which is not installed",
                               hint="pip install 'edgebench[prune]'") from None
    layers = weight_layers(module, example)
    if len(layers) < 2:
        raise UnsupportedError("structured pruning needs at least two Conv/Linear layers",
                               hint="use --prune without --structured")
    head_name, head = layers[-1]
    for p in module.parameters():  # torch-pruning traces the autograd graph (the copy is ours)
        p.requires_grad_(True)
    try:
        pruner = tp.pruner.BasePruner(
            module, example_inputs=example,
            importance=tp.importance.MagnitudeImportance(p=1),  # L1 norm of each channel group
            pruning_ratio=amount, ignored_layers=[head], global_pruning=False,
        )
        pruner.step()
        with torch.no_grad():
            module(example)  # a graph torch-pruning misread shows up here as a shape error
    except Exception as exc:  # torch-pruning's graph tracing raises many types on exotic models
        raise UnsupportedError(f"structured pruning: torch-pruning could not prune this model: "
                               f"{type(exc).__name__}: {exc}",
                               hint="use --prune without --structured") from exc
    version = getattr(tp, "__version__", "")
    return {"method": f"torch-pruning {version}: L1 MagnitudeImportance, same channel ratio per layer",
            "channel_ratio": amount, "kept_whole": [head_name],
            "kept_whole_reason": "output layer keeps its size so the number of classes stays",
            "module": module}
