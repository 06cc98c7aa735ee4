"""Builder kwargs read back from a state_dict's shapes: width multiplier, ViT image size; hints
that name the real cause (never "--num-classes" for a body tensor)."""

from __future__ import annotations

import pytest

from edgebench.errors import ConfigError
from edgebench.models.fitting import detect_kwargs, mismatch_hint, parse_arch_kwargs
from edgebench.models.zoo import entry


def test_parse_arch_kwargs():
    assert parse_arch_kwargs("width_mult=0.5, image_size=160,dropout=none,flag=true,name=x") == (
        ("dropout", None), ("flag", True), ("image_size", 160), ("name", "x"), ("width_mult", 0.5))
    with pytest.raises(ConfigError, match="is not key=value"):
        parse_arch_kwargs("width_mult")


def test_width_of_a_mobilenet_state_dict():
    build = entry("mobilenet_v3_small").build
    sd = build(1000, width_mult=0.75).state_dict()
    kwargs, note = detect_kwargs(build, 1000, sd, {})
    assert kwargs == {"width_mult": 0.75} and "pass --arch-kwargs width_mult=0.75" in note


def test_vit_image_size_from_its_position_embedding():
    build = entry("vit_b_16").build
    sd = build(10, image_size=160).state_dict()
    kwargs, note = detect_kwargs(build, 10, sd, {})
    assert kwargs == {"image_size": 160}
    assert "encoder.pos_embedding (10x10 patches of 16)" in note
    own = build(10)
    hint = mismatch_hint(own, "encoder.pos_embedding", sd["encoder.pos_embedding"],
                         own.state_dict()["encoder.pos_embedding"], "vit_b_16", {})
    assert "--arch-kwargs image_size" in hint and "--num-classes" not in hint


def test_head_mismatch_still_names_num_classes():
    build = entry("resnet18").build
    own, theirs = build(1000), build(3).state_dict()
    assert mismatch_hint(own, "fc.weight", theirs["fc.weight"], own.state_dict()["fc.weight"], "resnet18", {}) == \
        "the checkpoint's head has 3 outputs: pass --num-classes 3"
