"""The int8 parity check through the exporter registry: agreement where eager is decided, on the
parity inputs and on the calibration inputs the int8 ranges were fitted on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgebench.exporters import export, registry
from edgebench.exporters.cells import CALIBRATION_CHECK_MAX
from edgebench.exporters.manifest import read_manifest, validate
from edgebench.results import Status
from edgebench.runner import RUNTIMES
from edgebench.spec import ExportSpec, ModelSpec, Variant

DECIDED = ModelSpec("tiny_decided")
STATIC = [f for f in registry.names() if registry.get(f).unavailable_reason() is None
          and registry.get(f).runnable_here and "int8" in registry.get(f).precisions]
# the quickest static-int8 format to export here: the one PyTorch itself runs, else any
FMT = next((f for f in STATIC if registry.get(f).runtime == "torch"), STATIC[0] if STATIC else None)
pytestmark = pytest.mark.skipif(FMT is None, reason="no static-int8 format runnable here")


@pytest.fixture
def decided_zoo_entry():
    """``tiny_decided``: the tests' tiny CNN with its last class's bias raised by 4 logits, so eager
    is decided (softmax top-1 ≈ 0.85 ≥ 0.5) on every input by a margin int8 rounding cannot flip,
    unlike the untrained original, whose logits are near-ties everywhere."""
    from edgebench.models.input_spec import InputSpec
    from edgebench.models.zoo import ZooEntry, zoo
    from tests.conftest import make_tiny_cnn

    def build(num_classes: int):
        import torch

        torch.manual_seed(0)
        net = make_tiny_cnn(num_classes)
        with torch.no_grad():
            net[-1].bias[-1] += 4.0
        return net

    zoo.add("tiny_decided", ZooEntry("tiny_decided", build, InputSpec(shape=(1, 3, 32, 32), num_classes=10),
                                     "decided test CNN", "tests"))
    yield
    zoo.remove("tiny_decided")


def test_static_int8_manifest_has_decided_agreement_on_parity_and_calibration_inputs(decided_zoo_entry, tmp_path):
    (row,) = export(DECIDED, ExportSpec(formats=(FMT,), variant=Variant("int8"), out_dir=tmp_path))
    assert row.status == Status.OK, row.error
    manifest = read_manifest(Path(row.artifact.path))
    validate(manifest)
    parity = manifest["parity"]
    for key, n in (("vs_eager", 8), ("vs_eager_on_calibration", min(32, CALIBRATION_CHECK_MAX))):
        vs = parity[key]
        assert vs["n"] == vs["n_decided"] == n, (key, vs)
        assert vs["top1_agreement_decided"] == 1.0 and vs["top1_ties"] == 0
    # an honest artifact of a decided model: nothing to warn about
    assert not any("agreement" in w for w in row.warnings), row.warnings
    # the export table shows what the verdict judged
    from rich.console import Console

    from edgebench.results.render import export_table

    console = Console(width=250, record=True)
    console.print(export_table([row]))
    n = min(32, CALIBRATION_CHECK_MAX)
    assert f"100% (decided: parity 8/8, calib. {n}/{n})" in console.export_text()


def test_int8_artifact_with_clipped_outputs_is_flagged_on_its_calibration_inputs(decided_zoo_entry, tmp_path,
                                                                                 monkeypatch):
    """The runtime's outputs clipped at a ceiling below each sample's top two values (as a quantizer
    whose output range was fitted too small does): decided inputs tie, the arg-max becomes the
    lower class index (eager's top-1 is the last class), and the warning blames the ranges, naming
    the calibration-input agreement."""
    runtime = RUNTIMES[registry.get(FMT).runtime]
    honest = runtime.outputs

    def clipped(self):
        outs = []
        for o in honest(self):
            o = np.asarray(o, dtype=np.float32)
            outs.append(np.minimum(o, np.sort(o.ravel())[-2]))
        return outs

    monkeypatch.setattr(runtime, "outputs", clipped)
    (row,) = export(DECIDED, ExportSpec(formats=(FMT,), variant=Variant("int8"), out_dir=tmp_path))
    assert row.status == Status.OK, row.error  # a warning, not a failure: the artifact is kept
    cal = row.parity["vs_eager_on_calibration"]
    assert cal["top1_ties"] == cal["n_decided"] == cal["n"] and cal["top1_agreement_decided"] == 0.0
    (warning,) = [w for w in row.warnings if "calibration inputs where eager is decided" in w]
    assert f"{cal['top1_agreement_decided']:.0%} on the {cal['n_decided']} of {cal['n']} calibration" in warning
    assert "tied top-1 output" in warning and "ranges were fitted on these very inputs" in warning


def test_dynamic_int8_has_no_calibration_check(decided_zoo_entry, tmp_path):
    fmt = next(f for f in STATIC + [FMT] if "int8-dynamic" in registry.get(f).precisions)
    (row,) = export(DECIDED, ExportSpec(formats=(fmt,), variant=Variant("int8", int8_mode="dynamic"),
                                        out_dir=tmp_path))
    assert row.status == Status.OK, row.error
    assert "vs_eager_on_calibration" not in row.parity and row.parity["vs_eager"]["n_decided"] is not None
