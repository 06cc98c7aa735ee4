"""`run --paired` / `paired = true` (interleaved speed-ups with a CI) and `run --profile-ops` /
`compare --ops` (per-operator profiles), through the real CLI on the tiny CNN's real exports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_sweep import CLI

FMT = "onnx"
FAST = ["--threads", "1", "--warmup", "2", "--warmup-seconds", "0", "--runs", "12", "--min-seconds", "0.1"]


def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, "--db", str(db), *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, Path]:
    """A paired sweep (top-level ``paired = true``) of tiny_cnn fp32 + int8: (results db, artifacts dir)."""
    tmp = tmp_path_factory.mktemp("paired")
    f = tmp / "sweep.toml"
    f.write_text(f"""
models = ["tiny_cnn"]
formats = ["{FMT}"]
variants = ["fp32", "int8"]
targets = ["local"]
out_dir = "{tmp / 'artifacts'}"
calibration_samples = 4
paired = true
[bench]
warmup_runs = 2
warmup_seconds = 0.0
runs = 12
min_seconds = 0.2
max_seconds = 5.0
threads = 1
paired_rounds = 4
""")
    db = tmp / "results.db"
    proc = cli(db, "sweep", str(f), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    return db, tmp / "artifacts"


def stored(db: Path) -> dict:
    from edgebench.results import Store

    with Store(db) as store:
        return {r.variant: r for r in store.results(kind="run")}


def test_sweep_with_paired_true_stores_round_ratios_and_a_ci(swept):
    db, _ = swept
    runs = stored(db)
    fp32, int8 = runs["fp32"].samples["paired"], runs["int8"].samples["paired"]
    assert int8["error"] is None and int8["rounds"] == 4 and int8["timer"] == "cpu" and int8["threads"] == 1
    assert int8["baseline"].endswith("fp32." + FMT) and len(int8["round_speedups"]) == 4
    for ratio, base, mine in zip(int8["round_speedups"], int8["baseline_round_ms"], int8["round_ms"]):
        assert ratio == pytest.approx(base / mine)
    assert int8["ci_low"] <= int8["speedup"] <= int8["ci_high"]
    assert fp32["speedup"] == 1.0 and fp32["round_speedups"] == [1.0] * 4
    assert runs["int8"].spec["bench"]["paired"] is True  # part of the cell's identity

    rows = json.loads(cli(db, "compare", "-o", "json").stdout)
    row = next(r for r in rows if r["variant"] == "int8")
    assert row["speedup_kind"] == "paired" and row["speedup"] == pytest.approx(int8["speedup"])
    assert row["speedup_ci_low"] == pytest.approx(int8["ci_low"]) and row["speedup_unpaired"] > 0
    table = cli(db, "compare").stdout
    assert f"{int8['speedup']:.2f}× [{int8['ci_low']:.2f}, {int8['ci_high']:.2f}] paired" in table


def test_run_paired_and_profile_ops_then_compare_ops(swept, tmp_path):
    _, artifacts = swept
    files = sorted(artifacts.rglob(f"*.{FMT}"))
    assert len(files) == 2
    db = tmp_path / "run.db"
    proc = cli(db, "run", *map(str, files), *FAST, "--paired", "--paired-rounds", "3", "--profile-ops")
    assert proc.returncode == 0, proc.stderr
    runs = stored(db)
    assert len(runs["int8"].samples["paired"]["round_speedups"]) == 3
    assert runs["int8"].samples["paired"]["ci_low"] <= runs["int8"].samples["paired"]["ci_high"]

    ops = runs["fp32"].samples["op_profile"]
    assert sum(o["share"] for o in ops) == pytest.approx(1.0)
    assert "Conv" in {o["op_type"] for o in ops}
    assert all(o["total_ms"] > 0 and o["mean_ms"] > 0 and o["delegated"] is False for o in ops)
    assert [o["total_ms"] for o in ops] == sorted((o["total_ms"] for o in ops), reverse=True)
    assert runs["fp32"].samples["op_profile_runs"] == 12  # min(20, --runs)
    assert not any("per-operator" in w for w in runs["fp32"].warnings)
    import jsonschema

    from edgebench.harness.protocol import SCHEMA_PATH

    jsonschema.validate(runs["fp32"].samples, json.loads(SCHEMA_PATH.read_text()))

    out = cli(db, "compare", "--ops", "--top", "3").stdout
    assert "top 3 of %d ops by total time" % len(ops) in out and "Conv" in out and "share" in out
    rows = json.loads(cli(db, "compare", "--ops", "--top", "2", "-o", "json").stdout)
    fp32_row = next(r for r in rows if r["variant"] == "fp32")
    assert [o["name"] for o in fp32_row["top_ops"]] == [o["name"] for o in ops[:2]]


def test_run_without_profile_says_so_in_compare_ops(swept, tmp_path):
    _, artifacts = swept
    db = tmp_path / "plain.db"
    fp32 = next(artifacts.rglob(f"*fp32.{FMT}"))
    assert cli(db, "run", str(fp32), *FAST).returncode == 0
    out = cli(db, "compare", "--ops").stdout
    assert "no per-operator profile (measured without --profile-ops)" in out


def test_paired_with_one_artifact_is_a_warning_not_a_failure(swept, tmp_path):
    _, artifacts = swept
    db = tmp_path / "one.db"
    proc = cli(db, "run", str(next(artifacts.rglob(f"*int8.{FMT}"))), *FAST, "--paired")
    assert proc.returncode == 0, proc.stderr
    assert "no paired speed-up: paired timing needs at least two artifacts" in proc.stderr
    assert stored(db)["int8"].latency.p50_ms > 0


def tiny_pte(path: Path, delegate: bool) -> Path:
    """The tiny CNN as an ExecuTorch program (XNNPACK-lowered or portable kernels), built with
    executorch's own API."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from conftest import make_tiny_cnn

    torch.manual_seed(0)
    ep = torch.export.export(make_tiny_cnn(), (torch.randn(1, 3, 32, 32),))
    prog = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()] if delegate else []).to_executorch()
    path.write_bytes(prog.buffer)
    return path


