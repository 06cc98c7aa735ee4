"""Image-to-image metrics: PSNR and SSIM (scikit-image) between output images and references.

Used for an image-to-image model's parity against eager (the reference is the eager output) and
for its ``--dataset`` pairs (the reference is the clean image). Pure functions on numpy arrays.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

# identical images have infinite PSNR; JSON has no infinity (same ceiling as parity's SQNR)
PSNR_CEILING_DB = 200.0


def is_image_output(output_shape: Sequence[int], input_shape: Sequence[int]) -> bool:
    """True when a model's output has its input's shape (batch aside): an image-to-image model."""
    return len(output_shape) == len(input_shape) >= 3 and tuple(output_shape[1:]) == tuple(input_shape[1:])


def _hwc(a: Any) -> Any:
    """One image as HxWxC: drops a leading batch of 1; CxHxW (C ≤ 4) → HxWxC."""
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    while a.ndim > 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"an image must be 2-D or 3-D, got shape {a.shape}")
    if a.shape[0] <= 4 and a.shape[-1] > 4:
        a = np.moveaxis(a, 0, -1)
    return a


def psnr_ssim(references: Sequence[Any], actuals: Sequence[Any], data_range: float | None = None) -> dict[str, Any]:
    """Mean PSNR (dB) and SSIM of ``actuals`` against ``references`` (one image per sample, NCHW /
    CHW / HWC), plus the worst sample's PSNR. ``data_range``: the value span of a pixel (1.0 for
    [0, 1] images); None takes each reference's own max − min. ValueError for mismatched shapes."""
    import numpy as np
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if len(references) != len(actuals):
        raise ValueError(f"{len(references)} reference images but {len(actuals)} outputs")
    if len(references) == 0:
        raise ValueError("image metrics need at least one sample")
    psnrs, ssims = [], []
    for ref, act in zip(references, actuals):
        r, a = _hwc(ref), _hwc(act)
        if r.shape != a.shape:
            raise ValueError(f"output image is {a.shape}, the reference {r.shape}")
        span = float(data_range) if data_range is not None else float(r.max() - r.min()) or 1.0
        if np.array_equal(r, a):
            psnrs.append(PSNR_CEILING_DB)
        else:
            psnrs.append(min(PSNR_CEILING_DB, float(peak_signal_noise_ratio(r, a, data_range=span))))
        side = min(r.shape[0], r.shape[1])
        win = min(7, side if side % 2 else side - 1)
        if win < 3:
            ssims.append(float("nan"))
            continue
        ssims.append(float(structural_similarity(r, a, data_range=span, channel_axis=-1, win_size=win)))
    finite = [s for s in ssims if not math.isnan(s)]
    return {"psnr_db": round(float(np.mean(psnrs)), 3), "psnr_db_min": round(float(np.min(psnrs)), 3),
            "ssim": round(float(np.mean(finite)), 5) if finite else None, "n": len(psnrs)}
