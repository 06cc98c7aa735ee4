"""Specs: variant labels round-trip, bad values are ConfigErrors, sweep files parse."""

from __future__ import annotations

import pytest

from edgebench.errors import ConfigError
from edgebench.spec import BenchSpec, ModelSpec, SweepSpec, Variant, spec_hash


@pytest.mark.parametrize("variant,label", [
    (Variant(), "fp32"),
    (Variant(precision="fp16"), "fp16"),
    (Variant(precision="int8"), "int8"),
    (Variant(precision="int8", int8_mode="dynamic"), "int8-dynamic"),
    (Variant(transform="prune", amount=0.6), "pruned60-fp32"),
    (Variant(precision="int8", transform="prune_structured", amount=0.5), "pruned50s-int8"),
    (Variant(transform="binarize"), "binarized-fp32"),
    (Variant(transform="binarize", binarize_activations=True), "binarized-act-fp32"),
])
def test_variant_labels_round_trip(variant, label):
    assert variant.label == label
    assert Variant.from_label(label) == variant


@pytest.mark.parametrize("kwargs", [dict(precision="int4"), dict(int8_mode="weird"),
                                    dict(transform="prune", amount=1.5), dict(transform="x")])
def test_bad_variant(kwargs):
    with pytest.raises(ConfigError):
        Variant(**kwargs)


def test_spec_hash_is_stable_and_sensitive():
    a = spec_hash(ModelSpec(), Variant(), "onnx", BenchSpec())
    assert a == spec_hash(ModelSpec(), Variant(), "onnx", BenchSpec())
    assert a != spec_hash(ModelSpec(), Variant(), "onnx", BenchSpec(runs=51))


def test_sweep_from_toml(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('models = ["resnet18", {checkpoint = "x.pt", arch = "resnet18"}]\n'
                 'formats = ["onnx", "tflite"]\nvariants = ["fp32", "int8"]\n[bench]\nruns = 7\n')
    s = SweepSpec.from_toml(f)
    assert s.models[0].name == "resnet18" and str(s.models[1].checkpoint) == "x.pt"
    assert s.formats == ("onnx", "tflite") and [v.label for v in s.variants] == ["fp32", "int8"]
    assert s.bench.runs == 7 and s.targets == ("local",)


@pytest.mark.parametrize("text,match", [
    ("models = [", "not valid TOML"),
    ("modles = []", "unknown field"),
    ("[bench]\nrunz = 3", "bench.runz: unknown key"),
])
def test_bad_sweep_file(tmp_path, text, match):
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        SweepSpec.from_toml(f)
