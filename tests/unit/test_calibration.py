"""Calibration inputs: image folders, bad folders, the scikit-image fallback, InputSpec samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgebench.errors import ConfigError
from edgebench.exporters.variants.calibration import calibration_inputs, calibration_source
from edgebench.models.input_spec import InputSpec

SPEC = InputSpec(shape=(1, 3, 32, 32), num_classes=10)


def _write_images(folder: Path, count: int, suffix: str = ".png") -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        sub = folder / ("a" if i % 2 else "b") / "deeper"  # recursive search
        sub.mkdir(parents=True, exist_ok=True)
        p = sub / f"img{i}{suffix}"
        Image.fromarray(rng.integers(0, 256, (40 + i, 50, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def test_a_folder_of_images_is_read_recursively_and_preprocessed(tmp_path):
    paths = _write_images(tmp_path, 3)
    _write_images(tmp_path / "jpg", 1, ".JPG")
    (tmp_path / "notes.txt").write_text("not an image")
    xs = calibration_inputs(SPEC, tmp_path, n=10)
    assert len(xs) == 4
    assert all(x.shape == (1, 3, 32, 32) and x.dtype == torch.float32 for x in xs)
    from PIL import Image

    first = sorted([*paths, *(tmp_path / "jpg").rglob("*.JPG")])[0]
    assert torch.allclose(xs[0], SPEC.preprocess(np.asarray(Image.open(first).convert("RGB"))))
    assert calibration_source(SPEC, tmp_path) == f"images in {tmp_path}"


def test_a_big_folder_gives_a_seeded_subset_of_n(tmp_path):
    _write_images(tmp_path, 6)
    a = calibration_inputs(SPEC, tmp_path, n=3, seed=0)
    b = calibration_inputs(SPEC, tmp_path, n=3, seed=0)
    assert len(a) == 3 and all(torch.equal(x, y) for x, y in zip(a, b))


def test_a_gray_model_gets_one_channel(tmp_path):
    _write_images(tmp_path, 2)
    gray = InputSpec(shape=(1, 1, 28, 28), mean=(0.5,), std=(0.5,), num_classes=10)
    xs = calibration_inputs(gray, tmp_path, n=2)
    assert [tuple(x.shape) for x in xs] == [(1, 1, 28, 28)] * 2


@pytest.mark.parametrize("make", ["missing", "file", "empty", "no_images"])
def test_a_bad_folder_is_a_config_error_naming_it(tmp_path, make):
    folder = tmp_path / "calib"
    if make == "file":
        folder.write_text("x")
    elif make == "empty":
        folder.mkdir()
    elif make == "no_images":
        folder.mkdir()
        (folder / "a.txt").write_text("x")
        (folder / "b.npy").write_bytes(b"x")
    with pytest.raises(ConfigError) as err:
        calibration_inputs(SPEC, folder)
    assert str(folder) in str(err.value)
    assert err.value.hint


def test_an_unreadable_image_is_a_config_error_naming_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"definitely not a jpeg")
    with pytest.raises(ConfigError, match="broken.jpg"):
        calibration_inputs(SPEC, tmp_path)


def test_zero_samples_is_a_config_error():
    with pytest.raises(ConfigError):
        calibration_inputs(SPEC, n=0)


def test_imagenet_models_without_a_folder_get_real_photos():
    import skimage.data

    xs = calibration_inputs(SPEC, n=20, seed=0)
    assert len(xs) == 20 and all(x.shape == (1, 3, 32, 32) for x in xs)
    assert torch.allclose(xs[0], SPEC.preprocess(skimage.data.chelsea()))
    assert torch.allclose(xs[1], SPEC.preprocess(skimage.data.coffee()))
    # the extra ones are crops/flips: all different from one another
    flat = torch.stack([x.flatten() for x in xs])
    assert torch.cdist(flat, flat).add(torch.eye(20) * 1e9).min() > 1e-3
    again = calibration_inputs(SPEC, n=20, seed=0)
    other = calibration_inputs(SPEC, n=20, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(xs, again))
    assert not all(torch.equal(x, y) for x, y in zip(xs[-5:], other[-5:]))
    assert "scikit-image" in calibration_source(SPEC)


def test_other_models_get_samples_from_their_input_spec():
    spec = InputSpec(shape=(1, 3, 16, 16), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), num_classes=4)
    xs = calibration_inputs(spec, n=4, seed=7)
    assert len(xs) == 4
    assert all(torch.equal(x, spec.example(1, seed=7 + i)) for i, x in enumerate(xs))
    assert "InputSpec" in calibration_source(spec)
