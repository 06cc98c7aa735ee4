"""Agreement with eager away from the export directory (issue 12, item 9): the export stores the
eager outputs for its own inputs beside the artifact, so ``run --dataset`` on those images needs no
checkpoint; other images find the checkpoint by absolute path + sha256, and a moved or changed
checkpoint is one clear line, never a wrong number."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgebench.exporters import reference


def _images(folder: Path, n: int, seed: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_match_finds_stored_inputs_within_float16_rounding_and_nothing_else():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 1, 3, 4, 4)).astype(np.float32)
    data = reference.encode(list(x), [np.full((1, 2), i, np.float32) for i in range(3)])
    stored = np.load(__import__("io").BytesIO(data))["inputs"].astype(np.float32)
    rows = np.concatenate([x[2], x[0], x[1] + 0.5])
    assert reference.match(rows, stored) == [2, 0, None]


@pytest.fixture
def exported(tmp_path, tiny_zoo_entry, monkeypatch):
    import torch

    from edgebench.exporters import export
    from edgebench.results import Status
    from edgebench.spec import ExportSpec, ModelSpec

    torch.manual_seed(3)
    ckpt = tmp_path / "ckpts" / "tiny.pth"
    ckpt.parent.mkdir()
    torch.save(tiny_zoo_entry.build(10).state_dict(), ckpt)
    calib = _images(tmp_path / "calib", 6, seed=1)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # exported with a RELATIVE checkpoint path, from its own directory
    spec = ExportSpec(formats=("onnx",), out_dir=Path("artifacts"), calibration_dir=calib,
                      calibration_samples=4, parity_samples=2)
    (row,) = export(ModelSpec(name=None, checkpoint=Path("../ckpts/tiny.pth"), arch="tiny_cnn"), spec)
    assert row.status == Status.OK, row.error
    monkeypatch.chdir(tmp_path)  # every run below happens elsewhere
    return {"artifact": work / row.artifact.path, "ckpt": ckpt, "calib": calib, "tmp": tmp_path}


def _agreement(artifact: Path, dataset: Path):
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.spec import BenchSpec
    from edgebench.targets import resolve

    bench = BenchSpec(warmup_runs=0, warmup_seconds=0, runs=2, min_seconds=0, threads=1, dataset=dataset)
    return measure_artifact(from_path(artifact), resolve("local"), bench)


def test_manifest_records_the_reference_and_the_checkpoints_absolute_path(exported):
    from edgebench.exporters.manifest import read_manifest

    m = read_manifest(exported["artifact"])
    assert m["source"]["path"] == str(exported["ckpt"].resolve())
    assert m["source"]["sha256"] == hashlib.sha256(exported["ckpt"].read_bytes()).hexdigest()
    rec = m["reference"]
    path = exported["artifact"].parent / rec["file"]
    assert rec["n"] == 6 and hashlib.sha256(path.read_bytes()).hexdigest() == rec["sha256"]
    with np.load(path) as z:
        assert z["inputs"].shape == (6, 3, 32, 32) and z["outputs"].shape == (6, 10)


def test_the_exports_own_images_need_no_checkpoint(exported):
    from edgebench.results import Status

    exported["ckpt"].unlink()  # gone: only the stored reference can answer
    moved = exported["tmp"] / "elsewhere"
    shutil.copytree(exported["artifact"].parent, moved)  # artifact, manifest and reference travel together
    r = _agreement(moved / exported["artifact"].name, exported["calib"])
    assert r.status == Status.OK, r.error
    assert r.accuracy["kind"] == "agreement" and r.accuracy["n"] == 6 and r.accuracy["top1_agreement"] == 1.0


def test_other_images_use_the_checkpoint_by_absolute_path(exported):
    from edgebench.results import Status

    other = _images(exported["tmp"] / "other", 3, seed=9)
    r = _agreement(exported["artifact"], other)
    assert r.status == Status.OK, r.error
    assert r.accuracy["n"] == 3 and r.accuracy["top1_agreement"] == 1.0


def test_a_moved_or_changed_checkpoint_is_one_clear_line(exported):
    import torch

    other = _images(exported["tmp"] / "other", 3, seed=9)
    mixed = exported["tmp"] / "mixed"
    shutil.copytree(other, mixed)
    shutil.copy(exported["calib"] / "0.png", mixed / "calib0.png")
    weights = torch.load(exported["ckpt"], weights_only=True)
    weights = {k: v + 1 if v.is_floating_point() else v for k, v in weights.items()}
    torch.save(weights, exported["ckpt"])  # new weights, same path
    r = _agreement(exported["artifact"], other)
    assert r.accuracy is None and r.error.stage == "load"
    assert "changed since the export (sha256 differs)" in r.error.message
    exported["ckpt"].unlink()
    r = _agreement(exported["artifact"], mixed)
    assert r.accuracy is None and str(exported["ckpt"]) in r.error.message
    assert "is not there any more" in r.error.message
    assert "1 of the 4 images are inputs the export stored eager outputs for" in r.error.message


def test_a_small_calibration_folder_is_split_and_the_int8_row_says_so(tmp_path, tiny_zoo_entry):
    from edgebench.exporters import export
    from edgebench.exporters.manifest import read_manifest
    from edgebench.results import Status
    from edgebench.spec import ExportSpec, ModelSpec, Variant

    calib = _images(tmp_path / "calib", 6, seed=2)
    spec = ExportSpec(formats=("onnx",), out_dir=tmp_path / "artifacts", calibration_dir=calib,
                      variant=Variant("int8"))  # 32 + 8 asked for, 6 images given
    (row,) = export(ModelSpec("tiny_cnn"), spec)
    assert row.status == Status.OK, row.error
    (note,) = [w for w in row.warnings if "calibration folder" in w]
    assert f"calibration folder {calib} gave 6 inputs for 32 calibration + 8 parity samples" in note
    assert "3 calibrate the int8 ranges, 3 check parity" in note
    m = read_manifest(Path(row.artifact.path))
    assert note in m["warnings"] and m["export_options"]["calibration"] == str(calib.resolve())
    assert m["export_options"]["calibration_samples"] == 3
