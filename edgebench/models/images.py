"""Real photos that ship inside scikit-image (no download), preprocessed for a model's InputSpec.

Used for int8 calibration (:mod:`edgebench.exporters.variants.calibration`) and to give the
random-initialised zoo models realistic BatchNorm statistics (:mod:`edgebench.models.zoo`).
"""

from __future__ import annotations

import functools
from typing import Any


# Photos bundled with scikit-image (no download): what an ImageNet model sees in the wild.
SKIMAGE_IMAGES = ("chelsea", "coffee", "astronaut", "rocket", "camera", "hubble_deep_field",
                  "immunohistochemistry", "coins", "retina", "moon", "clock", "gravel", "brick",
                  "grass")


def channels(input_spec: Any) -> int:
    return int(input_spec.shape[1] if input_spec.layout == "NCHW" else input_spec.shape[-1])


def is_imagenet_rgb(input_spec: Any) -> bool:
    """True for a 3-channel image model normalised with ImageNet mean/std, or with its own recorded
    pre-processing (timm / Hugging Face / torchvision config): real photos fit it."""
    from edgebench.models.input_spec import IMAGENET_MEAN, IMAGENET_STD

    if len(input_spec.shape) != 4 or channels(input_spec) != 3:
        return False
    if getattr(input_spec, "preprocessing", None) is not None:
        return True
    return tuple(input_spec.mean) == IMAGENET_MEAN and tuple(input_spec.std) == IMAGENET_STD


def to_input(input_spec: Any, image: Any) -> Any:
    """One HxW(x3) image → a batch-1 tensor in the model's channel count and normalisation."""
    t = input_spec.preprocess(image)
    if channels(input_spec) == 1:  # preprocess makes 3 equal channels; a gray model wants one
        t = t[:, :1] if input_spec.layout == "NCHW" else t[..., :1]
    return t.contiguous()


@functools.lru_cache(maxsize=1)
def skimage_photos() -> tuple[Any, ...]:
    """The scikit-image sample photos available in this release, as numpy arrays (read once)."""
    import numpy as np
    import skimage.data

    photos = []
    for name in SKIMAGE_IMAGES:
        try:
            img = getattr(skimage.data, name)()
        except (AttributeError, ModuleNotFoundError, OSError):
            # not in this scikit-image release, or needs a download (pooch) we must not do
            continue
        photos.append(np.asarray(img))
    return tuple(photos)


def random_crop(image: Any, rng: Any) -> Any:
    """A random 35–100 % area crop with 3:4–4:3 aspect, flipped half the time."""
    import numpy as np

    h, w = image.shape[:2]
    area = rng.uniform(0.35, 1.0) * h * w
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    ch = int(min(h, round(np.sqrt(area / aspect))))
    cw = int(min(w, round(np.sqrt(area * aspect))))
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    crop = image[top:top + ch, left:left + cw]
    return crop[:, ::-1] if rng.random() < 0.5 else crop




def photo_inputs(input_spec: Any, n: int, seed: int = 0) -> list[Any]:
    """``n`` batch-1 tensors from the scikit-image photos (all of them first, then seeded random
    crops/flips of them), preprocessed for ``input_spec``; empty if no photo is available."""
    import numpy as np

    photos = skimage_photos()
    if not photos:
        return []
    rng = np.random.default_rng(seed)
    picks = list(photos[:n]) + [random_crop(photos[int(rng.integers(len(photos)))], rng)
                          for _ in range(max(0, n - len(photos)))]
    return [to_input(input_spec, img) for img in picks]
