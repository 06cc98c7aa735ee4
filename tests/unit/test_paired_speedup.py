"""Paired speed-ups and per-operator rows: exact values from hand-made inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgebench.errors import ConfigError
from edgebench.harness.paired import paired_samples, speedup_ci
from edgebench.runner import ops, paired
from edgebench.spec import BenchSpec, SweepSpec
from edgebench.targets.benchmark_model import op_rows, parse

DATA = Path(__file__).parents[1] / "data" / "benchmark_model"


def test_speedup_is_the_median_of_per_round_ratios_with_a_bootstrap_ci():
    base = [10.0, 30.0, 20.0, 12.0, 11.0]  # the machine's load moves both sides alike
    cand = [5.0, 15.0, 10.0, 6.0, 5.0]
    ratios, point, low, high = speedup_ci(base, cand)
    assert ratios == pytest.approx([2.0, 2.0, 2.0, 2.0, 2.2])
    assert point == pytest.approx(2.0)
    assert 2.0 <= low <= point <= high <= 2.2
    assert speedup_ci([4.0, 8.0], [2.0, 4.0])[1:] == (2.0, 2.0, 2.0)  # identical ratios: nothing to resample
    with pytest.raises(ValueError):
        speedup_ci([1.0, 2.0], [1.0])


def test_paired_samples_take_the_fp32_sibling_of_the_same_format():
    result = {"rounds": 2, "timer": "cpu", "threads": 1,
              "round_medians_ms": {"0": [10.0, 20.0], "1": [5.0, 10.0], "2": [4.0, 4.0]}}
    out = paired_samples(result, ["a-fp32.x", "a-int8.x", "a-int8.y"], ["fp32", "int8", "int8"], ["x", "x", "y"])
    assert out[1]["baseline"] == "a-fp32.x" and out[1]["speedup"] == 2.0 and out[1]["round_speedups"] == [2.0, 2.0]
    assert out[0]["speedup"] == 1.0
    assert out[2]["speedup"] is None and "no fp32 artifact" in out[2]["error"]


def test_ops_aggregate_sums_calls_per_node_and_shares_add_to_one():
    events = [("Conv", "c1", 3.0, False, "cpu"), ("Relu", "r1", 1.0, False, "cpu"),
              ("Conv", "c1", 5.0, False, "cpu"), ("Relu", "r1", 1.0, False, "cpu")]
    rows = ops.aggregate(events, runs=2)
    assert [r["name"] for r in rows] == ["c1", "r1"]
    assert rows[0] == {"op_type": "Conv", "name": "c1", "total_ms": 8.0, "mean_ms": 4.0, "calls": 2, "share": 0.8,
                       "delegated": False, "provider": "cpu"}
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)


def test_benchmark_model_op_tables_map_to_the_same_rows():
    raw = parse((DATA / "tflite_soc_mobilenet_v2_float_4t.txt").read_text())
    rows = raw["op_profile"]
    # the regular runs' Run Order (the transcript keeps 3 of its rows), not the init section's AllocateTensors
    assert raw["op_profile_tables"] and len(rows) == 3
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX"} <= {r["op_type"] for r in rows}
    first = next(r for r in rows if r["name"] == "[MobilenetV2/Conv/Relu6]:0")
    assert first["mean_ms"] == 0.516 and first["total_ms"] == pytest.approx(0.516 * raw["summary"]["count"])
    assert not any(r["delegated"] for r in rows)
    table = {"section": "Operator-wise Profiling Info for Regular Benchmark Runs", "table": "Run Order",
             "columns": ["node_type", "avg_ms", "times_called", "name"],
             "rows": [{"node_type": "TfLiteXNNPackDelegate", "avg_ms": 3.0, "times_called": 1, "name": "x:0"},
                      {"node_type": "SOFTMAX", "avg_ms": 1.0, "times_called": 1, "name": "s:1"}]}
    mapped = op_rows([table], runs=10)
    assert mapped[0]["delegated"] is True and mapped[0]["share"] == 0.75 and mapped[0]["total_ms"] == 30.0
    assert mapped[1]["delegated"] is False


def test_paired_command_is_what_the_paired_parser_reads(tmp_path):
    argv = paired.command(["-m", "edgebench.runner"], [("0", "onnxruntime", "/m/a b.x"), ("1", "litert", "/m/c.y")],
                          "/o/p.json", threads=1, rounds=4, min_runs=2, min_seconds=0.05, warmup_runs=1,
                          shapes={"1": [1, 3, 8, 8]}, timer="wall")
    assert argv[:3] == ["-m", "edgebench.runner", "--paired"]
    assert argv[-2:] == ["0=onnxruntime:/m/a b.x", "1=litert:/m/c.y"]
    assert "--shape" in argv and "1=1,3,8,8" in argv and argv[argv.index("--timer") + 1] == "wall"


def test_bench_and_sweep_validate_paired(tmp_path):
    with pytest.raises(ConfigError, match="paired_rounds"):
        BenchSpec(paired=True, paired_rounds=1)
    with pytest.raises(ConfigError, match="include-io"):
        BenchSpec(paired=True, include_io=True)
    assert "paired" not in BenchSpec().to_dict()  # unset: old cells keep their hash
    f = tmp_path / "s.toml"
    f.write_text('formats = ["x"]\npaired = true\n')
    assert SweepSpec.from_toml(f).bench.paired is True
    f.write_text('formats = ["x"]\n[bench]\npaired = true\n')
    assert SweepSpec.from_toml(f).bench.paired is True
    f.write_text('formats = ["x"]\npaired = "yes"\n')
    with pytest.raises(ConfigError, match="paired: expected true or false"):
        SweepSpec.from_toml(f)
