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
# The reference is "decided" on an input when its own softmax gives the top-1 class at least this
# probability (the criterion of benchmarks/variant_speed.py). Where it is below, the top-2 logits are
# close and int8 rounding flips the arg-max without the artifact being wrong: on the real MobileNetV2
# weights every int8 flip on 96 held-out photo crops was on such a near-tie, while parity's few random
# crops (mostly textures) are undecided more often than not. So int8 is judged where eager is decided.
# Measured (real MobileNetV2 ImageNet weights, default 8 parity + 32 calibration photo crops, AMD EPYC):
# eager is decided on 1 of 8 parity and 16 of 32 calibration inputs. Default int8 TFLite / ONNX: 62 % /
# 75 % over all parity inputs (the old warning), 100 % / 100 % where decided on both sets: no warning.
# ai-edge-quantizer's old moving-average calibration (logits clipped at 12.35): 7/8 over all parity
# inputs, 1/1 decided, but 50 % on the 16 decided calibration inputs, 8 of them tied at the ceiling:
# flagged by the calibration-input check (int8_agreement_warnings); its fixed calibration: 100 %.
DECIDED_MIN_PROB = 0.5


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


def top1_probability(output: Any) -> float:
    """The top-1 class's probability in one output array (all its values are one sample's class
    scores): the array itself when it already is a probability vector (non-negative, sums to 1 within
    1e-3), else its softmax (logits or log-probabilities). A value in (0, 1]."""
    import numpy as np

    x = np.asarray(output, dtype=np.float64).ravel()
    if x.size and np.all(x >= 0) and abs(float(x.sum()) - 1.0) <= 1e-3:
        return float(x.max())
    e = np.exp(x - x.max())
    return float(e.max() / e.sum())


def _tied_top(output: Any) -> bool:
    """Whether the largest value of one output array is held by two or more classes (exactly)."""
    import numpy as np

    x = np.asarray(output).ravel()
    return x.size > 1 and int(np.count_nonzero(x == x.max())) > 1


def compare(references: Sequence[Any], actuals: Sequence[Any], *, classification: bool = True,
            image: bool = False) -> dict[str, Any]:
    """Parity of ``actuals`` against ``references`` (one output array per input sample):
    ``{max_abs, mean_abs, sqnr_db, top1_agreement, n}``. ``top1_agreement`` is the share of samples
    whose arg-max class agrees (None when the outputs are not class scores).

    For class scores (``classification``) it adds, in [0, 1] or counts:
    ``n_decided`` — the samples where the reference is decided (its top-1 probability, see
    :func:`top1_probability`, is ≥ :data:`DECIDED_MIN_PROB`); ``top1_agreement_decided`` — the
    arg-max agreement over those samples only (None when ``n_decided`` is 0); ``top1_ties`` — the
    samples whose reference is decided but whose actual top value is held by two or more classes
    exactly (the mark of outputs clipped at a ceiling). Without ``classification`` these three keys
    are None.

    ``image``: the outputs are images (an image-to-image model): adds ``psnr_db``, ``psnr_db_min``
    and ``ssim`` against the references (:mod:`edgebench.results.image_metrics`).

    Raises ValueError when the counts or per-sample sizes differ, or there are no samples."""
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
    top1 = top1_decided = n_decided = ties = None
    if classification:
        agree = [int(np.argmax(r.ravel()) == np.argmax(a.ravel())) for r, a in zip(refs, acts)]
        top1 = sum(agree) / len(agree)
        decided = [top1_probability(r) >= DECIDED_MIN_PROB for r in refs]
        n_decided = sum(decided)
        top1_decided = sum(g for g, d in zip(agree, decided) if d) / n_decided if n_decided else None
        ties = sum(_tied_top(a) for a, d in zip(acts, decided) if d)
    result = {
        "max_abs": float(diff.max()) if finite else None,
        "mean_abs": float(diff.mean()) if finite else None,
        "sqnr_db": round(sqnr_db(ref, act), 3) if finite else -SQNR_CEILING_DB,
        "top1_agreement": top1,
        "n": len(refs),
        "top1_agreement_decided": top1_decided,
        "n_decided": n_decided,
        "top1_ties": ties,
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


def int8_agreement_warnings(vs_eager: dict[str, Any] | None,
                            vs_calibration: dict[str, Any] | None = None) -> list[str]:
    """The warnings of an int8 artifact's top-1 agreement with eager, from :func:`compare` results
    on the parity inputs (``vs_eager``) and on the calibration inputs (``vs_calibration``, None when
    the variant has none). Judged where eager is decided (``top1_agreement_decided``, threshold
    :data:`INT8_MIN_TOP1`): a flip where eager's top-2 are near-tied says nothing about the artifact.

    - parity inputs with decided ones below the threshold → one warning quoting both numbers;
    - no decided parity input → one line saying agreement cannot be judged there (with the
      all-inputs share for context, and the calibration verdict when there is one);
    - calibration inputs with decided ones below the threshold → one warning: the int8 ranges were
      fitted on these very inputs, so the quantizer's ranges or conversion are wrong (clipped
      activations or outputs), not the data new; it counts decided inputs with a tied top output.

    Empty when the outputs are not class scores or every judged agreement is ≥ the threshold."""
    out: list[str] = []
    p = f"p≥{DECIDED_MIN_PROB:g}"
    vs = vs_eager or {}
    cal = vs_calibration or {}
    if vs.get("top1_agreement") is not None and vs.get("n_decided") is not None:
        n, n_dec, share = vs["n"], vs["n_decided"], vs["top1_agreement"]
        if n_dec == 0:
            judged = ""
            if cal.get("n_decided"):
                judged = (f"; on the {cal['n_decided']} calibration inputs where it is decided, int8 agrees "
                          f"{cal['top1_agreement_decided']:.0%}")
            out.append(f"eager is undecided (p<{DECIDED_MIN_PROB:g}) on all {n} parity inputs: int8 agreement "
                       f"cannot be judged on them ({share:.0%} agree, near-ties flip freely){judged}")
        elif vs["top1_agreement_decided"] < INT8_MIN_TOP1:
            out.append(f"int8 top-1 agreement with eager is {vs['top1_agreement_decided']:.0%} on the {n_dec} of {n} "
                       f"parity inputs where eager is decided ({p}; < {INT8_MIN_TOP1:.0%}), {share:.0%} over all {n}")
    if cal.get("n_decided") and cal["top1_agreement_decided"] < INT8_MIN_TOP1:
        ties = cal.get("top1_ties") or 0
        tied = (f"; {ties} of them have a tied top-1 output (outputs clipped at a ceiling?)" if ties else "")
        out.append(f"int8 top-1 agreement with eager is {cal['top1_agreement_decided']:.0%} on the "
                   f"{cal['n_decided']} of {cal['n']} calibration inputs where eager is decided ({p}; < "
                   f"{INT8_MIN_TOP1:.0%}){tied}: the int8 ranges were fitted on these very inputs, so the "
                   "quantizer's ranges or conversion are wrong (clipped activations or outputs), not the data new")
    return out
