"""Sweep-file keys the studies use: ``project = [tiers]``, a model table's ``arch_kwargs`` table, and
the zoo ViT-B/16 built at reduced depth from ``num_layers``."""

from __future__ import annotations

import pytest

from edgebench.errors import ConfigError
from edgebench.spec import SweepSpec


def _sweep(tmp_path, text: str) -> SweepSpec:
    f = tmp_path / "s.toml"
    f.write_text('formats = ["onnx"]\n' + text)
    return SweepSpec.from_toml(f)


def test_project_key_names_the_tiers_and_defaults_to_none(tmp_path):
    assert _sweep(tmp_path, 'project = ["low", "mid", "high"]\n').project == ("low", "mid", "high")
    assert _sweep(tmp_path, "").project == ()
    with pytest.raises(ConfigError, match="project"):
        _sweep(tmp_path, "project = [1]\n")


def test_a_model_table_takes_an_arch_kwargs_table(tmp_path):
    spec = _sweep(tmp_path, 'models = [{checkpoint = "t.pth", arch = "vit_b_16", arch_kwargs = {num_layers = 2}}]\n')
    assert spec.models[0].arch_kwargs == (("num_layers", 2),)
    with pytest.raises(ConfigError, match=r"models\[0\]\.arch_kwargs: expected a table"):
        _sweep(tmp_path, 'models = [{checkpoint = "t.pth", arch = "vit_b_16", arch_kwargs = "num_layers=2"}]\n')


def test_zoo_vit_b_16_at_reduced_depth_keeps_the_b16_shape():
    from edgebench.models.zoo import entry

    m = entry("vit_b_16", 6).build(6, num_layers=2)
    assert len(m.encoder.layers) == 2 and m.hidden_dim == 768 and m.patch_size == 16 and m.mlp_dim == 3072
    assert m.heads.head.out_features == 6 and m.heads.head.weight.any()
