"""Dataset pre-processing lays images out the way the runner does: the runner's own layout rule
decides NCHW vs NHWC from the model's input shape (no second guess, no manifest needed)."""

from __future__ import annotations

import numpy as np
import pytest

from edgebench.harness.accuracy import Dataset, prepare_inputs, runner_layout
from edgebench.models.input_spec import InputSpec
from edgebench.runner.inputs import layout


@pytest.fixture
def images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        p = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return Dataset(tmp_path, tuple(paths), None, {})


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (1, 32, 32, 3), (1, 1, 28, 28), (1, 28, 28, 1)])
def test_layout_comes_from_the_runner(images, tmp_path, shape):
    # a third-party file without a manifest: the spec only knows the shape read from the file
    spec = InputSpec(shape=shape)
    assert runner_layout(spec).layout == layout(list(shape))
    batch = np.load(prepare_inputs(images, spec, tmp_path / "x.npy"))
    assert batch.shape == (2, *shape[1:]) and batch.dtype == np.float32


def test_nhwc_rows_are_the_nchw_rows_transposed(images, tmp_path):
    nchw = np.load(prepare_inputs(images, InputSpec(shape=(1, 3, 32, 32)), tmp_path / "a.npy"))
    nhwc = np.load(prepare_inputs(images, InputSpec(shape=(1, 32, 32, 3)), tmp_path / "b.npy"))
    np.testing.assert_allclose(nhwc, nchw.transpose(0, 2, 3, 1), rtol=0, atol=1e-6)


def test_raw_pixel_uint8_file_without_manifest_gets_pixels_not_normalised_floats(images, tmp_path, monkeypatch):
    """A third-party uint8 NHWC file with no quantisation parameters (MediaPipe / TF-Hub): the
    format plug-in's reader says uint8 over 0–255, so the dataset batch holds raw pixel values in
    NHWC (the runner casts them to uint8), not ImageNet-normalised NCHW floats."""
    from edgebench.harness import artifacts

    model = tmp_path / "raw.tflite"
    model.write_bytes(b"not read: file_inputs is replaced below")
    facts = [{"name": "x", "shape": [1, 32, 32, 3], "dtype": "uint8", "scale": None, "zero_point": None,
              "layout": "NHWC", "value_range": [0.0, 255.0]}]
    monkeypatch.setattr(artifacts, "file_inputs", lambda path, fmt: facts)
    art = artifacts.Artifact(model, "tflite", "raw", "unknown", None)
    spec = art.input_spec((1, 32, 32, 3))
    batch = np.load(prepare_inputs(images, spec, tmp_path / "raw.npy"))
    assert batch.shape == (2, 32, 32, 3)
    assert batch.min() >= -1e-3 and batch.max() <= 255 + 1e-3 and batch.max() > 100
    ref = np.load(prepare_inputs(images, InputSpec(shape=(1, 32, 32, 3), mean=(0.0,) * 3, std=(1 / 255,) * 3),
                                 tmp_path / "ref.npy"))
    np.testing.assert_allclose(batch, ref, atol=1e-3)
