"""Parity numbers against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgebench.exporters.parity import SQNR_CEILING_DB, compare, sqnr_db


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
