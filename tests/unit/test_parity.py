"""Parity numbers against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgebench.exporters.parity import SQNR_CEILING_DB, compare, int8_agreement_warnings, sqnr_db, top1_probability


def test_sqnr_hand_computed():
    # signal 1+4 = 5, noise 0.1² + 0.2² = 0.05 → 10·log10(100) = 20 dB
    assert sqnr_db([1.0, 2.0], [1.1, 1.8]) == pytest.approx(20.0)


def test_sqnr_identical_and_silent():
    assert sqnr_db([1.0, -2.0], [1.0, -2.0]) == SQNR_CEILING_DB
    assert sqnr_db([0.0, 0.0], [0.5, 0.0]) == -SQNR_CEILING_DB


def test_compare_numbers():
    refs = [np.array([[1.0, 3.0, 2.0]]), np.array([[5.0, 0.0, 1.0]])]
    acts = [np.array([[1.0, 2.5, 3.0]]), np.array([[5.0, 0.0, 1.0]])]
    p = compare(refs, acts)
    assert p["max_abs"] == pytest.approx(1.0)
    assert p["mean_abs"] == pytest.approx(1.5 / 6)
    assert p["top1_agreement"] == 0.5  # sample 1 flips from class 1 to class 2
    assert p["n"] == 2
    signal = 1 + 9 + 4 + 25 + 0 + 1
    assert p["sqnr_db"] == pytest.approx(10 * math.log10(signal / 1.25), abs=1e-3)


def test_compare_not_classification_and_non_finite():
    assert compare([np.ones(4)], [np.ones(4)], classification=False)["top1_agreement"] is None
    p = compare([np.ones(3)], [np.array([1.0, np.nan, 1.0])])
    assert p["max_abs"] is None and p["sqnr_db"] == -SQNR_CEILING_DB


@pytest.mark.parametrize("refs,acts", [([], []), ([np.ones(3)], []), ([np.ones(3)], [np.ones(4)])])
def test_compare_rejects_mismatch(refs, acts):
    with pytest.raises(ValueError):
        compare(refs, acts)


def _logits(top: int, margin: float, n_classes: int = 4) -> np.ndarray:
    """One sample's logits: class ``top`` leads every other (all 0) by ``margin``."""
    x = np.zeros((1, n_classes))
    x[0, top] = margin
    return x


def test_decided_subset_by_the_references_softmax():
    # 4 classes: a margin of 3 gives p = e³/(e³+3) ≈ 0.87 (decided), 1.2 gives ≈ 0.525 (decided),
    # 0.9 gives ≈ 0.45 and 0.5 ≈ 0.35 (undecided)
    assert top1_probability(_logits(0, 1.2)) == pytest.approx(math.exp(1.2) / (math.exp(1.2) + 3))
    refs = [_logits(0, 3.0), _logits(1, 3.0), _logits(2, 1.2), _logits(3, 0.9), _logits(0, 0.5)]
    acts = [_logits(0, 3.0), _logits(2, 3.0), _logits(2, 1.0), _logits(0, 1.0), _logits(1, 1.0)]
    p = compare(refs, acts)
    assert p["top1_agreement"] == pytest.approx(2 / 5)
    assert p["n_decided"] == 3  # samples 0, 1, 2
    assert p["top1_agreement_decided"] == pytest.approx(2 / 3)  # sample 1 flips, 0 and 2 agree
    assert p["top1_ties"] == 0


def test_decided_probabilities_are_not_softmaxed_again_and_ties_counted():
    # probability outputs (a model ending in softmax): 0.6 is decided as is (its softmax would be ≈ 0.29)
    refs = [np.array([[0.6, 0.3, 0.1]]), np.array([[0.4, 0.35, 0.25]])]
    assert top1_probability(refs[0]) == pytest.approx(0.6)
    acts = [np.array([[0.5, 0.5, 0.0]]), np.array([[0.5, 0.5, 0.0]])]  # both tied at the top
    p = compare(refs, acts)
    assert p["n_decided"] == 1 and p["top1_agreement_decided"] == 1.0  # argmax of a tie: the first class
    assert p["top1_ties"] == 1  # only decided samples count


def test_no_decided_sample_and_not_classification():
    flat = [_logits(0, 0.1), _logits(1, 0.1)]
    p = compare(flat, flat)
    assert p["n_decided"] == 0 and p["top1_agreement_decided"] is None and p["top1_agreement"] == 1.0
    q = compare([np.ones(4)], [np.ones(4)], classification=False)
    assert q["n_decided"] is None and q["top1_agreement_decided"] is None and q["top1_ties"] is None


def _vs(agree_decided, n_decided, n=8, agree=0.5, ties=0):
    return {"top1_agreement": agree, "n": n, "top1_agreement_decided": agree_decided, "n_decided": n_decided,
            "top1_ties": ties}


def test_int8_warnings_judge_decided_inputs_only():
    # 62 % over all inputs but every decided one agrees: no warning (the near-ties flip, not the artifact)
    assert int8_agreement_warnings(_vs(1.0, 3, agree=0.62), _vs(1.0, 20, n=32)) == []
    (w,) = int8_agreement_warnings(_vs(0.5, 4, agree=0.75), None)
    assert "50% on the 4 of 8 parity inputs where eager is decided" in w and "75% over all 8" in w


def test_int8_warnings_no_decided_parity_input_said_once():
    (w,) = int8_agreement_warnings(_vs(None, 0, agree=0.25), _vs(1.0, 10, n=32))
    assert w.startswith("eager is undecided (p<0.5) on all 8 parity inputs: int8 agreement cannot be judged")
    assert "25% agree" in w and "10 calibration inputs where it is decided, int8 agrees 100%" in w


def test_int8_warnings_calibration_miss_blames_the_ranges():
    # the broken-calibration case: parity looks fine (7/8), the calibration inputs' decided ones tie
    ws = int8_agreement_warnings(_vs(1.0, 2, agree=7 / 8), _vs(0.11, 18, n=32, agree=0.3, ties=15))
    (w,) = ws
    assert "11% on the 18 of 32 calibration inputs where eager is decided" in w
    assert "15 of them have a tied top-1 output" in w and "ranges were fitted on these very inputs" in w
