"""Issue 11 item 5: rows that hid each other. A compare row is one artifact (sha256, input shape,
delegate), labelled apart when names collide; the latest run that measured something is shown and
the hidden runs are counted. Item 7: an int8 row far below fp32 is flagged. Plus the runner's
synthetic inputs for every dtype (item 1) and distinct export folders for same-named checkpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edgebench.results.compare import compare_rows
from edgebench.results.model import ArtifactInfo, ErrorInfo, LatencyStats, RunResult, Status
from edgebench.results.render import render


def lat(p50: float) -> LatencyStats:
    return LatencyStats(n=50, mean_ms=p50, std_ms=0.1, min_ms=p50, p50_ms=p50, p90_ms=p50, p99_ms=p50, max_ms=p50,
                        iqr_ms=0.1, cv=0.01, median_ci_low_ms=p50, median_ci_high_ms=p50, outliers=0)


def result(path: str, sha: str, p50: float | None, *, model: str = "model", variant: str = "unknown",
           shape=None, status: Status = Status.OK, created: str = "2026-01-01T00:00:00", **kw) -> RunResult:
    return RunResult(model=model, format="onnx", variant=variant, target="local", status=status, created_at=created,
                     artifact=ArtifactInfo(path=path, format="onnx", variant=variant, size_bytes=100, sha256=sha),
                     spec={"artifact": path, "bench": {"input_shape": list(shape) if shape else None}},
                     latency=lat(p50) if p50 is not None else None,
                     error=ErrorInfo("run", "boom") if status != Status.OK else None, **kw)


def test_two_files_with_one_name_are_two_rows_labelled_by_folder():
    rows = compare_rows([result("/x/relu/model.onnx", "a" * 64, 1.0),
                         result("/x/sigmoid/model.onnx", "b" * 64, 2.0)])
    assert [r["model"] for r in rows] == ["model (relu)", "model (sigmoid)"]
    assert [r["p50_ms"] for r in rows] == [1.0, 2.0]


def test_same_folder_name_falls_back_to_a_longer_tail_then_the_sha():
    rows = compare_rows([result("/a/best/best.onnx", "a" * 64, 1.0, model="best"),
                         result("/b/best/best.onnx", "b" * 64, 2.0, model="best")])
    assert sorted(r["model"] for r in rows) == ["best (a/best)", "best (b/best)"]
    # one path, overwritten by other bytes: only the sha tells them apart
    rows = compare_rows([result("/a/m.onnx", "1234567890" + "0" * 54, 1.0, model="m"),
                         result("/a/m.onnx", "abcdef1234" + "0" * 54, 2.0, model="m")])
    assert sorted(r["model"] for r in rows) == ["m (sha 12345678)", "m (sha abcdef12)"]


def test_one_model_at_two_input_shapes_is_two_rows():
    rows = compare_rows([result("/m/net.onnx", "a" * 64, 1.0, model="net", shape=(1, 3, 160, 160)),
                         result("/m/net.onnx", "a" * 64, 2.0, model="net", shape=(1, 3, 224, 224))])
    assert sorted(r["model"] for r in rows) == ["net (1x3x160x160)", "net (1x3x224x224)"]


def test_a_later_failed_run_does_not_hide_the_good_one_and_hidden_runs_are_counted():
    good = result("/m/net.onnx", "a" * 64, 1.0, model="net", created="2026-01-01T00:00:00")
    newer = result("/m/net.onnx", "a" * 64, 1.5, model="net", created="2026-01-02T00:00:00")
    failed = result("/m/net.onnx", "a" * 64, None, model="net", status=Status.RUN_FAILED, created="2026-01-03T00:00:00")
    (row,) = compare_rows([good, newer, failed])
    assert row["run_id"] == newer.run_id and row["status"] == "OK" and row["hidden_runs"] == 2
    assert "2 older runs of these artifacts hidden" in render([row], "markdown")
    assert len(compare_rows([good, newer, failed], latest=False)) == 3
    (only,) = compare_rows([failed])  # nothing measured: the failure itself is shown
    assert only["status"] == "RUN_FAILED" and only["hidden_runs"] == 0


def test_speedup_only_against_the_one_fp32_sibling():
    fp32 = result("/o/net/net-fp32.onnx", "a" * 64, 2.0, model="net", variant="fp32")
    int8 = result("/o/net/net-int8.onnx", "b" * 64, 1.0, model="net", variant="int8")
    rows = {r["variant"]: r for r in compare_rows([fp32, int8])}
    assert rows["int8"]["speedup"] == pytest.approx(2.0)
    # a second fp32 "net" elsewhere: the int8 row compares with the fp32 in its own folder
    other = result("/p/net/net-fp32.onnx", "c" * 64, 8.0, model="net", variant="fp32")
    rows = {(r["variant"], r["model"]): r for r in compare_rows([fp32, int8, other])}
    assert rows[("int8", "net")]["speedup"] == pytest.approx(2.0)
    # an fp32 at another input shape is not a baseline
    shaped = result("/q/net-int8.onnx", "d" * 64, 1.0, model="net2", variant="int8", shape=(1, 3, 160, 160))
    base224 = result("/q/net-fp32.onnx", "e" * 64, 4.0, model="net2", variant="fp32", shape=(1, 3, 224, 224))
    rows = {r["variant"]: r for r in compare_rows([shaped, base224])}
    assert rows["int8"]["speedup"] is None


def test_int8_agreement_below_half_is_a_warning_in_compare():
    low = result("/o/net/net-int8.onnx", "b" * 64, 1.0, model="net", variant="int8",
                 parity={"vs_eager": {"sqnr_db": 4.0, "top1_agreement": 0.0, "n": 16}})
    ok = result("/o/n2/n2-int8.onnx", "c" * 64, 1.0, model="n2", variant="int8",
                parity={"vs_eager": {"sqnr_db": 30.0, "top1_agreement": 0.75, "n": 16}})
    rows = {r["model"]: r for r in compare_rows([low, ok])}
    assert rows["net"]["quality"].endswith("⚠ low")
    assert "0% in the export's parity check, n=16" in rows["net"]["notes"][0]
    assert rows["n2"]["notes"] == [] and "⚠" not in rows["n2"]["quality"]
    assert "⚠ net onnx int8: int8 top-1 agreement with fp32 is 0%" in render(list(rows.values()), "markdown")


def test_int8_agreement_in_compare_is_judged_where_fp32_is_decided():
    def vs(agree, decided, n_decided, n=8):
        return {"sqnr_db": 11.0, "top1_agreement": agree, "n": n, "top1_agreement_decided": decided,
                "n_decided": n_decided, "top1_ties": 0}

    # 25 % over all parity inputs, but eager is decided on none of them and on the calibration inputs
    # where it is, int8 agrees: nothing to flag
    near_ties = result("/o/a/a-int8.onnx", "a" * 64, 1.0, model="a", variant="int8",
                       parity={"vs_eager": vs(0.25, None, 0), "vs_eager_on_calibration": vs(0.8, 1.0, 16, n=32)})
    # parity inputs fine (7/8), the calibration inputs' decided ones mostly flipped: broken ranges
    clipped = result("/o/b/b-int8.onnx", "b" * 64, 1.0, model="b", variant="int8",
                     parity={"vs_eager": vs(7 / 8, 1.0, 2), "vs_eager_on_calibration": vs(0.37, 0.11, 18, n=32)})
    # decided parity inputs flipped
    flipped = result("/o/c/c-int8.onnx", "c" * 64, 1.0, model="c", variant="int8",
                     parity={"vs_eager": vs(0.75, 0.25, 4)})
    rows = {r["model"]: r for r in compare_rows([near_ties, clipped, flipped])}
    assert rows["a"]["notes"] == [] and "⚠" not in rows["a"]["quality"]
    assert rows["b"]["quality"].endswith("⚠ low")
    assert ("11% in the export's parity check on its calibration inputs where fp32 is decided (p≥0.5), n=18"
            in rows["b"]["notes"][0])
    assert "25% in the export's parity check where fp32 is decided (p≥0.5), n=4" in rows["c"]["notes"][0]


def test_synthetic_inputs_are_valid_for_every_dtype():
    from edgebench.runner import inputs as rin
    from edgebench.runner.errors import RunnerError

    def feed(dtype, shape, scale=None, bound=1):
        return rin.synthetic_feed({"name": "x", "dtype": dtype, "shape": shape, "scale": scale, "zero_point": 0},
                                  shape, bound=bound)

    pixels = feed("uint8", [1, 32, 32, 3])  # raw 0..255 pixels (MediaPipe / TF-Hub): never blank images
    assert pixels.dtype == np.uint8 and pixels.min() < 20 and pixels.max() > 235
    signed = feed("int8", [1, 3, 32, 32])
    assert signed.min() < -100 and signed.max() > 100
    assert feed("int8", [1, 3, 8, 8], scale=0.1).std() > 1  # quantised normal data
    ids = feed("int32", [4, 7], bound=rin.index_bound([[4, 7]]))
    assert ids.min() >= 1 and ids.max() <= 3
    mask = feed("bool", [64])
    assert mask.dtype == bool and 0 < mask.sum() < 64
    assert feed("float16", [2, 2]).dtype == np.float16
    assert feed("float32", [0, 3]).shape == (0, 3)  # zero-size dims
    how = rin.synthetic_how({"name": "k", "dtype": "int64", "scale": None}, [1], 5)
    assert how == {"name": "k", "dtype": "int64", "how": "uniform 1..4", "guessed": True}
    assert rin.synthetic_how({"name": "img", "dtype": "uint8", "scale": None}, [1, 8, 8, 3])["guessed"] is False
    with pytest.raises(RunnerError, match="input 's' has type object, which edgebench cannot feed"):
        rin.synthetic_feed({"name": "s", "dtype": "object", "shape": [1]}, [1])


@dataclass
class Loaded:
    label: str
    source: dict


def test_two_checkpoints_named_best_get_their_own_export_folders(tmp_path):
    from edgebench.exporters.cells import artifact_path, distinct_label
    from edgebench.spec import Variant

    first = Loaded("best", {"kind": "torch.save", "path": "/a/best.pt", "sha256": "1" * 64})
    second = Loaded("best", {"kind": "torch.save", "path": "/b/best.pt", "sha256": "2" * 64})
    assert distinct_label(first, tmp_path).label == "best"  # nothing there yet
    dest = artifact_path(tmp_path, "best", Variant(), ".onnx")
    dest.parent.mkdir(parents=True)
    dest.with_name(dest.name + ".manifest.json").write_text(json.dumps({"source": first.source}))
    assert distinct_label(first, tmp_path).label == "best"  # the same bytes again: the same folder
    again = distinct_label(second, tmp_path)
    assert again.label == "best-22222222"
    assert artifact_path(tmp_path, again.label, Variant(), ".onnx") != dest
    zoo = Loaded("resnet18", {"kind": "zoo", "name": "resnet18"})
    assert distinct_label(zoo, tmp_path).label == "resnet18"


def _stored_row(asked, runtime, delegation, raw_delegate, created):
    lat = LatencyStats(n=50, mean_ms=1.0, std_ms=0.01, min_ms=1.0, p50_ms=1.0, p90_ms=1.0, p99_ms=1.0, max_ms=1.0,
                       iqr_ms=0.01, cv=0.01, median_ci_low_ms=1.0, median_ci_high_ms=1.0, outliers=0)
    samples = {"runtime": runtime, "delegate": raw_delegate,
               "delegation": {"delegate": delegation} if delegation else None}
    return RunResult(model="m", format="x", variant="fp32", target="local", status=Status.OK, latency=lat,
                     samples=samples, spec={"bench": {"delegate": asked} if asked else {}},
                     artifact=ArtifactInfo(path="m.x", format="x", variant="fp32", size_bytes=1, sha256="ab" * 32), created_at=created)


def test_rows_stored_with_the_delegate_as_typed_read_as_one_identity():
    """Rows written before names were normalised: no flag, ``CPU`` and ``CPUExecutionProvider`` on
    ONNX Runtime (with or without a coverage report) are one row named ``cpu``; ``none`` stays apart."""
    rows = compare_rows([_stored_row(None, "onnxruntime", "cpu", "CPUExecutionProvider", "2026-01-01T00:00:01"),
                         _stored_row("CPU", "onnxruntime", "cpu", "CPUExecutionProvider", "2026-01-01T00:00:02"),
                         _stored_row("CPUExecutionProvider", "onnxruntime", None, "CPUExecutionProvider",
                                     "2026-01-01T00:00:03"),
                         _stored_row("XNNPACK", "litert", None, "XNNPACK", "2026-01-01T00:00:04"),
                         _stored_row(None, "litert", "xnnpack", "XNNPACK", "2026-01-01T00:00:05"),
                         _stored_row("none", "litert", "none", None, "2026-01-01T00:00:06")])
    assert sorted((r["delegate"], r["hidden_runs"]) for r in rows) == [("cpu", 2), ("none", 0), ("xnnpack", 1)]
    assert all(r["model"] == "m" for r in rows)  # one artifact per delegate: no "(cpu)" labels


def test_read_time_defaults_match_the_runtimes():
    from edgebench.results.compare import DEFAULT_DELEGATES, canonical_delegate
    from edgebench.runner import RUNTIMES

    assert DEFAULT_DELEGATES == {n: rt.default_delegate for n, rt in RUNTIMES.items() if rt.default_delegate}
    for name in ("CPU", "cpu", "CPUExecutionProvider", "XNNPACK", " none "):
        assert canonical_delegate(name) == RUNTIMES["onnxruntime"].canonical_delegate(name)
