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


# ---- every era of the tool (tests/data/benchmark_model/README.md: the shared cases) ---------------

def test_2018_average_inference_timings_no_stats():
    raw = parse((DATA / "2018_average_no_stats.txt").read_text())
    _schema_check(raw)
    s = raw["summary"]
    assert s["mean_ms"] == pytest.approx(65.0873) and round(s["mean_ms"], 2) == 65.09
    assert raw["load_ms"] == pytest.approx(8.21)
    assert s["count"] == 16 and s["min_ms"] == pytest.approx(64.95) and s["std_ms"] == pytest.approx(0.052)
    assert s["warmup_mean_ms"] == pytest.approx(72.2154) and s["warmup_count"] == 8
    assert raw["first_inference_ms"] == pytest.approx(120.4)  # the first warm-up run: no "First inference" field
    assert s["p50_ms"] is None and s["p5_ms"] is None  # an average is never passed off as a median
    assert raw["threads"] == 2 and raw["memory"] is None


def test_2020_average_only_with_peak_footprint_and_op_profile():
    raw = parse((DATA / "2020_average_only_with_op_profile.txt").read_text(), fmt="label")
    _schema_check(raw)
    s = raw["summary"]
    assert round(s["mean_ms"], 2) == 34.39 and s["p50_ms"] is None and s["count"] == 50
    assert raw["load_ms"] == pytest.approx(0.912) and raw["first_inference_ms"] == pytest.approx(51.02)
    assert round(raw["memory"]["footprint_bytes"] / MB, 1) == 13.0 and raw["memory"]["load_rss_delta_bytes"] == 0
    assert raw["format"] == "label"
    (table,) = raw["op_profile_tables"]
    assert raw["op_profile"] == []  # only the initialization table: no inference op to map
    assert table["section"] == "Profiling Info for Benchmark Initialization" and table["table"] == "Run Order"
    assert table["columns"] == ["node_type", "start", "first", "avg_ms", "pct", "cdf_pct", "mem_kb",
                                "times_called", "name"]
    assert table["rows"] == [{"node_type": "AllocateTensors", "start": 0.0, "first": 0.101, "avg_ms": 0.101,
                              "pct": 100.0, "cdf_pct": 100.0, "mem_kb": 0.0, "times_called": 1,
                              "name": "AllocateTensors/0"}]


def test_logcat_prefixed_current_output_with_percentiles():
    raw = parse((DATA / "logcat_prefixed_percentiles.txt").read_text())
    _schema_check(raw)
    s = raw["summary"]
    assert s["p50_ms"] == pytest.approx(11.96) and s["p5_ms"] == pytest.approx(11.82)
    assert s["p95_ms"] == pytest.approx(12.41) and s["count"] == 84
    assert raw["load_ms"] == pytest.approx(31.455) and raw["first_inference_ms"] == pytest.approx(15.21)
    assert raw["memory"]["peak_rss_bytes"] == round(24.4063 * MB)
    assert raw["threads"] == 4 and raw["delegate"] == "xnnpack"
    assert raw["model_path"] == "/data/local/tmp/model.tflite"
    assert "op_profile" not in raw


def test_op_profile_tables_of_a_desktop_run():
    tables = parse((DATA / "tflite_soc_mobilenet_v2_float_4t.txt").read_text())["op_profile_tables"]
    regular = [t for t in tables if t["section"].startswith("Operator-wise")]
    assert [t["table"] for t in regular] == ["Run Order", "Summary by node type"]
    order, by_type = regular
    assert [r["node_type"] for r in order["rows"]] == ["CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX"]
    assert order["rows"][0]["name"] == "[MobilenetV2/Conv/Relu6]:0" and order["rows"][0]["pct"] == 5.694
    assert by_type["rows"][0] == {"node_type": "CONV_2D", "count": 36, "avg_ms": 6.044, "avg_pct": 66.903,
                                  "cdf_pct": 66.903, "mem_kb": 0.0, "times_called": 36}


@pytest.mark.parametrize("prefix", ["", "INFO: ", "I tflite  : ", "I/tflite ( 8120): ",
                                    "03-14 10:21:08.680  8120  8137 I tflite  : "])
@pytest.mark.parametrize("summary, mean, init, first", [
    ("Average inference timings in us: Warmup: 72215.4, Init: 8210, no stats: 65087.3", 65.0873, 8.21, None),
    ("Average inference timings in us: Warmup: 500, Init: 300, Inference: 400", 0.4, 0.3, None),
    ("Inference timings in us: Init: 912, First inference: 51020, Warmup (avg): 35710.5, Inference (avg): 34390.2",
     34.3902, 0.912, 51.02),
    ("Inference timings in us: Init: 912, First inference: 51020, Warmup (avg): nan, Inference (avg): 34390.2",
     34.3902, 0.912, 51.02),
])
def test_summary_line_of_every_era_with_every_prefix(prefix, summary, mean, init, first):
    raw = parse(prefix + summary + "\n")
    assert raw["summary"]["mean_ms"] == pytest.approx(mean) and raw["load_ms"] == pytest.approx(init)
    assert raw["first_inference_ms"] == (None if first is None else pytest.approx(first))
    assert raw["summary"]["p50_ms"] is None
