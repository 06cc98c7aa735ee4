"""Task-aware metrics end to end: an image-to-image model's export parity is PSNR / SSIM and its
`run --dataset` pairs are scored against the clean images; a classifier's partial labelled folder
is scored on the right classes (by class name from --labels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgebench.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def tiny_denoiser():
    """A zoo entry: 3×32×32 image → 3×32×32 image (residual conv), task image-to-image."""
    import torch.nn as nn

    from edgebench.models.input_spec import InputSpec
    from edgebench.models.zoo import ZooEntry, zoo

    class Denoise(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return x + 0.1 * self.conv(x)

    def build(num_classes: int, **kwargs):
        import torch

        torch.manual_seed(0)
        return Denoise()

    entry = ZooEntry("tiny_denoiser", build, InputSpec(shape=(1, 3, 32, 32), task="image-to-image", num_classes=None),
                     "test denoiser", "tests")
    zoo.add("tiny_denoiser", entry)
    yield entry
    zoo.remove("tiny_denoiser")


def _save(path: Path, value: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    Image.fromarray(np.clip(value + rng.normal(0, 3, (40, 40, 3)), 0, 255).astype(np.uint8)).save(path)


def test_image_to_image_parity_and_pairs(tiny_denoiser, tmp_path, db, capsys):
    code, out, err = run(capsys, "--db", str(db), "export", "--model", "tiny_denoiser", "-f", "torchscript",
                         "-o", str(tmp_path / "out"))
    assert code == 0, err
    artifact = tmp_path / "out/tiny_denoiser/tiny_denoiser-fp32.pt"
    parity = json.loads(Path(f"{artifact}.manifest.json").read_text())["parity"]["vs_eager"]
    assert parity["top1_agreement"] is None
    assert parity["psnr_db"] > 60 and parity["ssim"] > 0.999
    assert "PSNR" in out  # the export table's agreement column, instead of a blank top-1
    for name, v in (("a", 90), ("b", 170)):
        _save(tmp_path / "pairs/noisy" / f"{name}.png", v + 6)
        _save(tmp_path / "pairs/clean" / f"{name}.png", v)
    code, out, err = run(capsys, "--db", str(db), "run", str(artifact), "--dataset", str(tmp_path / "pairs"),
                         "--runs", "2", "--min-seconds", "0", "--warmup", "0", "--warmup-seconds", "0", "-o", "json")
    assert code == 0, err
    rows = json.loads(out)
    from edgebench.results import Store

    with Store(db) as store:
        acc = [r for r in store.results(kind="run")][-1].accuracy
    assert acc["kind"] == "pairs" and acc["n"] == 2 and "accuracy" not in acc
    assert 10 < acc["psnr_db"] < 60 and 0 < acc["ssim"] <= 1
    assert rows


def test_partial_labelled_folder_by_class_name(tiny_zoo_entry, tmp_path, db, capsys):
    labels = tmp_path / "labels.txt"
    names = ["apple", "bus", "cat", "dog", "eel", "fig", "gnu", "hat", "ink", "jar"]
    labels.write_text("\n".join(names) + "\n")
    code, out, err = run(capsys, "--db", str(db), "export", "--model", "tiny_cnn", "-f", "torchscript",
                         "--labels", str(labels), "-o", str(tmp_path / "out"))
    assert code == 0, err
    artifact = tmp_path / "out/tiny_cnn/tiny_cnn-fp32.pt"
    for cls in ("hat", "cat"):
        for i in range(2):
            _save(tmp_path / "ds" / cls / f"{i}.png", 40 * i + 60)
    code, out, err = run(capsys, "--db", str(db), "run", str(artifact), "--dataset", str(tmp_path / "ds"),
                         "--runs", "2", "--min-seconds", "0", "--warmup", "0", "--warmup-seconds", "0")
    assert code == 0, err
    from edgebench.results import Store

    with Store(db) as store:
        acc = [r for r in store.results(kind="run")][-1].accuracy
    assert acc["class_index"] == {"cat": 2, "hat": 7}  # not renumbered 0, 1
    assert "per-class recall (n=4, classes mapped by class name)" in out
    assert "confusion matrix (rows: true class, columns: predicted)" in out
    assert acc["matrix_labels"] == ["cat", "hat", "other"]
    assert set(acc["per_class_recall"]) == {"cat", "hat"}
    assert acc["class_mapping"] == "class name"
    # the eager model decides what is right: its own predictions on these images
    import torch

    from edgebench.harness.accuracy import load_dataset, read_image
    from edgebench.harness.artifacts import from_path
    from edgebench.models import load
    from edgebench.spec import ModelSpec

    spec = from_path(artifact).input_spec()
    ds = load_dataset(tmp_path / "ds", spec)
    module = load(ModelSpec(name="tiny_cnn")).module
    with torch.no_grad():
        preds = [int(module(spec.preprocess(read_image(p))).argmax()) for p in ds.images]
    assert acc["accuracy"] == pytest.approx(np.mean([p == t for p, t in zip(preds, ds.labels)]))


def test_third_party_file_takes_preprocessing_and_labels_on_run(tiny_zoo_entry, tmp_path, db, capsys):
    """A file without a manifest: `run --mean/--std/--labels` say what its manifest would have."""
    code, out, err = run(capsys, "--db", str(db), "export", "--model", "tiny_cnn", "-f", "torchscript",
                         "-o", str(tmp_path / "out"))
    assert code == 0, err
    artifact = tmp_path / "out/tiny_cnn/tiny_cnn-fp32.pt"
    Path(f"{artifact}.manifest.json").unlink()  # now it is a third-party file
    names = ["apple", "bus", "cat", "dog", "eel", "fig", "gnu", "hat", "ink", "jar"]
    (tmp_path / "labels.txt").write_text("\n".join(names) + "\n")
    for i in range(3):
        _save(tmp_path / "ds" / "dog" / f"{i}.png", 50 * i + 40)
    argv = ["--db", str(db), "run", str(artifact), "--dataset", str(tmp_path / "ds"), "--input-shape", "1,3,32,32",
            "--runs", "2", "--min-seconds", "0", "--warmup", "0", "--warmup-seconds", "0"]
    # one "dog" folder: with --labels it is class 3 of the model, not class 0
    code, out, err = run(capsys, *argv, "--labels", str(tmp_path / "labels.txt"), "--mean", "0.5,0.5,0.5",
                         "--std", "0.5,0.5,0.5")
    assert code == 0, err
    from edgebench.results import Store

    with Store(db) as store:
        acc = [r for r in store.results(kind="run")][-1].accuracy
    assert acc["class_index"] == {"dog": 3} and acc["class_mapping"] == "class name"
    # the score is the eager model's, fed exactly that pre-processing
    import torch

    from edgebench.harness.accuracy import read_image
    from edgebench.models import load
    from edgebench.models.preprocessing import Preprocessing
    from edgebench.spec import ModelSpec

    p = Preprocessing(crop=(32, 32), resize=37, mean=(0.5,) * 3, std=(0.5,) * 3, source="t")
    module = load(ModelSpec(name="tiny_cnn")).module
    with torch.no_grad():
        preds = [int(module(p(read_image(f))).argmax()) for f in sorted((tmp_path / "ds/dog").iterdir())]
    assert acc["accuracy"] == pytest.approx(np.mean([q == 3 for q in preds]))
