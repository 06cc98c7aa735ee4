"""Datasets and scores for image-to-image models (a denoiser): PSNR / SSIM, never class metrics.

A pairs dataset is a folder with ``noisy/`` and ``clean/`` sub-folders holding images of the same
names: the model gets each noisy image (pre-processed the model's way) and its output is compared
with the clean image pre-processed the same way. Both are taken back to [0, 1] pixels with the
model's mean/std first (the model's output is read in its input's normalised space), so PSNR uses
a data range of 1. A flat folder is scored against the fp32 eager model's outputs instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgebench.errors import ConfigError
from edgebench.results.image_metrics import psnr_ssim

INPUT_DIR, TARGET_DIR = "noisy", "clean"


def find_pairs(root: Path, images: Any) -> tuple[list[Path], list[Path]] | None:
    """``(noisy files, clean files)`` paired by file stem when ``root`` has ``noisy/`` and ``clean/``;
    None when it has not. ``images(folder)`` lists a folder's image files. ConfigError names an
    image without its partner."""
    noisy_dir, clean_dir = root / INPUT_DIR, root / TARGET_DIR
    if not (noisy_dir.is_dir() and clean_dir.is_dir()):
        return None
    noisy = {p.stem: p for p in images(noisy_dir)}
    clean = {p.stem: p for p in images(clean_dir)}
    lonely = sorted(set(noisy) ^ set(clean))
    if lonely:
        where = INPUT_DIR if lonely[0] in noisy else TARGET_DIR
        raise ConfigError(f"{root}: {lonely[0]!r} is in {where}/ only ({len(lonely)} unpaired image(s))",
                          hint=f"every image in {INPUT_DIR}/ needs one of the same name in {TARGET_DIR}/")
    if not noisy:
        raise ConfigError(f"{root}/{INPUT_DIR} holds no images", hint="put the noisy images there, the clean ones in clean/")
    names = sorted(noisy)
    return [noisy[n] for n in names], [clean[n] for n in names]


def to_pixels(batch: np.ndarray, input_spec: Any) -> np.ndarray:
    """Normalised model-space images (N, C, H, W or N, H, W, C) → [0, 1] pixel space (x·std + mean)."""
    mean = np.asarray(input_spec.mean, dtype=np.float64)
    std = np.asarray(input_spec.std, dtype=np.float64)
    batch = np.asarray(batch, dtype=np.float64)
    if input_spec.layout == "NHWC":
        return batch * std + mean
    return batch * std[:, None, None] + mean[:, None, None]


def score_pairs(outputs: np.ndarray, targets: list[Path], input_spec: Any, read_image: Any) -> dict[str, Any]:
    """PSNR / SSIM of the model's outputs against the clean images (pixel space, data range 1)."""
    clean = np.stack([input_spec.preprocess(read_image(p)).numpy()[0] for p in targets])
    outputs = np.asarray(outputs, dtype=np.float32).reshape(clean.shape)
    metrics = psnr_ssim(to_pixels(clean, input_spec), to_pixels(outputs, input_spec), data_range=1.0)
    return {"kind": "pairs", "reference": f"{TARGET_DIR}/ images", "task": "image-to-image", **metrics}


def score_vs_eager(outputs: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """PSNR / SSIM of the artifact's output images against the fp32 eager model's (its data range)."""
    reference = np.asarray(reference)
    outputs = np.asarray(outputs).reshape(reference.shape)
    return {"kind": "agreement", "reference": "fp32 eager", "task": "image-to-image",
            **psnr_ssim(list(reference), list(outputs))}