@pytest.mark.parametrize("delegate", [True, False], ids=["xnnpack", "portable"])
def test_profile_ops_of_an_executorch_program_reads_its_etdump(tmp_path, delegate):
    pytest.importorskip("executorch.devtools")
    pte = tiny_pte(tmp_path / "tiny.pte", delegate)
    db = tmp_path / "et.db"
    proc = cli(db, "run", str(pte), *FAST, "--profile-ops")
    assert proc.returncode == 0, proc.stderr
    (run,) = stored(db).values()
    ops = run.samples["op_profile"]
    assert sum(o["share"] for o in ops) == pytest.approx(1.0)
    assert all(o["delegated"] is delegate and o["calls"] == 12 for o in ops)
    types = {o["op_type"] for o in ops}
    assert any("Convolution" in t for t in types) if delegate else "convolution.out" in types
    assert not {"OPERATOR_CALL", "DELEGATE_CALL"} & types


def test_paired_over_ssh_runs_the_runner_pyz_with_its_paired_entry(sshd, tiny_onnx, fast_bench, tmp_path):
    from edgebench.targets import resolve

    devices = sshd.devices_file(tmp_path / "devices.toml", alias="box", python=sys.executable)
    target = resolve("box", devices_file=devices)
    deployed = [target.deploy(tiny_onnx, "onnxruntime") for _ in range(2)]
    try:
        assert deployed[0].extra["entry"][0].endswith("runner.pyz")
        result = target.measure_paired(deployed, fast_bench(threads=1, paired=True, paired_rounds=3), timer="cpu")
    finally:
        for d in deployed:
            target.cleanup(d)
    assert result["rounds"] == 3 and result["timer"] == "cpu" and result["threads"] == 1
    assert sorted(result["round_medians_ms"]) == ["0", "1"]
    assert all(len(v) == 3 and min(v) > 0 for v in result["round_medians_ms"].values())
    assert result["runtimes"] == {"0": "onnxruntime", "1": "onnxruntime"}
