"""The benchmark_model parser against real output of the tool (tests/data/benchmark_model/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgebench.errors import RunError
from edgebench.targets.benchmark_model import MB, parse

DATA = Path(__file__).parents[1] / "data" / "benchmark_model"


def _schema_check(raw: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from edgebench.harness.protocol import SCHEMA_PATH

    jsonschema.validate(raw, json.loads(SCHEMA_PATH.read_text()))


def test_desktop_sample_with_op_profiling():
    raw = parse((DATA / "tflite_soc_mobilenet_v2_float_4t.txt").read_text())
    _schema_check(raw)
    assert raw["load_ms"] == pytest.approx(0.330)
    assert raw["first_inference_ms"] == pytest.approx(20.253)
    s = raw["summary"]
    # the run line, not the op-profiling "Timings (microseconds): count=109 … avg=9069.2" line
    assert s["count"] == 109 and s["min_ms"] == pytest.approx(7.923) and s["max_ms"] == pytest.approx(10.217)
    assert s["mean_ms"] == pytest.approx(9.07621) and s["std_ms"] == pytest.approx(0.418)
    assert s["warmup_count"] == 52 and s["warmup_mean_ms"] == pytest.approx(9.57896)
    assert s["p50_ms"] is None  # this build printed no percentiles
    assert raw["memory"]["load_rss_delta_bytes"] == round(5.04297 * MB)
    assert raw["memory"]["footprint_bytes"] == round(39.2188 * MB)
    assert raw["threads"] == 4
    assert raw["model_path"].endswith("mobilenet_v2_1.0_224.tflite")
    assert raw["iterations_ms"] == [] and raw["runner"] == "benchmark_model"


def test_single_warmup_run_and_scientific_notation():
    raw = parse((DATA / "meta_tflite_riscv64_mobilenet_v1.txt").read_text())
    _schema_check(raw)
    s = raw["summary"]
    assert s["warmup_count"] == 1 and s["warmup_min_ms"] == pytest.approx(3512.391)
    assert s["count"] == 50 and s["mean_ms"] == pytest.approx(2950.34)
    assert raw["load_ms"] == pytest.approx(17.187)
    assert raw["memory"]["footprint_bytes"] == round(46.0859 * MB)


def test_log_prefixed_lines_and_peak_memory():
    raw = parse((DATA / "chromeos_tast_cpu.txt").read_text(), model_path="/data/local/tmp/m.tflite")
    _schema_check(raw)
    s = raw["summary"]
    assert s["count"] == 1061 and s["min_ms"] == pytest.approx(54.669)
    assert s["warmup_count"] == 9
    assert raw["delegate"] == "xnnpack"
    assert raw["memory"]["peak_rss_bytes"] == round(93.2383 * MB)
    assert raw["memory"]["footprint_bytes"] is None
    assert raw["model_path"] == "/data/local/tmp/m.tflite"


def test_percentile_fields_when_the_build_prints_them():
    text = ("count=3 first=10 curr=9 min=9 max=10 avg=9.5 std=1\n"
            "count=5 first=8000 curr=7000 min=6000 max=9000 avg=7500 std=900 p5=6100 median=7400 p95=8900\n"
            "Inference timings in us: Init: 100, First inference: 10, Warmup (avg): 9.5, Inference (avg): 7500\n")
    s = parse(text)["summary"]
    assert (s["p5_ms"], s["p50_ms"], s["p95_ms"]) == (pytest.approx(6.1), pytest.approx(7.4), pytest.approx(8.9))


def test_no_result_names_the_tools_error():
    text = "STARTING!\nERROR: Could not open '/data/local/tmp/x.tflite'.\nFailed to mmap model\n"
    with pytest.raises(RunError) as err:
        parse(text)
    assert "Failed to mmap model" in str(err.value) and err.value.stage == "run"
