"""Every registered format plug-in × every ``--all`` variant on the tiny CNN: each cell is a sound
artifact with a valid manifest and parity, or an explicit UNSUPPORTED row saying why; and every
plug-in declares its format as data the rest of edgebench derives its lists from."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from edgebench.exporters import (MATRIX_VARIANTS, all_libraries, export, for_suffix, format_option_fields,
                                 formats, registry, runtime_for)
from edgebench.exporters.manifest import read_manifest, validate
from edgebench.exporters.parity import FP32_MIN_SQNR_DB
from edgebench.results import Status, Store
from edgebench.runner import RUNTIMES
from edgebench.runner.batch import run_batch
from edgebench.spec import ExportSpec, ModelSpec

@pytest.mark.parametrize("fmt", registry.names())
def test_plugin_declares_its_format_as_data(fmt):
    exporter = registry.get(fmt)
    assert exporter.name == fmt and fmt in formats()
    assert exporter.runtime in RUNTIMES and runtime_for(fmt) == exporter.runtime
    assert exporter.extension.startswith(".") and exporter.extension in exporter.file_suffixes()
    for suffix in exporter.file_suffixes():
        assert for_suffix(Path(f"model{suffix.upper()}")) is exporter
    assert exporter.precisions and set(exporter.precisions) <= {"fp32", "fp16", "int8", "int8-dynamic"}
    assert exporter.modules and exporter.libraries and set(exporter.libraries) <= set(all_libraries())
    assert exporter.converter_dist and exporter.cost > 0
    assert (exporter.unavailable_reason() is None) or exporter.install_hint() in exporter.unavailable_reason()
    if exporter.Options is None:
        assert exporter.options() is None
        return
    assert dataclasses.is_dataclass(exporter.Options) and exporter.Options.__dataclass_params__.frozen
    defaults = exporter.options()
    assert defaults == exporter.Options() and exporter.options(dataclasses.asdict(defaults)) == defaults
    flags = {f.name: f for f in format_option_fields() if f.fmt == fmt}
    assert set(flags) == {f.name for f in dataclasses.fields(exporter.Options)}
    assert all(f.flag.startswith("--") and f.help for f in flags.values())


# `make test-fast` runs on two workers with --dist loadfile: this module stays on one worker, so each
# format's module-scoped export matrix is built once (the other worker runs the other files)
@pytest.fixture(scope="module", params=registry.names())
def matrix(request, tmp_path_factory):
    """One in-process export of every ``--all`` variant of one format (its variants share their
    trace / torch.export), built once per format."""
    import importlib.util

    fmt = request.param
    # by path: tests/integration has a conftest module of its own
    loader = importlib.util.spec_from_file_location("_edgebench_root_conftest",
                                                    Path(__file__).parents[1] / "conftest.py")
    root_conftest = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(root_conftest)
    make_tiny_cnn = root_conftest.make_tiny_cnn

    from edgebench.models.input_spec import InputSpec
    from edgebench.models.zoo import ZooEntry, zoo

    def build(num_classes: int):
        import torch

        torch.manual_seed(0)
        return make_tiny_cnn(num_classes)

    zoo.add("tiny_cnn", ZooEntry("tiny_cnn", build, InputSpec(shape=(1, 3, 32, 32), num_classes=10), "t", "tests"))
    out = tmp_path_factory.mktemp(f"matrix-{fmt}")
    try:
        with Store(out / "results.db") as store:
            rows = export(ModelSpec("tiny_cnn"), ExportSpec(formats=(fmt,), out_dir=out / "art",
                                                            calibration_samples=8, parity_samples=4),
                          store=store, variants=MATRIX_VARIANTS)
            stored = store.results(kind="export")
    finally:
        zoo.remove("tiny_cnn")
    return fmt, out, {(r.format, r.variant): r for r in rows}, stored


def test_one_row_per_cell_and_each_is_stored(matrix):
    fmt, _, rows, stored = matrix
    assert set(rows) == {(fmt, v.label) for v in MATRIX_VARIANTS}
    assert sorted(r.run_id for r in stored) == sorted(r.run_id for r in rows.values())
    assert all(r.kind == "export" and r.spec_hash for r in rows.values())


@pytest.mark.parametrize("variant", [v.label for v in MATRIX_VARIANTS])
def test_cell(matrix, variant):
    fmt, out, rows, _ = matrix
    row = rows[(fmt, variant)]
    exporter = registry.get(fmt)
    if row.status == Status.UNSUPPORTED:
        # an explicit reason, and only where the exporter says the combination cannot be done
        assert row.error is not None and row.error.message
        assert row.artifact is None
        assert (exporter.unavailable_reason() is not None
                or exporter.supports(next(v for v in MATRIX_VARIANTS if v.label == variant)) is not None)
        return
    assert row.status == Status.OK, row.error
    path = Path(row.artifact.path)
    assert path.exists() and path.name == f"tiny_cnn-{variant}{exporter.extension}"
    assert for_suffix(path) is exporter
    manifest = read_manifest(path)
    validate(manifest)
    assert manifest == row.artifact.manifest
    assert manifest["format"] == fmt and manifest["variant"] == variant and manifest["model"] == "tiny_cnn"
    assert manifest["runtime"] == exporter.runtime
    options = dataclasses.asdict(exporter.options()) if exporter.Options is not None else {}
    assert {k: manifest["export_options"].get(k) for k in options} == options  # the defaults, recorded
    assert manifest["size_bytes"] == row.artifact.size_bytes > 0
    if path.is_file():
        assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert manifest["size_bytes"] == path.stat().st_size
    assert manifest["inputs"][0]["shape"] == [1, 3, 32, 32]
    assert manifest["outputs"][0]["shape"][-1] == 10
    assert manifest["source"] == {"kind": "zoo", "name": "tiny_cnn", "library": "tests",
                                  "weights": "random-init (seed 0), BatchNorm statistics from 8 scikit-image photos",
                                  "seed": 0}
    assert manifest["runnable_here"] is exporter.runnable_here
    transformed = not variant.startswith(("fp", "int8"))
    if exporter.runnable_here:
        eager = manifest["parity"]["vs_eager"]
        assert eager["n"] == 4 and 0 <= eager["top1_agreement"] <= 1
        if variant.endswith("fp32"):
            assert eager["sqnr_db"] >= FP32_MIN_SQNR_DB
        else:
            assert eager["sqnr_db"] > 10  # fp16 / int8 on the tiny CNN still track eager
        assert (manifest["parity"]["vs_untransformed"] is not None) is transformed
        # the artifact runs in its runner runtime (the code `edgebench run` times), float in, float out
        (outs,) = run_batch(exporter.runtime, path, [[np.ones((1, 3, 32, 32), np.float32)]])
        assert outs[0].shape[-1] == 10 and outs[0].dtype == np.float32
        # what the runtime says about the file's input (a TorchScript file does not state its shape)
        (info,) = exporter.file_inputs(path)
        assert info["dtype"] == manifest["inputs"][0]["dtype"]
        assert (info["value_range"] is not None) is (info["dtype"] in ("int8", "uint8"))  # float: no fixed range
        if info["shape"] is not None:
            assert info["shape"] == [1, 3, 32, 32] and info["layout"] == "NCHW"
            assert exporter.file_input_shape(path) == (1, 3, 32, 32)
    else:
        assert manifest["parity"] == {"vs_eager": None, "vs_untransformed": None}
        assert manifest["runnable_reason"]
        assert exporter.check(path) == []
    if transformed:
        assert manifest["transform"]["kind"] in ("prune", "prune_structured", "binarize")
        assert "macs_before" in manifest["transform"] and "macs_after" in manifest["transform"]
    if variant.startswith("pruned50-"):
        assert manifest["transform"]["sparsity"] >= 0.45
        assert manifest["nonzero_params"] < manifest["params"]


def test_no_temporary_files_left(matrix):
    _, out, _, _ = matrix
    leftovers = [p for p in (out / "art").rglob("*") if p.name.startswith((".tmp-", ".old-"))]
    assert leftovers == []


def test_unavailable_converter_is_an_unsupported_row(tiny_zoo_entry, tmp_path, monkeypatch):
    exporter = registry.get("onnx")
    monkeypatch.setattr(type(exporter), "modules", ("edgebench_no_such_module",))
    (row,) = export(ModelSpec("tiny_cnn"), ExportSpec(formats=("onnx",), out_dir=tmp_path))
    assert row.status == Status.UNSUPPORTED
    assert "edgebench_no_such_module" in row.error.message and "edgebench[onnx]" in row.error.message
    assert not any(tmp_path.rglob("*.onnx"))
