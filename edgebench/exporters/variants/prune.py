"""Pruning: L1 unstructured (zeros inside dense tensors) and structured (whole channels removed)."""

from __future__ import annotations

from typing import Any

from edgebench.errors import UnsupportedError
from edgebench.exporters.variants.layers import weight_layers, weight_matrices

UNSTRUCTURED_NOTE = (
    "unstructured sparsity only zeroes weights inside dense tensors: dense CPU kernels "
    "(XNNPACK, MLAS, Eigen) still multiply every zero, so latency stays about the same; "
    "use --structured to remove whole channels, or a sparse runtime, to gain speed"
)


def prune_unstructured(module: Any, amount: float) -> dict[str, Any]:
    """Zero the ``amount`` share of smallest-|w| values of every weight matrix, IN PLACE, permanently.

    Weight matrices are :func:`~edgebench.exporters.variants.layers.weight_matrices`: every
    Conv/Linear weight (patch embedding, MLP, attention ``out_proj``, classifier head) and the
    Q/K/V projections ``nn.MultiheadAttention`` keeps in ``in_proj_weight``. None is kept whole:
    unstructured zeros change no shape, so the head and first layer are pruned too. Uses
    ``torch.nn.utils.prune.l1_unstructured`` per tensor and ``prune.remove`` so the module holds
    plain parameters again (exportable). Returns the manifest facts (pruned tensors, a note on why
    sparsity alone does not speed dense kernels).
    """
    import torch
    from torch.nn.utils import prune

    matrices = weight_matrices(module)
    with torch.no_grad():
        for w in matrices:
            prune.l1_unstructured(w.owner, name=w.attr, amount=amount)
            prune.remove(w.owner, w.attr)
    attention = [w.name for w in matrices if w.attr != "weight"]
    return {"method": "torch.nn.utils.prune.l1_unstructured (per weight matrix, made permanent)",
            "pruned_layers": len(matrices),
            "pruned_scope": "every Conv/Linear weight and attention Q/K/V projection (in_proj_weight); "
                            "biases, norms, position embeddings and class tokens stay dense",
            **({"pruned_attention_projections": attention} if attention else {}),
            "note": UNSTRUCTURED_NOTE}


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
