"""Binarization: sign(W) × per-output-channel mean |W| for every weight matrix (Conv/Linear and the
attention Q/K/V projections), first and last layer kept."""

from __future__ import annotations

import math
from typing import Any

from edgebench.exporters.variants.layers import attention_weights, called_layers, weight_layers

KEPT_REASON = "first and last layer kept in full precision"


def _sign_module() -> Any:
    import torch.nn as nn

    class SignActivation(nn.Module):
        """x ≥ 0 → +1, x < 0 → −1, written with compare/cast/mul/sub so every format exports it."""

        def forward(self, x):
            return (x >= 0).to(x.dtype) * 2 - 1

    return SignActivation()


def binarize_tensor(weight: Any) -> Any:
    """sign(W) (0 counts as +) scaled per output channel (dim 0) by that channel's mean |W|."""
    import torch

    dims = tuple(range(1, weight.dim()))
    alpha = weight.abs().mean(dim=dims, keepdim=True) if dims else weight.abs()
    return torch.where(weight >= 0, alpha, -alpha)


def binarize(module: Any, example: Any, activations: bool = False) -> dict[str, Any]:
    """Binarize every weight matrix of ``module`` IN PLACE except the first and last layer.

    Weight matrices are the Conv/Linear weights (MLP, attention ``out_proj``, patch embedding…) and
    the Q/K/V projections ``nn.MultiheadAttention`` keeps in ``in_proj_weight`` (one scale per
    output row, so Q, K and V each keep their own scales). The first and last layer to run (a
    ViT's patch-embedding conv and classifier head, a CNN's stem and classifier) stay in full
    precision: binarizing them costs the most accuracy for the fewest parameters.

    ``activations`` also binarizes the inputs of those layers (sign, ±1) as the ViT study this
    project grew from did. Transposed convs keep full precision (their output channels are not
    dim 0). Returns the manifest facts, the new module under ``"module"``, and
    ``packed_1bit_bytes``: 1 bit per binarized weight + an fp32 scale per output channel + 4
    bytes per remaining float parameter and buffer.
    """
    import torch
    import torch.nn as nn

    called = called_layers(module, example)
    ran = {id(m) for _, m in called}
    # "first" and "last" are the first and last layers to run; layers a parent only borrows the
    # weights of (MultiheadAttention.out_proj) are binarized too but cannot get a sign() input
    rest = [(n, m) for n, m in weight_layers(module) if id(m) not in ran]
    layers = called + rest
    order = called or layers
    ends = {order[0][0], order[-1][0]} if order else set()
    kept = [{"layer": name, "reason": KEPT_REASON} for name, _ in layers if name in ends]
    binarized: list[tuple[str, Any]] = []
    for name, layer in layers:
        if name in ends:
            continue
        if getattr(layer, "transposed", False):
            kept.append({"layer": name, "reason": "transposed conv: output channels are not dim 0"})
            continue
        with torch.no_grad():
            layer.weight.copy_(binarize_tensor(layer.weight))
        binarized.append((name, layer))

    unsigned: list[str] = []
    if activations:
        for name, layer in binarized:
            if id(layer) not in ran:
                unsigned.append(name)
                continue
            parent_name, _, child = name.rpartition(".")
            parent = module.get_submodule(parent_name) if parent_name else module
            setattr(parent, child, nn.Sequential(_sign_module(), layer))

    attention = attention_weights(module)
    with torch.no_grad():
        for w in attention:
            w.tensor.copy_(binarize_tensor(w.tensor))
    if activations:
        # MultiheadAttention takes (query, key, value) and projects them in its own functional code
        unsigned += [w.name for w in attention]

    tensors = [layer.weight for _, layer in binarized] + [w.tensor for w in attention]
    packed_bits = sum(t.numel() for t in tensors)
    scales = sum(t.shape[0] for t in tensors)
    floats = sum(p.numel() for p in module.parameters()) - packed_bits
    floats += sum(b.numel() for b in module.buffers() if b.is_floating_point())
    packed = math.ceil(packed_bits / 8) + 4 * scales + 4 * floats
    total = sum(p.numel() for p in module.parameters())
    return {
        "method": "sign(W) × mean|W| per output channel",
        "binarize_activations": bool(activations),
        "binarized_layers": [n for n, _ in binarized] + [w.name for w in attention],
        "binarized_params": int(packed_bits),
        "binarized_share": packed_bits / total if total else 0.0,
        "kept_full_precision": kept,
        **({"activations_not_binarized": unsigned,
            "activations_not_binarized_reason": "layer run by its parent's functional code "
                                                "(MultiheadAttention's Q/K/V projections and out_proj)"} if unsigned else {}),
        "note": f"{KEPT_REASON}; the artifact stores binarized weights as floats, "
                "packed_1bit_bytes is the size a 1-bit packing would take",
        "packed_1bit_bytes": int(packed),
        "module": module,
    }
