"""A torch.export / TorchScript program holds its weights in a graph, not in nn.Conv / nn.Linear
layers: torch-level transforms and PyTorch quantisation have nothing to act on. They must be
UNSUPPORTED with the true reason, never an unchanged fp32 model under a pruned / int8 label; and
--arch / --arch-kwargs, which only reach a builder, are refused for a program."""

from __future__ import annotations

import pytest
import torch

from edgebench.errors import LoadError
from edgebench.exporters import export
from edgebench.models import load
from edgebench.results import Status
from edgebench.spec import ExportSpec, ModelSpec, Variant



@pytest.fixture
def program(tmp_path, tiny_cnn):
    path = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(tiny_cnn, (torch.randn(1, 3, 32, 32),)), str(path))
    return path


@pytest.mark.parametrize("variant", [Variant("fp32", transform="prune", amount=0.5),
                                     Variant("fp32", transform="binarize"),
                                     Variant("int8"), Variant("int8", int8_mode="dynamic")],
                         ids=lambda v: v.label)
def test_a_program_is_never_transformed_in_name_only(program, tmp_path, variant):
    (row,) = export(ModelSpec(name=None, checkpoint=program),
                    ExportSpec(formats=("torchscript",), out_dir=tmp_path / "art", calibration_samples=2,
                               parity_samples=2), variants=(variant,))
    assert row.status == Status.UNSUPPORTED, (row.status, row.error)
    assert "nn.Conv / nn.Linear" in row.error.message and row.artifact is None


def test_fp32_of_a_program_still_exports(program, tmp_path):
    (row,) = export(ModelSpec(name=None, checkpoint=program),
                    ExportSpec(formats=("torchscript",), out_dir=tmp_path / "art", parity_samples=2))
    assert row.status == Status.OK


@pytest.mark.parametrize("extra", [{"arch": "resnet18"}, {"arch_kwargs": (("width_mult", 0.5),)}])
def test_arch_options_are_refused_for_a_program(program, extra):
    with pytest.raises(LoadError, match="program") as info:
        load(ModelSpec(name=None, checkpoint=program, **extra))
    assert "drop --arch" in info.value.hint


def test_a_torchscript_checkpoint_is_unsupported_where_the_converter_needs_torch_export(tmp_path, tiny_cnn):
    path = tmp_path / "tiny.ts.pt"
    torch.jit.save(torch.jit.trace(tiny_cnn, torch.randn(1, 3, 32, 32)), str(path))
    rows = export(ModelSpec(name=None, checkpoint=path, input_shape=(1, 3, 32, 32)),
                  ExportSpec(formats=("onnx", "torchscript"), out_dir=tmp_path / "art", parity_samples=2))
    by = {r.format: r for r in rows}
    assert by["torchscript"].status == Status.OK
    assert by["onnx"].status == Status.UNSUPPORTED and "TorchScript checkpoint" in by["onnx"].error.message
