"""Parity between an artifact's outputs and a reference (eager PyTorch): pure numpy functions."""

from __future__ import annotations

import math
from typing import Any, Sequence

from edgebench.results.image_metrics import psnr_ssim

# Bit-identical outputs have no noise at all; report this ceiling instead of an infinite SQNR
# (JSON has no infinity and 200 dB is far beyond any float32 rounding noise).
SQNR_CEILING_DB = 200.0
FP32_MIN_SQNR_DB = 60.0
INT8_MIN_TOP1 = 0.90


def sqnr_db(reference: Any, actual: Any) -> float:
    """Signal-to-quantisation-noise ratio in dB: 10·log10(Σref² / Σ(ref-actual)²), capped at
    :data:`SQNR_CEILING_DB` (identical outputs); ``-inf``-like noise-only outputs give negative dB."""
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64).ravel()
    act = np.asarray(actual, dtype=np.float64).ravel()
    noise = float(np.sum((ref - act) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0.0:
        return SQNR_CEILING_DB
    if signal == 0.0:
        return -SQNR_CEILING_DB
    return min(SQNR_CEILING_DB, 10.0 * math.log10(signal / noise))


def compare(references: Sequence[Any], actuals: Sequence[Any], *, classification: bool = True,
            image: bool = False) -> dict[str, Any]:
    """Parity of ``actuals`` against ``references`` (one output array per input sample):
    ``{max_abs, mean_abs, sqnr_db, top1_agreement, n}``. ``top1_agreement`` is the share of samples
    whose arg-max class agrees (None when the outputs are not class scores). ``image``: the outputs
    are images (an image-to-image model): adds ``psnr_db``, ``psnr_db_min`` and ``ssim`` against the
    references (:mod:`edgebench.results.image_metrics`)."""
    import numpy as np

    if len(references) != len(actuals):
        raise ValueError(f"{len(references)} reference outputs but {len(actuals)} artifact outputs")
    if not references:
        raise ValueError("parity needs at least one sample")
    refs = [np.asarray(r, dtype=np.float64) for r in references]
    acts = [np.asarray(a, dtype=np.float64) for a in actuals]
    for r, a in zip(refs, acts):
        if r.size != a.size:
            raise ValueError(f"output has {a.size} values, the reference {r.size}")
    ref = np.concatenate([r.ravel() for r in refs])
    act = np.concatenate([a.ravel() for a in acts])
    diff = np.abs(ref - act)
    finite = bool(np.all(np.isfinite(act)))
    top1 = None
    if classification:
        agree = [int(np.argmax(r.ravel()) == np.argmax(a.ravel())) for r, a in zip(refs, acts)]
        top1 = sum(agree) / len(agree)
    result = {
        "max_abs": float(diff.max()) if finite else None,
        "mean_abs": float(diff.mean()) if finite else None,
        "sqnr_db": round(sqnr_db(ref, act), 3) if finite else -SQNR_CEILING_DB,
        "top1_agreement": top1,
        "n": len(refs),
    }
    if image and finite:
        result.update(psnr_ssim(refs, [a.reshape(r.shape) for r, a in zip(refs, acts)]))
    return result


def degenerate_reference(references: Sequence[Any]) -> str | None:
    """A warning when the eager outputs are all below float32's normal range (~1e-38): an untrained
    or collapsed model whose "logits" are denormal noise, where runtimes that flush denormals to
    zero disagree by 100 % and SQNR says nothing about the conversion. None for real outputs."""
    import numpy as np

    if not references:
        return None
    peak = max(float(np.max(np.abs(np.asarray(r, dtype=np.float64)))) for r in references)
    if peak >= float(np.finfo(np.float32).tiny):
        return None
    return (f"the eager model's outputs are at most {peak:.1e} (below float32's normal range): parity "
            "cannot be judged — its weights look untrained or its activations collapse")
