"""Every zoo entry builds, runs a forward pass with its InputSpec and counts as published."""

from __future__ import annotations

import pytest
import torch

from edgebench.models import load, zoo
from edgebench.models.counting import count
from edgebench.spec import ModelSpec

@pytest.mark.parametrize("name", zoo.names())
def test_zoo_entry(name):
    e = zoo.get(name)
    lm = load(ModelSpec(name=name))
    x = lm.input_spec.example()
    with torch.no_grad():
        y = lm.module(x)
    if e.input_spec.task == "classification":
        assert tuple(y.shape) == (1, lm.input_spec.num_classes)
    else:
        assert tuple(y.shape) == tuple(lm.input_spec.shape)
    c = count(lm.module, x)
    assert c.params > 0 and c.macs > 0
    if e.published_macs:
        assert abs(c.macs - e.published_macs) / e.published_macs < 0.10, (c.macs, e.published_macs)
    if e.published_params:
        assert abs(c.params - e.published_params) / e.published_params < 0.05


def test_zoo_has_the_eight_entries():
    assert set(zoo.names()) >= {"mobilenet_v3_small", "mobilenet_v3_large", "mobilenet_v2", "resnet18",
                                "efficientnet_b0", "vit_b_16", "mobilevit_s", "vit_denoiser"}


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "resnet18"])
def test_num_classes(name):
    lm = load(ModelSpec(name=name, num_classes=7))
    with torch.no_grad():
        assert lm.module(lm.input_spec.example()).shape == (1, 7)
    assert lm.input_spec.num_classes == 7


def test_reference_mac_counts():
    """shared/reference/README.md: MobileNetV2 ≈ 300 M MACs, ResNet18 ≈ 1.82 G at 224²."""
    for name, ref in (("mobilenet_v2", 300e6), ("resnet18", 1.82e9)):
        lm = load(ModelSpec(name=name))
        assert abs(count(lm.module, lm.input_spec.example()).macs - ref) / ref < 0.02
