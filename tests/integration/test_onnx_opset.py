"""``--opset N`` is honest: the file holds opset N (converted down by onnxscript's version
converter where torch.onnx writes a higher one), or the cell is UNSUPPORTED naming the operator
that blocks the conversion; the manifest records the opset actually in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgebench.exporters import export, registry
from edgebench.results import Status
from edgebench.spec import ExportSpec, ModelSpec

EXPORTER = registry.get("onnx")
pytestmark = pytest.mark.skipif(EXPORTER.unavailable_reason() is not None, reason=str(EXPORTER.unavailable_reason()))


@pytest.fixture
def no_reduce_zoo():
    """A CNN without ReduceMean (no global average pool): every op has a down-conversion."""
    import torch.nn as nn

    from edgebench.models.input_spec import InputSpec
    from edgebench.models.zoo import ZooEntry, zoo

    def build(num_classes: int):
        import torch

        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14 * 14, num_classes)).eval()

    zoo.add("no_reduce", ZooEntry("no_reduce", build, InputSpec(shape=(1, 3, 16, 16), num_classes=5), "t", "tests"))
    yield ModelSpec("no_reduce")
    zoo.remove("no_reduce")


def _export(model, tmp_path, opset):
    (row,) = export(model, ExportSpec(formats=("onnx",), out_dir=tmp_path / str(opset), parity_samples=2,
                                      format_options={"onnx": {"opset": opset}}))
    return row


def test_a_lower_opset_is_really_in_the_file(no_reduce_zoo, tmp_path):
    import onnx

    row = _export(no_reduce_zoo, tmp_path, 17)
    assert row.status == Status.OK, row.error
    model = onnx.load(Path(row.artifact.path))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    manifest = row.artifact.manifest
    assert manifest["converter"]["opset"] == 17 and manifest["export_options"]["opset"] == 17
    assert row.parity["vs_eager"]["sqnr_db"] >= 60


def test_an_opset_that_cannot_be_produced_names_the_blocking_operator(tiny_zoo_entry, tmp_path):
    row = _export(ModelSpec("tiny_cnn"), tmp_path, 15)  # its global average pool is a ReduceMean-18
    assert row.status == Status.UNSUPPORTED
    assert "opset 15" in row.error.message and "'ReduceMean'" in row.error.message
    assert "--opset 18" in row.error.hint
    assert not list(tmp_path.rglob("*.onnx"))
