"""Checks on a result's numbers that turn into a warning on the row (and a mark in ``compare``)
instead of a silent OK."""

from __future__ import annotations

from typing import Any

# An int8 artifact whose top-1 agrees with its fp32 model on fewer than half of the inputs is broken,
# not noisy: post-training int8 of a classifier keeps ≥ 90 % agreement on real images (the export's
# own parity note, INT8_MIN_TOP1), but parity runs on a few synthetic inputs, whose near-tied logits
# flip more easily, so between 50 % and 90 % the sample alone can explain it. Below 50 % it cannot.
INT8_MIN_AGREEMENT = 0.5


def is_int8(variant: str | None) -> bool:
    """Whether a variant label (``int8``, ``int8-dynamic``, ``pruned50-int8`` …) is an int8 precision."""
    return bool(variant) and any(part == "int8" for part in str(variant).split("-"))


def agreement(accuracy: dict[str, Any] | None, parity: dict[str, Any] | None) -> tuple[float | None, str, int | None]:
    """(top-1 agreement with the fp32 model, where it was measured, n): a ``--dataset`` agreement run
    first, else the export's parity against eager; (None, "", None) when neither measured it."""
    acc = accuracy or {}
    if acc.get("kind") == "agreement" and acc.get("top1_agreement") is not None:
        return float(acc["top1_agreement"]), "on the dataset", acc.get("n")
    vs = (parity or {}).get("vs_eager") or {}
    if vs.get("top1_agreement") is not None:
        return float(vs["top1_agreement"]), "in the export's parity check", vs.get("n")
    return None, "", None


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
