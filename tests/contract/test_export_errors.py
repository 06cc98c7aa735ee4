"""Every bad input to the export pipeline: a ConfigError before any work, or a classified row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgebench.errors import ConfigError, ExportError
from edgebench.exporters import export, register, registry
from edgebench.exporters.converter_errors import converter_error, rejected_operator
from edgebench.exporters.manifest import read_manifest
from edgebench.exporters.torchscript import TorchScriptExporter
from edgebench.results import Status
from edgebench.runner import RUNTIMES
from edgebench.spec import ExportSpec, ModelSpec, Variant

TINY = ModelSpec("tiny_cnn")


@pytest.mark.parametrize("spec,match", [
    (ExportSpec(formats=()), "no format"),
    (ExportSpec(formats=("onnx", "nosuchformat")), "unknown exporter 'nosuchformat'"),
    (ExportSpec(formats=("onnx",), format_options={"onnx": {"opset": 5}}), "--opset 5"),
    (ExportSpec(formats=("onnx",), format_options={"onnx": {"opset": "18"}}), "onnx.opset = '18' is not of type int"),
    (ExportSpec(formats=("onnx",), format_options={"onnx": {"opsett": 17}}), "unknown onnx option"),
    (ExportSpec(formats=("torchscript",), format_options={"onnx": {"opset": 2}}), "--opset 2"),
    (ExportSpec(formats=("onnx",), format_options={"nosuchformat": {"x": 1}}), "unknown exporter 'nosuchformat'"),
    (ExportSpec(formats=("coreml",), format_options={"coreml": {"x": 1}}), "coreml takes no options"),
    (ExportSpec(formats=("onnx",), calibration_samples=0), "calibration-samples 0"),
    (ExportSpec(formats=("onnx",), parity_samples=0), "parity samples 0"),
    (ExportSpec(formats=("onnx",), variant=Variant("int8"), calibration_dir=Path("/nonexistent/edgebench")),
     "does not exist"),
])
def test_bad_options_fail_before_any_work(tiny_zoo_entry, tmp_path, spec, match):
    import dataclasses

    spec = dataclasses.replace(spec, out_dir=tmp_path / "out")
    with pytest.raises(ConfigError, match=match):
        export(TINY, spec)
    assert not (tmp_path / "out").exists()


def test_empty_calibration_folder(tiny_zoo_entry, tmp_path):
    (tmp_path / "cal").mkdir()
    (tmp_path / "cal" / "readme.txt").write_text("no images")
    with pytest.raises(ConfigError, match="no .jpg"):
        export(TINY, ExportSpec(formats=("onnx",), variant=Variant("int8"), calibration_dir=tmp_path / "cal",
                                out_dir=tmp_path))


def test_unloadable_model_gives_load_failed_rows(tmp_path, db):
    from edgebench.results import Store

    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with Store(db) as store:
        rows = export(ModelSpec(name=None, checkpoint=bad, arch="resnet18"),
                      ExportSpec(formats=("onnx", "torchscript"), out_dir=tmp_path), store=store)
        assert [r.status for r in rows] == [Status.LOAD_FAILED] * 2
        assert len(store.results(kind="export")) == 2
    assert rows[0].error.stage == "load"


def test_unknown_zoo_model_is_load_failed(tmp_path):
    with pytest.raises(ConfigError, match="unknown model"):
        export(ModelSpec("no_such_model"), ExportSpec(formats=("onnx",), out_dir=tmp_path))


def test_unsupported_combination_is_a_row_with_the_reason(tiny_zoo_entry, tmp_path):
    (row,) = export(TINY, ExportSpec(formats=("coreml",), variant=Variant("int8"), out_dir=tmp_path))
    if registry.get("coreml").unavailable_reason():
        pytest.skip("coremltools missing")
    assert row.status == Status.UNSUPPORTED and "macOS" in row.error.message


class WobbleNet(torch.nn.Module):
    def forward(self, x):
        return torch.ops.edgebench_test.wobble(x).mean(dim=(2, 3))


@pytest.fixture
def wobble_zoo():
    """A zoo model using a custom operator no converter knows."""
    from edgebench.models.input_spec import InputSpec
    from edgebench.models.zoo import ZooEntry, zoo

    if not hasattr(torch.ops.edgebench_test, "wobble"):
        @torch.library.custom_op("edgebench_test::wobble", mutates_args=())
        def wobble(x: torch.Tensor) -> torch.Tensor:
            return x * 2

        @wobble.register_fake
        def _(x):
            return torch.empty_like(x)

    zoo.add("wobble", ZooEntry("wobble", lambda n: WobbleNet(), InputSpec(shape=(1, 3, 8, 8), num_classes=3),
                               "custom op", "tests"))
    yield ModelSpec("wobble")
    zoo.remove("wobble")


def test_rejected_operator_is_one_line_naming_it(wobble_zoo, tmp_path):
    (row,) = export(wobble_zoo, ExportSpec(formats=("onnx",), out_dir=tmp_path))
    assert row.status == Status.EXPORT_FAILED
    assert row.error.message == "onnx converter rejected operator 'edgebench_test.wobble'"
    assert "opset" in row.error.hint and "\n" not in row.error.message
    assert list(tmp_path.rglob("*.onnx")) == []


@pytest.mark.parametrize("text,op", [
    ("No ONNX function found for <OpOverload(op='aten.grid_sampler_3d', overload='default')>", "grid_sampler_3d"),
    ("Unsupported FX nodes: {'call_function': ['aten.foo.default']}", "foo"),
    ("RuntimeError: Exporting the operator 'aten::unfold_backward' to ONNX opset version 18 is not supported",
     "unfold_backward"),
    ("PyTorch convert function for op 'fft_rfftn' not implemented.", "fft_rfftn"),
    ("something else entirely", None),
])
def test_rejected_operator_parsing(text, op):
    assert rejected_operator(text) == op


def test_converter_error_follows_the_cause_chain():
    try:
        try:
            raise KeyError("aten::weird_op")
        except KeyError as inner:
            raise RuntimeError("conversion failed\nmore lines") from inner
    except RuntimeError as exc:
        err = converter_error("tflite", exc, "try --format onnx")
    assert isinstance(err, ExportError)
    assert str(err) == "export: tflite converter rejected operator 'weird_op' — try --format onnx"


class _HalfWriter(TorchScriptExporter):
    """Writes part of a file and then fails, like a converter dying mid-write."""

    def convert(self, ctx, spec, dest, options):
        dest.write_bytes(b"partial")
        raise RuntimeError("disk full while writing")


@pytest.fixture
def test_exporters():
    register("halfwriter")(_HalfWriter)
    yield
    registry.remove("halfwriter")


def _perturb_runtime(monkeypatch, fmt: str) -> None:
    """Make the runner runtime of ``fmt`` add noise to every output it reads: the code
    ``edgebench run`` times is then wrong, and parity (which runs that same code) must say so."""
    runtime = RUNTIMES[registry.get(fmt).runtime]
    honest = runtime.outputs

    def noisy(self):
        return [np.asarray(o, dtype=np.float32) + np.float32(0.5) for o in honest(self)]

    monkeypatch.setattr(runtime, "outputs", noisy)


RUNNABLE = [f for f in registry.names()
            if registry.get(f).unavailable_reason() is None and registry.get(f).runnable_here]


@pytest.mark.parametrize("fmt", RUNNABLE)
def test_perturbed_runtime_output_fails_parity_and_the_artifact_is_kept(tiny_zoo_entry, tmp_path, monkeypatch,
                                                                       fmt):
    (honest,) = export(TINY, ExportSpec(formats=(fmt,), out_dir=tmp_path / "honest"))
    assert honest.status == Status.OK, honest.error
    _perturb_runtime(monkeypatch, fmt)
    (row,) = export(TINY, ExportSpec(formats=(fmt,), out_dir=tmp_path / "perturbed"))
    assert row.status == Status.PARITY_FAILED
    assert row.error.stage == "parity" and "60 dB" in row.error.message
    path = Path(row.artifact.path)
    assert path.exists()
    assert read_manifest(path)["status"] == "PARITY_FAILED"
    assert read_manifest(path)["parity"]["vs_eager"]["sqnr_db"] < 60


def test_int8_low_agreement_is_a_warning_not_a_failure(tiny_zoo_entry, tmp_path, monkeypatch):
    fmt = next(f for f in RUNNABLE if "int8-dynamic" in registry.get(f).precisions)
    _perturb_runtime(monkeypatch, fmt)
    (row,) = export(TINY, ExportSpec(formats=(fmt,), variant=Variant("int8", int8_mode="dynamic"),
                                     out_dir=tmp_path))
    assert row.status == Status.OK
    vs = row.parity["vs_eager"]
    # the untrained tiny CNN's logits are near-ties on every input: its agreement is not judged, said once
    assert vs["n_decided"] == 0 and vs["top1_agreement_decided"] is None
    undecided = [w for w in row.warnings if w.startswith("eager is undecided (p<0.5) on all 8 parity inputs")]
    assert len(undecided) == 1 and f"({vs['top1_agreement']:.0%} agree" in undecided[0]
    assert not any("top-1 agreement" in w for w in row.warnings)


def test_no_half_written_artifact(tiny_zoo_entry, tmp_path, test_exporters):
    (row,) = export(TINY, ExportSpec(formats=("halfwriter",), out_dir=tmp_path))
    assert row.status == Status.EXPORT_FAILED
    assert "disk full" in row.error.message
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_stale_temp_files_of_killed_exports_are_cleaned_live_ones_kept(tiny_zoo_entry, tmp_path):
    import os

    from edgebench.exporters.cells import is_temp_name

    folder = tmp_path / "tiny_cnn"
    folder.mkdir()
    dead = folder / ".tmp-99999999-abcd1234-tiny_cnn-fp32.pt"  # no such process: a killed export
    live = folder / f".tmp-{os.getpid()}-abcd1234-tiny_cnn-fp32.pt"  # this process: still running
    dead.write_bytes(b"half")
    live.write_bytes(b"half")
    (row,) = export(TINY, ExportSpec(formats=("torchscript",), out_dir=tmp_path))
    assert row.status == Status.OK
    assert not dead.exists() and live.exists()
    assert is_temp_name(live.name) and not is_temp_name(Path(row.artifact.path).name)


def test_unwritable_out_is_one_config_error_before_any_work(tiny_zoo_entry, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        if _writable(out):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(ConfigError, match="not writable"):
            export(TINY, ExportSpec(formats=("torchscript",), out_dir=out))
    finally:
        out.chmod(0o700)


def _writable(path) -> bool:
    import os

    return os.access(path, os.W_OK)
