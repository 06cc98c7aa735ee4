"""Exports at integration scale: the default zoo model (MobileNetV3-Small, real size) through every
registered format at fp32 (parity with eager, the published MAC count), and parallel export in
spawned worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgebench.exporters import export, registry
from edgebench.exporters.parity import FP32_MIN_SQNR_DB
from edgebench.results import Status
from edgebench.spec import ExportSpec, ModelSpec


def test_zoo_model_every_format_fp32(tmp_path):
    """mobilenet_v3_small, the default model, through every runnable format at fp32."""
    rows = export(ModelSpec("mobilenet_v3_small"), ExportSpec(formats=tuple(registry.names()), out_dir=tmp_path,
                                                              parity_samples=2))
    for row in rows:
        assert row.status == Status.OK, (row.format, row.error)
        eager = row.parity["vs_eager"]
        if eager is not None:
            assert eager["sqnr_db"] >= FP32_MIN_SQNR_DB
        assert row.artifact.macs == pytest.approx(58.9e6, rel=0.1)


def test_parallel_workers_export_every_cell(tiny_zoo_entry, tmp_path):
    """``workers`` > 1: (format, transform) groups in spawned processes give one OK row per cell
    (the two cheapest runnable formats, by their declared ``cost``)."""
    runnable = [f for f in registry.names() if registry.get(f).unavailable_reason() is None
                and registry.get(f).runnable_here]
    fmts = tuple(sorted(runnable, key=lambda f: registry.get(f).cost)[:2])
    rows = export(ModelSpec("tiny_cnn"), ExportSpec(formats=fmts, out_dir=tmp_path, calibration_samples=4,
                                                    parity_samples=2), workers=2)
    assert sorted((r.format, r.status) for r in rows) == sorted((f, Status.OK) for f in fmts)
    assert all(Path(r.artifact.path).exists() for r in rows)
