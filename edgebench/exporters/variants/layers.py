"""The weight matrices a variant transform works on, in the order they run, and how sparse they are.

"Weight matrices" are every Conv / Linear ``weight`` **and** the attention projections that
``nn.MultiheadAttention`` keeps as bare parameters (``in_proj_weight`` — Q, K and V stacked, a
quarter of a ViT-B's parameters — or ``q_proj_weight`` / ``k_proj_weight`` / ``v_proj_weight``
when their sizes differ). Its ``out_proj`` is an ``nn.Linear`` and counts as one already.
Biases, norms, embeddings tables and tokens are not weight matrices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# the bare projection parameters of nn.MultiheadAttention (whichever of them the module holds)
ATTENTION_WEIGHTS = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")


@dataclass(frozen=True)
class WeightMatrix:
    """One weight matrix: its full name (``encoder.layers.0.self_attention.in_proj_weight``), the
    module that owns it and the owner's attribute name (``weight`` for Conv / Linear)."""

    name: str
    owner: Any
    attr: str

    @property
    def tensor(self) -> Any:
        """The parameter itself (shape ``(out, in, …)``: output channels on dim 0)."""
        return getattr(self.owner, self.attr)


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


def attention_weights(module: Any) -> list[WeightMatrix]:
    """The bare Q/K/V projection parameters of every ``nn.MultiheadAttention`` in ``module``
    (``in_proj_weight``, or the three separate ones), in registration order."""
    import torch.nn as nn

    out = []
    for name, m in module.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            for attr in ATTENTION_WEIGHTS:
                if isinstance(getattr(m, attr, None), nn.Parameter):
                    out.append(WeightMatrix(f"{name}.{attr}" if name else attr, m, attr))
    return out


def weight_matrices(module: Any, example: Any = None) -> list[WeightMatrix]:
    """Every weight matrix of ``module``: the Conv/Linear weights (in :func:`weight_layers` order)
    then the attention projections of :func:`attention_weights`."""
    layers = [WeightMatrix(f"{n}.weight" if n else "weight", m, "weight") for n, m in weight_layers(module, example)]
    return layers + attention_weights(module)


def _zeros(t: Any) -> int:
    import torch

    return int(t.numel() - torch.count_nonzero(t.detach()))


def weight_sparsity(module: Any) -> float:
    """Share of exactly-zero values over all weight matrices (:func:`weight_matrices`: Conv/Linear
    weights and attention Q/K/V projections; biases, norms and embeddings excluded)."""
    total = zeros = 0
    for w in weight_matrices(module):
        total += w.tensor.numel()
        zeros += _zeros(w.tensor)
    return zeros / total if total else 0.0


def model_sparsity(module: Any) -> float:
    """Share of exactly-zero values over EVERY parameter of ``module`` (weights, biases, norms,
    position embeddings, class tokens): what the whole model's zero share is."""
    total = zeros = 0
    for p in module.parameters():
        total += p.numel()
        zeros += _zeros(p)
    return zeros / total if total else 0.0


def layer_sparsity(module: Any) -> dict[str, float]:
    """Zero share of each weight matrix, by its full name (rounded to 4 places)."""
    return {w.name: round(_zeros(w.tensor) / w.tensor.numel(), 4) for w in weight_matrices(module)
            if w.tensor.numel()}
