"""Torch-level variants: pruning (unstructured / structured) and binarization on the tiny CNN."""

from __future__ import annotations

import sys

import pytest
import torch

from edgebench.errors import UnsupportedError
from edgebench.exporters.variants import apply, weight_layers, weight_sparsity
from edgebench.exporters.variants.binarize import KEPT_REASON
from edgebench.spec import Variant

EXAMPLE = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))

TRANSFORMED = [
    Variant(transform="prune", amount=0.5),
    Variant(transform="prune", amount=0.3),
    Variant(transform="prune_structured", amount=0.5),
    Variant(transform="binarize"),
    Variant(transform="binarize", binarize_activations=True),
]


def _state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("variant", TRANSFORMED, ids=lambda v: v.label)
def test_the_callers_module_is_untouched_and_a_new_eval_module_comes_back(tiny_cnn, variant):
    before = _state(tiny_cnn)
    out_before = tiny_cnn(EXAMPLE)
    new, info = apply(tiny_cnn, variant, EXAMPLE)
    after = _state(tiny_cnn)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(tiny_cnn(EXAMPLE), out_before)
    assert new is not tiny_cnn and not new.training
    assert new(EXAMPLE).shape == (1, 10)
    assert info["transform"] == variant.transform
    for key in ("params_before", "params_after", "nonzero_params_before", "nonzero_params_after",
                "macs_before", "macs_after", "sparsity"):
        assert key in info


def test_none_hands_back_the_module_itself(tiny_cnn):
    new, info = apply(tiny_cnn, Variant(), EXAMPLE)
    assert new is tiny_cnn and info == {"transform": "none"}


@pytest.mark.parametrize("amount", [0.3, 0.5, 0.6])
def test_unstructured_sparsity_is_exact_per_layer(tiny_cnn, amount):
    new, info = apply(tiny_cnn, Variant(transform="prune", amount=amount), EXAMPLE)
    total = zeros = 0
    for _, layer in weight_layers(new):
        n = layer.weight.numel()
        z = n - int(torch.count_nonzero(layer.weight))
        assert z == round(amount * n)  # l1_unstructured prunes round(amount · n) per tensor
        total, zeros = total + n, zeros + z
    assert info["sparsity"] == pytest.approx(zeros / total) == pytest.approx(weight_sparsity(new))
    assert info["nonzero_params_after"] < info["nonzero_params_before"]
    assert info["params_after"] == info["params_before"]
    assert info["macs_after"] == info["macs_before"]  # zeros are still multiplied
    assert "dense" in info["note"] and "speed" in info["note"]
    # made permanent: plain parameters, no masks or hooks left for exporters to trip on
    assert not any(name.endswith(("_orig", "_mask")) for name, _ in new.named_parameters())
    assert not any(name.endswith("_mask") for name, _ in new.named_buffers())


def test_unstructured_pruning_removes_the_smallest_weights(tiny_cnn):
    new, _ = apply(tiny_cnn, Variant(transform="prune", amount=0.5), EXAMPLE)
    for (_, old), (_, layer) in zip(weight_layers(tiny_cnn), weight_layers(new)):
        kept = layer.weight != 0
        assert old.weight[~kept].abs().max() <= old.weight[kept].abs().min()


def test_structured_pruning_removes_channels_so_macs_drop(tiny_cnn):
    new, info = apply(tiny_cnn, Variant(transform="prune_structured", amount=0.5), EXAMPLE)
    assert info["macs_after"] < 0.6 * info["macs_before"]
    assert info["params_after"] < 0.6 * info["params_before"]
    convs = [m for _, m in weight_layers(new) if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 4, 8]  # 8, 8, 16 halved
    assert new[1].num_features == 4  # the BatchNorm shrank with its conv
    assert new[-1].out_features == 10  # the head keeps every class
    assert info["kept_whole"] == ["9"]


def test_binarized_weights_take_two_values_per_output_channel(tiny_cnn):
    new, info = apply(tiny_cnn, Variant(transform="binarize"), EXAMPLE)
    old_layers = dict(weight_layers(tiny_cnn))
    layers = dict(weight_layers(new))
    assert info["binarized_layers"] == ["3", "5"]
    for name in info["binarized_layers"]:
        w, w0 = layers[name].weight, old_layers[name].weight
        for c in range(w.shape[0]):
            alpha = w0[c].abs().mean()
            values = torch.unique(w[c])
            assert len(values) == 2
            assert torch.allclose(values, torch.stack([-alpha, alpha]))
            assert torch.equal(w[c] > 0, w0[c] >= 0)
    # first and last layer untouched, and the manifest says why
    assert torch.equal(layers["0"].weight, old_layers["0"].weight)
    assert torch.equal(layers["9"].weight, old_layers["9"].weight)
    assert [k["layer"] for k in info["kept_full_precision"]] == ["0", "9"]
    assert all(k["reason"] == KEPT_REASON for k in info["kept_full_precision"])
    assert KEPT_REASON in info["note"]


