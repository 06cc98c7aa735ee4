"""Resolution and width as sweep axes (issue 12 item 5): each cell a distinct model spec, label,
artifact and row, so params / MACs / latency tables by resolution and width come out of one sweep."""

from __future__ import annotations

import pytest

from edgebench.errors import ConfigError
from edgebench.spec import ModelSpec, SweepSpec, expand_axes


def _sweep(tmp_path, axes: str):
    f = tmp_path / "s.toml"
    f.write_text('models = ["mobilenet_v2"]\nformats = ["x"]\nvariants = ["fp32"]\n' + axes)
    return SweepSpec.from_toml(f)


def test_axes_expand_to_distinct_cells(tmp_path):
    spec = _sweep(tmp_path, "resolutions = [128, 224]\narch_kwargs = [{width_mult = 0.5}, {width_mult = 1.0}]\n")
    cells = {(m.label, m.input_shape, m.arch_kwargs) for m in spec.models}
    assert cells == {
        ("mobilenet_v2-128px-width_mult0.5", (1, 3, 128, 128), (("width_mult", 0.5),)),
        ("mobilenet_v2-128px-width_mult1.0", (1, 3, 128, 128), (("width_mult", 1.0),)),
        ("mobilenet_v2-224px-width_mult0.5", (1, 3, 224, 224), (("width_mult", 0.5),)),
        ("mobilenet_v2-224px-width_mult1.0", (1, 3, 224, 224), (("width_mult", 1.0),)),
    }
    assert len({hash(m) for m in spec.models}) == 4
    # without axes nothing changes (same label, same spec, same hash as before)
    plain = _sweep(tmp_path, "")
    assert plain.models == (ModelSpec(name="mobilenet_v2"),) and plain.models[0].to_dict() == ModelSpec(
        name="mobilenet_v2").to_dict()


@pytest.mark.parametrize("axes, message", [
    ("resolutions = [0]\n", "resolutions must be a non-empty list of positive integers"),
    ("resolutions = 160\n", "resolutions must be a non-empty list"),
    ("arch_kwargs = [\"width_mult=0.5\"]\n", "arch_kwargs must be a non-empty list of tables"),
])
def test_bad_axes(tmp_path, axes, message):
    with pytest.raises(ConfigError, match=message):
        _sweep(tmp_path, axes)


def test_each_cell_is_counted_at_its_own_size_and_width():
    from edgebench.models import load
    from edgebench.models.counting import count

    cells = expand_axes([ModelSpec(name="mobilenet_v2")], [128, 224], [{"width_mult": 0.5}])
    macs = {}
    for m in cells:
        lm = load(m)
        assert lm.input_spec.shape == m.input_shape and lm.source["arch_kwargs"] == {"width_mult": 0.5}
        macs[m.input_shape[-1]] = count(lm.module, lm.input_spec.example()).macs
    # MACs scale with the pixel count: (128/224)² ≈ 0.33
    assert macs[128] / macs[224] == pytest.approx((128 / 224) ** 2, rel=0.05)


def test_the_shipped_width_resolution_sweep_reads():
    from pathlib import Path

    spec = SweepSpec.from_toml(Path(__file__).parents[2] / "examples" / "mobilenet_width_resolution.toml")
    assert len(spec.models) == 12 and len({m.label for m in spec.models}) == 12
