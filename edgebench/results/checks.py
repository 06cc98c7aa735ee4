"""Checks on a result's numbers that turn into a warning on the row (and a mark in ``compare``)
instead of a silent OK."""

from __future__ import annotations

from typing import Any

# An int8 artifact whose top-1 agrees with its fp32 model on fewer than half of the inputs is broken,
# not noisy: post-training int8 of a classifier keeps ≥ 90 % agreement on real images (the export's
# own parity note, INT8_MIN_TOP1), but parity runs on a few inputs, so between 50 % and 90 % the
# sample alone can explain it. Below 50 % it cannot. From the export's parity, only the inputs where
# fp32 is decided (softmax top-1 ≥ 0.5, parity.DECIDED_MIN_PROB) count: near-tied logits flip freely.
INT8_MIN_AGREEMENT = 0.5


def is_int8(variant: str | None) -> bool:
    """Whether a variant label (``int8``, ``int8-dynamic``, ``pruned50-int8`` …) is an int8 precision."""
    return bool(variant) and any(part == "int8" for part in str(variant).split("-"))


def _decided(vs: dict[str, Any], inputs: str) -> tuple[float | None, str, int | None]:
    """(agreement, where, n) of one parity comparison over the inputs where fp32 is decided; a
    manifest older than that split gives its all-inputs agreement; (None, "", None) when fp32 is
    decided on none of them or the comparison has no top-1."""
    if vs.get("top1_agreement") is None:
        return None, "", None
    if "n_decided" not in vs:  # written before the decided split
        return float(vs["top1_agreement"]), f"in the export's parity check{inputs}", vs.get("n")
    if not vs.get("n_decided") or vs.get("top1_agreement_decided") is None:
        return None, "", None
    return (float(vs["top1_agreement_decided"]),
            f"in the export's parity check{inputs} where fp32 is decided (p≥0.5)",
            vs["n_decided"])


def agreement(accuracy: dict[str, Any] | None, parity: dict[str, Any] | None) -> tuple[float | None, str, int | None]:
    """(top-1 agreement with the fp32 model, where it was measured, n): a ``--dataset`` agreement run
    first, else the export's parity against eager over the inputs where eager is decided — the lower
    of the parity inputs' and (static int8) the calibration inputs' (``vs_eager_on_calibration``),
    the one with more decided inputs on a tie;
    (None, "", None) when neither measured it or eager was decided on none of the inputs."""
    acc = accuracy or {}
    if acc.get("kind") == "agreement" and acc.get("top1_agreement") is not None:
        return float(acc["top1_agreement"]), "on the dataset", acc.get("n")
    found = [_decided((parity or {}).get("vs_eager") or {}, ""),
             _decided((parity or {}).get("vs_eager_on_calibration") or {}, " on its calibration inputs")]
    found = [f for f in found if f[0] is not None]
    # on a tie the larger sample speaks (1 of 1 parity input vs 16 of 16 calibration inputs)
    return min(found, key=lambda f: (f[0], -(f[2] or 0))) if found else (None, "", None)


def low_agreement(variant: str | None, accuracy: dict[str, Any] | None, parity: dict[str, Any] | None) -> str | None:
    """The warning for an int8 result whose top-1 agreement with fp32 is below
    :data:`INT8_MIN_AGREEMENT`, else None."""
    if not is_int8(variant):
        return None
    value, where, n = agreement(accuracy, parity)
    if value is None or value >= INT8_MIN_AGREEMENT:
        return None
    count = f", n={n}" if n else ""
    return (f"int8 top-1 agreement with fp32 is {value:.0%} {where}{count} (< {INT8_MIN_AGREEMENT:.0%}): the "
            "quantised model answers differently on most inputs; its timings are real, its answers are not")