def test_packed_1bit_size_counts_bits_scales_and_full_precision_rest(tiny_cnn):
    _, info = apply(tiny_cnn, Variant(transform="binarize"), EXAMPLE)
    bits = 72 + 128  # depthwise 8×1×3×3 weights, pointwise 16×8×1×1
    scales = 8 + 16
    floats = sum(p.numel() for p in tiny_cnn.parameters()) - bits
    floats += sum(b.numel() for b in tiny_cnn.buffers() if b.is_floating_point())
    assert info["packed_1bit_bytes"] == -(-bits // 8) + 4 * scales + 4 * floats


def test_binarized_activations_are_plus_or_minus_one(tiny_cnn):
    new, info = apply(tiny_cnn, Variant(transform="binarize", binarize_activations=True), EXAMPLE)
    seen = []
    signs = [m for m in new.modules() if type(m).__name__ == "SignActivation"]
    assert len(signs) == len(info["binarized_layers"]) == 2
    handles = [s.register_forward_hook(lambda m, i, o: seen.append(o)) for s in signs]
    new(EXAMPLE)
    for h in handles:
        h.remove()
    assert len(seen) == 2
    for out in seen:
        assert set(torch.unique(out).tolist()) <= {-1.0, 1.0}
    weights_only, _ = apply(tiny_cnn, Variant(transform="binarize"), EXAMPLE)
    assert not torch.allclose(new(EXAMPLE), weights_only(EXAMPLE))


def test_structured_pruning_without_torch_pruning_says_how_to_install(tiny_cnn, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # makes `import torch_pruning` fail
    with pytest.raises(UnsupportedError, match=r"edgebench\[prune\]") as err:
        apply(tiny_cnn, Variant(transform="prune_structured", amount=0.5), EXAMPLE)
    assert "pip install" in str(err.value)


def test_layers_come_in_execution_order():
    import torch.nn as nn

    class Backwards(nn.Module):  # registered head first, run last
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(4, 2)
            self.stem = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.head(self.stem(x).mean((2, 3)))

    m = Backwards().eval()
    assert [n for n, _ in weight_layers(m)] == ["head", "stem"]
    assert [n for n, _ in weight_layers(m, torch.randn(1, 3, 4, 4))] == ["stem", "head"]


class _Attention(torch.nn.Module):
    """Linear → self-attention → Linear: MultiheadAttention uses out_proj's weights without calling it."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(8, 16)
        self.attn = torch.nn.MultiheadAttention(16, 2, batch_first=True)
        self.head = torch.nn.Linear(16, 3)

    def forward(self, x):
        h = self.embed(x)
        return self.head(self.attn(h, h, h, need_weights=False)[0].mean(1))


def test_macs_of_attention_models_are_counted_the_same_before_and_after_pruning():
    # with no weight requiring grad torch takes a fused attention path the flop counter cannot
    # see; the pruned copy must keep requires_grad so its MACs are counted like the original's
    torch.manual_seed(0)
    x = torch.randn(1, 5, 8)
    _, info = apply(_Attention().eval(), Variant(transform="prune", amount=0.5), x)
    assert info["macs_after"] == info["macs_before"] > 0


def test_binarized_activations_skip_layers_their_parent_runs_itself():
    torch.manual_seed(0)
    m = _Attention().eval()
    x = torch.randn(1, 5, 8)
    new, info = apply(m, Variant(transform="binarize", binarize_activations=True), x)
    assert new(x).shape == (1, 3)
    assert [k["layer"] for k in info["kept_full_precision"]] == ["embed", "head"]
    # the Q/K/V projections (in_proj_weight) are binarized too; MultiheadAttention projects its
    # inputs in its own functional code, so neither they nor out_proj get a sign() input
    assert info["binarized_layers"] == ["attn.out_proj", "attn.in_proj_weight"]
    assert info["activations_not_binarized"] == ["attn.out_proj", "attn.in_proj_weight"]
    assert len(torch.unique(new.attn.out_proj.weight[0])) == 2
