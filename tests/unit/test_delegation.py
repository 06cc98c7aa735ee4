"""Delegate coverage (issue 14): how each runtime's own report becomes delegated / total / partitions /
fallback ops, the warning on a split graph, the delegate in a row's identity, and an int8 row slower
than its fp32 sibling saying why."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from edgebench.errors import ConfigError
from edgebench.harness.measure import delegation_warning
from edgebench.harness.sweep import cells
from edgebench.results.compare import compare_rows
from edgebench.results.model import LatencyStats, RunResult, Status
from edgebench.results.render import render
from edgebench.runner.runtimes.litert import coverage
from edgebench.runner.runtimes.onnxruntime import provider_coverage
from edgebench.spec import BenchSpec, ModelSpec, SweepSpec, Variant, spec_hash
from edgebench.targets.benchmark_model import delegation, parse

DATA = Path(__file__).parents[1] / "data" / "benchmark_model"


def _op(index, name, inputs, outputs):
    return {"index": index, "op_name": name, "inputs": np.array(inputs), "outputs": np.array(outputs)}


def test_interpreter_node_list_to_coverage():
    # model: t0 -CONV-> t1 -HARD_SWISH-> t2 -CONV-> t3 -ADD(t3, t1)-> t4 ; t9 a constant weight
    ops = [_op(0, "CONV_2D", [0, 9], [1]), _op(1, "HARD_SWISH", [1], [2]), _op(2, "CONV_2D", [2, 9], [3]),
           _op(3, "ADD", [3, 1], [4]),
           # the delegate took node 0 as one partition and nodes 2-3 as another
           _op(4, "DELEGATE", [0, 9], [1]), _op(5, "DELEGATE", [2, 9, 1], [4])]
    assert coverage(ops) == {"delegated_nodes": 3, "total_nodes": 4, "partitions": 2,
                             "fallback_ops": {"HARD_SWISH": 1},
                             "ops": {"ADD": 1, "CONV_2D": 2, "HARD_SWISH": 1}}
    whole = ops[:4] + [_op(4, "DELEGATE", [0, 9], [4])]
    assert coverage(whole)["partitions"] == 1 and coverage(whole)["fallback_ops"] == {}
    assert coverage(ops[:4]) == {"delegated_nodes": 0, "total_nodes": 4, "partitions": 0,
                                 "fallback_ops": {"ADD": 1, "CONV_2D": 2, "HARD_SWISH": 1},
                                 "ops": {"ADD": 1, "CONV_2D": 2, "HARD_SWISH": 1}}


def _event(node, op, provider, ts, dur=1000):
    return {"cat": "Node", "name": f"{node}_kernel_time", "ts": ts, "dur": dur,
            "args": {"op_name": op, "provider": provider}}


def test_profile_events_to_provider_coverage():
    events = [{"cat": "Session", "name": "model_run", "ts": 0},
              _event("a", "Conv", "XnnpackExecutionProvider", 1), _event("b", "HardSwish", "CPUExecutionProvider", 2),
              _event("c", "Conv", "XnnpackExecutionProvider", 3),
              {"cat": "Session", "name": "model_run", "ts": 10},  # the second (warm) run
              _event("a", "Conv", "XnnpackExecutionProvider", 11, 2000),
              _event("b", "HardSwish", "CPUExecutionProvider", 12, 500),
              _event("c", "Conv", "XnnpackExecutionProvider", 13, 3000)]
    cov = provider_coverage(events, "XnnpackExecutionProvider")
    assert (cov["delegated_nodes"], cov["total_nodes"], cov["partitions"]) == (2, 3, 2)
    assert cov["fallback_ops"] == {"HardSwish": 1}
    assert cov["op_ms"] == {"Conv": 5.0, "HardSwish": 0.5}  # the last run only
    cpu = provider_coverage(events, "CPUExecutionProvider")
    assert cpu["partitions"] is None and cpu["delegated_nodes"] == 1


def test_benchmark_model_replacing_line():
    text = (DATA / "chromeos_tast_cpu.txt").read_text()
    assert parse(text)["delegation"] == {"delegate": "xnnpack", "delegated_nodes": 58, "total_nodes": 58,
                                         "partitions": 1, "fallback_ops": None}
    split = ("INFO: Replacing 131 out of 150 node(s) with delegate (TfLiteXNNPackDelegate) node, "
             "yielding 20 partitions for the whole graph.")
    assert delegation(split)["partitions"] == 20 and delegation(split)["total_nodes"] == 150
    assert delegation("no delegate here") is None


def test_split_graph_warns_naming_the_fallback_ops():
    d = {"delegate": "xnnpack", "delegated_nodes": 131, "total_nodes": 150, "partitions": 20,
         "fallback_ops": {"HARD_SWISH": 19}}
    w = delegation_warning(d)
    assert "131/150" in w and "20 partitions" in w and "HARD_SWISH ×19" in w
    assert delegation_warning({**d, "delegated_nodes": 150, "partitions": 1, "fallback_ops": {}}) is None
    assert delegation_warning({**d, "delegate": "none"}) is None  # built-in kernels by request
    assert delegation_warning(None) is None


def _lat(ms):
    return LatencyStats(n=50, mean_ms=ms, std_ms=0.01, min_ms=ms, p50_ms=ms, p90_ms=ms, p99_ms=ms, max_ms=ms,
                        iqr_ms=0.01, cv=0.01, median_ci_low_ms=ms, median_ci_high_ms=ms, outliers=0)


def _run(variant, ms, delegation_=None, delegate=None):
    samples = {"delegation": delegation_} if delegation_ else {}
    spec = {"bench": {"delegate": delegate}} if delegate else {}
    return RunResult(model="m", format="x", variant=variant, target="local", status=Status.OK,
                     latency=_lat(ms), samples=samples, spec=spec)


def test_int8_slower_than_fp32_says_why_and_delegate_is_identity():
    split = {"delegate": "xnnpack", "delegated_nodes": 131, "total_nodes": 150, "partitions": 20,
             "fallback_ops": {"HARD_SWISH": 19}, "ops": {"QUANTIZE": 13, "DEQUANTIZE": 15, "CONV_2D": 41}}
    whole = {"delegate": "xnnpack", "delegated_nodes": 113, "total_nodes": 113, "partitions": 1, "fallback_ops": {}}
    builtin = {"delegate": "none", "delegated_nodes": 0, "total_nodes": 113, "partitions": 0, "fallback_ops": {}}
    rows = compare_rows([_run("fp32", 1.2, whole), _run("int8", 3.3, split), _run("fp32", 5.0, builtin),
                         _run("int8", 4.0, {**builtin, "total_nodes": 150})])
    by = {(r["variant"], r["delegate"]): r for r in rows}
    assert len(rows) == 4  # one cell per delegate
    slow = by[("int8", "xnnpack")]
    assert slow["speedup"] < 1 and slow["delegation"] == "delegated 131/150 in 20 partitions"
    (note,) = slow["notes"]
    assert "slower than its fp32 sibling" in note and "20 delegate partitions" in note
    assert "HARD_SWISH ×19" in note and "28 quantize/dequantize ops" in note
    assert slow["warnings"] == 1
    assert by[("int8", "none")]["speedup"] == 1.25 and by[("int8", "none")]["notes"] == []  # vs fp32 on none
    assert by[("fp32", "xnnpack")]["delegation"] == "delegated 113/113"
    table = render(rows, "markdown")
    assert "| delegate |" in table and "xnnpack delegated 131/150 in 20 partitions" in table


def test_delegate_asked_for_is_identity_without_coverage():
    rows = compare_rows([_run("fp32", 1.0, delegate="cpu"), _run("fp32", 2.0, delegate="azure")])
    assert sorted(r["delegate"] for r in rows) == ["azure", "cpu"]


def test_bench_delegate_keeps_old_hashes_and_sweep_axis_multiplies_cells():
    assert "delegate" not in BenchSpec().to_dict()
    assert BenchSpec(delegate="none").to_dict()["delegate"] == "none"
    assert spec_hash(BenchSpec()) != spec_hash(BenchSpec(delegate="none"))
    spec = SweepSpec(models=(ModelSpec(),), formats=("a",), variants=(Variant(),))
    assert [c.delegate for c in cells(spec)] == [None]
    swept = cells(dataclasses.replace(spec, delegates=("xnnpack", "none")))
    assert [c.delegate for c in swept] == ["xnnpack", "none"] and len({c.hash for c in swept}) == 2
    assert swept[1].bench(BenchSpec()).delegate == "none" and "via none" in swept[1].label


def test_sweep_file_delegates(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('formats = ["a"]\ndelegates = ["xnnpack", "none"]\n')
    assert SweepSpec.from_toml(f).delegates == ("xnnpack", "none")
    f.write_text('formats = ["a"]\ndelegates = "xnnpack"\n')
    with pytest.raises(ConfigError, match="delegates must be a list"):
        SweepSpec.from_toml(f)


def test_a_paired_int8_slower_than_fp32_without_an_unpaired_baseline_is_a_note_not_a_crash():
    """A sweep with paired rounds on a delegate whose fp32 sibling has no usable unpaired figure:
    the slower-than-fp32 note quotes the paired speed-up (compare used to raise on None)."""
    r = _run("int8", 4.0, {"delegate": "none", "delegated_nodes": 0, "total_nodes": 10, "partitions": 0,
                           "fallback_ops": {}})
    r.samples["paired"] = {"speedup": 0.8, "ci_low": 0.78, "ci_high": 0.82, "rounds": 10, "timer": "thread"}
    r.samples["op_profile"] = [{"op_type": "Conv", "name": "c1", "total_ms": 20.0, "mean_ms": 1.0},
                               {"op_type": "Conv", "name": "c2", "total_ms": 10.0, "mean_ms": 0.5}]
    (row,) = compare_rows([r])
    (note,) = row["notes"]
    assert row["speedup"] == 0.8 and "paired speed-up 0.80×" in note
    assert "Conv 1.50 ms per inference" in note
