"""compare shows sparsity and the packed 1-bit size of pruned / binarized rows, in columns that
appear only when some row has them (issue 12, item 11)."""

from __future__ import annotations

import json

from edgebench.results.compare import compare_rows
from edgebench.results.model import ArtifactInfo, LatencyStats, RunResult, Status
from edgebench.results.render import render, text_cells

MB = 1024 * 1024


def _run(variant: str, transform: dict) -> RunResult:
    lat = LatencyStats(n=5, mean_ms=2.0, std_ms=0.1, min_ms=1.9, p50_ms=2.0, p90_ms=2.1, p99_ms=2.2, max_ms=2.3,
                       iqr_ms=0.1, cv=0.05, median_ci_low_ms=1.95, median_ci_high_ms=2.05, outliers=0)
    art = ArtifactInfo(path=f"a/vit-{variant}.onnx", format="onnx", variant=variant, size_bytes=8 * MB,
                       packed_1bit_bytes=transform.get("packed_1bit_bytes"), manifest={"transform": transform})
    return RunResult(model="vit", format="onnx", variant=variant, target="local", status=Status.OK,
                     artifact=art, latency=lat)


PRUNED = {"kind": "prune", "sparsity": 0.6, "sparsity_whole_model": 0.587}
BINARIZED = {"kind": "binarize", "sparsity": 0.0, "packed_1bit_bytes": MB // 2}


def test_pruned_and_binarized_rows_show_sparsity_and_packed_size():
    rows = compare_rows([_run("fp32", {"kind": "none", "sparsity": 0.01}), _run("pruned60-fp32", PRUNED),
                         _run("binarized-fp32", BINARIZED)])
    by = {r["variant"]: r for r in rows}
    assert by["pruned60-fp32"]["sparsity"] == 0.6 and by["pruned60-fp32"]["sparsity_whole_model"] == 0.587
    assert by["binarized-fp32"]["packed_1bit_mb"] == 0.5 and by["binarized-fp32"]["sparsity"] is None
    assert by["fp32"]["sparsity"] is None and by["fp32"]["packed_1bit_mb"] is None  # not pruned: no figure
    headers, cells = text_cells(rows)
    cell = {r["variant"]: dict(zip(headers, line)) for r, line in zip(rows, cells)}
    assert cell["pruned60-fp32"]["sparsity"] == "60% (whole 59%)"
    assert cell["binarized-fp32"]["packed 1-bit MB"] == "0.50"
    assert cell["fp32"]["sparsity"] == "—" and cell["fp32"]["packed 1-bit MB"] == "—"
    assert headers.index("size MB") < headers.index("sparsity") < headers.index("packed 1-bit MB")
    assert "60% (whole 59%)" in render(rows, "table", width=300)
    assert {r["variant"]: r["sparsity"] for r in json.loads(render(rows, "json"))}["pruned60-fp32"] == 0.6


def test_the_columns_appear_only_when_some_row_has_them():
    headers, _ = text_cells(compare_rows([_run("fp32", {"kind": "none"})]))
    assert "sparsity" not in headers and "packed 1-bit MB" not in headers
    headers, _ = text_cells(compare_rows([_run("pruned60-fp32", PRUNED)]))
    assert "sparsity" in headers and "packed 1-bit MB" not in headers
