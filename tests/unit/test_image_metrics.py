"""Image-to-image models get PSNR / SSIM (parity against eager, pairs against clean targets), never
top-1 or accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgebench.errors import ConfigError
from edgebench.exporters.parity import compare
from edgebench.harness.accuracy import evaluate, load_dataset
from edgebench.models.input_spec import InputSpec
from edgebench.models.preprocessing import Preprocessing
from edgebench.results.image_metrics import PSNR_CEILING_DB, psnr_ssim


def test_psnr_hand_computed():
    ref = np.zeros((1, 3, 16, 16))
    act = ref + 0.1  # MSE 0.01 over a data range of 1 → PSNR = 10·log10(1/0.01) = 20 dB
    m = psnr_ssim([ref], [act], data_range=1.0)
    assert m["psnr_db"] == pytest.approx(20.0)
    assert m["n"] == 1 and 0 < m["ssim"] <= 1
    same = psnr_ssim([ref + 0.5], [ref + 0.5], data_range=1.0)
    assert same["psnr_db"] == PSNR_CEILING_DB and same["ssim"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        psnr_ssim([ref], [np.zeros((1, 3, 8, 8))])


def test_parity_of_image_outputs_has_psnr_not_top1():
    rng = np.random.default_rng(0)
    refs = [rng.normal(size=(1, 3, 24, 24)).astype(np.float32) for _ in range(2)]
    acts = [r + 1e-3 for r in refs]
    vs = compare(refs, acts, classification=False, image=True)
    assert vs["top1_agreement"] is None
    span = [float(r.max() - r.min()) for r in refs]
    expected = np.mean([10 * math.log10(s ** 2 / 1e-6) for s in span])
    assert vs["psnr_db"] == pytest.approx(expected, abs=0.01)
    assert vs["ssim"] > 0.99
    assert "psnr_db" not in compare(refs, acts, classification=True)


def _img(path, value):
    from PIL import Image

    Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(path)


def _denoiser_spec():
    p = Preprocessing(crop=(16, 16), resize=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), source="t")
    return InputSpec(shape=(1, 3, 16, 16), task="image-to-image", num_classes=None).with_preprocessing(p)


def test_pairs_dataset_scores_against_clean_targets(tmp_path):
    for sub in ("noisy", "clean"):
        (tmp_path / sub).mkdir()
    for name, noisy, clean in (("a", 140, 128), ("b", 60, 51)):
        _img(tmp_path / "noisy" / f"{name}.png", noisy)
        _img(tmp_path / "clean" / f"{name}.png", clean)
    spec = _denoiser_spec()
    ds = load_dataset(tmp_path, spec)
    assert ds.kind == "pairs" and [p.name for p in ds.targets] == ["a.png", "b.png"]
    # a perfect denoiser: outputs = the clean images in the model's normalised space
    perfect = np.stack([spec.preprocess(np.full((16, 16, 3), v, np.uint8)).numpy()[0] for v in (128, 51)])
    acc = evaluate(perfect, ds)
    assert acc["kind"] == "pairs" and acc["psnr_db"] == PSNR_CEILING_DB and acc["ssim"] == pytest.approx(1.0)
    assert "accuracy" not in acc and "top1_agreement" not in acc
    # an identity "denoiser": off by 12/255 and 9/255 → PSNR per image 20·log10(255/12), 20·log10(255/9)
    identity = np.stack([spec.preprocess(np.full((16, 16, 3), v, np.uint8)).numpy()[0] for v in (140, 60)])
    acc = evaluate(identity, ds)
    expected = np.mean([20 * math.log10(255 / 12), 20 * math.log10(255 / 9)])
    assert acc["psnr_db"] == pytest.approx(expected, abs=0.01)


def test_flat_folder_compares_images_with_eager(tmp_path):
    _img(tmp_path / "x.png", 100)
    ds = load_dataset(tmp_path, _denoiser_spec())
    ref = np.random.default_rng(1).normal(size=(1, 3, 16, 16)).astype(np.float32)
    acc = evaluate(ref + 0.01, ds, reference=ref)
    assert acc["kind"] == "agreement" and acc["task"] == "image-to-image"
    assert "top1_agreement" not in acc and acc["psnr_db"] > 40


def test_unpaired_and_class_folders_are_errors(tmp_path):
    for sub in ("noisy", "clean"):
        (tmp_path / sub).mkdir()
    _img(tmp_path / "noisy" / "a.png", 1)
    _img(tmp_path / "clean" / "b.png", 1)
    with pytest.raises(ConfigError, match="'a' is in noisy/ only"):
        load_dataset(tmp_path, _denoiser_spec())
    other = tmp_path / "cls"
    (other / "cat").mkdir(parents=True)
    _img(other / "cat" / "a.png", 1)
    with pytest.raises(ConfigError, match="the model is image-to-image"):
        load_dataset(other, _denoiser_spec())


def test_compare_table_shows_psnr_for_image_models():
    from edgebench.results.compare import quality_text

    assert quality_text({"psnr_db": 31.24, "ssim": 0.912, "n": 2, "reference": "clean/ images"}) == \
        "PSNR vs clean 31.2 dB SSIM 0.912"
    assert quality_text({"psnr_db": 80.0, "ssim": 1.0, "sqnr_db": 75.2, "top1_agreement": None, "n": 8,
                         "reference": "export parity vs eager"}) == "PSNR 80.0 dB SSIM 1.000, SQNR 75 dB"
