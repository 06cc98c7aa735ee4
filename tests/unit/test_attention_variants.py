"""Pruning and binarization of a ViT reach its attention: the Q/K/V projections torchvision keeps in
``nn.MultiheadAttention.in_proj_weight`` are pruned / binarized like every other weight matrix, and
whole-model sparsity is reported next to the per-matrix figure (issue 12, item 8)."""

from __future__ import annotations

import math

import pytest
import torch

from edgebench.exporters.manifest import transform_summary
from edgebench.exporters.variants import apply, weight_matrices
from edgebench.spec import Variant


@pytest.fixture(scope="module")
def tiny_vit():
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                             mlp_dim=64, num_classes=5).eval()


EXAMPLE = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))


def _zeros(t) -> int:
    return int(t.numel() - torch.count_nonzero(t))


def test_weight_matrices_include_the_attention_qkv_projections(tiny_vit):
    names = [w.name for w in weight_matrices(tiny_vit)]
    assert "encoder.layers.encoder_layer_0.self_attention.in_proj_weight" in names
    assert "encoder.layers.encoder_layer_1.self_attention.out_proj.weight" in names
    assert "conv_proj.weight" in names and "heads.head.weight" in names
    assert "encoder.layers.encoder_layer_0.mlp.0.weight" in names


def test_60_percent_pruning_zeroes_60_percent_of_every_weight_matrix_including_qkv(tiny_vit):
    new, info = apply(tiny_vit, Variant(transform="prune", amount=0.6), EXAMPLE)
    qkv = new.encoder.layers.encoder_layer_0.self_attention.in_proj_weight
    assert _zeros(qkv) / qkv.numel() == pytest.approx(0.6, abs=0.01)
    matrices = weight_matrices(new)
    total = sum(w.tensor.numel() for w in matrices)
    zeros = sum(_zeros(w.tensor) for w in matrices)
    assert info["sparsity"] == pytest.approx(zeros / total) == pytest.approx(0.6, abs=0.01)
    # the whole model (biases, LayerNorms, position embedding, class token stay dense) is a bit less
    params = list(new.parameters())
    whole = sum(_zeros(p) for p in params) / sum(p.numel() for p in params)
    assert info["sparsity_whole_model"] == pytest.approx(whole)
    assert 0.4 < whole < info["sparsity"]
    assert info["layer_sparsity"]["encoder.layers.encoder_layer_1.self_attention.in_proj_weight"] == \
        pytest.approx(0.6, abs=0.01)
    assert info["pruned_attention_projections"] == [
        "encoder.layers.encoder_layer_0.self_attention.in_proj_weight",
        "encoder.layers.encoder_layer_1.self_attention.in_proj_weight"]
    assert new(EXAMPLE).shape == (1, 5)
    line = transform_summary({"transform": {"kind": "prune", **info}})
    assert f"sparsity 60% of weight matrices ({whole:.0%} of the whole model)" in line


def test_binarized_packed_size_counts_qkv_as_one_bit(tiny_vit):
    new, info = apply(tiny_vit, Variant(transform="binarize"), EXAMPLE)
    attn = new.encoder.layers.encoder_layer_0.self_attention
    for row in attn.in_proj_weight:  # one magnitude per output row of Q/K/V
        assert len(torch.unique(row.abs())) == 1
    assert "encoder.layers.encoder_layer_0.self_attention.in_proj_weight" in info["binarized_layers"]
    kept = {k["layer"] for k in info["kept_full_precision"]}
    assert kept == {"conv_proj", "heads.head"}  # patch embedding and classifier head stay full precision
    binarized = [w.tensor for w in weight_matrices(new) if w.name.rsplit(".", 1)[0] not in kept]
    bits = sum(t.numel() for t in binarized)
    scales = sum(t.shape[0] for t in binarized)
    floats = sum(p.numel() for p in new.parameters()) - bits + \
        sum(b.numel() for b in new.buffers() if b.is_floating_point())
    assert info["binarized_params"] == bits
    assert info["packed_1bit_bytes"] == math.ceil(bits / 8) + 4 * scales + 4 * floats
    qkv = 2 * attn.in_proj_weight.numel()
    # Q/K/V are in the 1-bit part: counting them as floats would add ~31/8 bytes per weight
    assert info["packed_1bit_bytes"] < math.ceil((bits - qkv) / 8) + 4 * (floats + qkv)
    assert new(EXAMPLE).shape == (1, 5)


def test_binarized_activations_say_attention_inputs_are_not_signed(tiny_vit):
    new, info = apply(tiny_vit, Variant(transform="binarize", binarize_activations=True), EXAMPLE)
    assert "encoder.layers.encoder_layer_0.self_attention.in_proj_weight" in info["activations_not_binarized"]
    assert new(EXAMPLE).shape == (1, 5)
