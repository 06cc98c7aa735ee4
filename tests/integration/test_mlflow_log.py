"""`--mlflow` on export, run and sweep, read back with MLflow's own client from a real local store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_diff_gate import EDGEBENCH, FAST, eb, traced

mlflow = pytest.importorskip("mlflow")


def torch_format() -> str:
    """The exporter that writes ``.pt`` files (named through the registry, not spelled here)."""
    from edgebench.exporters import registry

    return next(n for n in registry.names() if registry.get(n).extension == ".pt")


def runs_in(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("edgebench")
    assert exp is not None
    return client, client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


def test_export_run_and_sweep_log_each_cell(tmp_path):
    from edgebench.results import Store

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    db = tmp_path / "results.db"
    ckpt = traced(tmp_path / "tiny.pt", 1)
    fmt = torch_format()

    proc = eb(db, "export", "--checkpoint", str(ckpt), "--input-shape", "1,3,32,32", "--format", fmt,
              "--out", str(tmp_path / "art"), "--mlflow-uri", uri)
    assert proc.returncode == 0, proc.stderr
    artifact = next((tmp_path / "art").rglob("*-fp32.pt"))
    proc = eb(db, "run", str(artifact), *FAST, "--mlflow-uri", uri)
    assert proc.returncode == 0, proc.stderr
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'models = [{{checkpoint = "{ckpt}", input_shape = [1, 3, 32, 32]}}]\nformats = ["{fmt}"]\nvariants = ["fp32"]\n'
                     f'out_dir = "{tmp_path / "sweep-art"}"\n[bench]\nruns = 10\nmin_seconds = 0.05\n'
                     'warmup_runs = 1\nwarmup_seconds = 0\nthreads = 1\ninput_shape = [1, 3, 32, 32]\n')
    proc = eb(db, "sweep", str(sweep), "--name", "nightly", "--mlflow-uri", uri)
    assert proc.returncode == 0, proc.stderr

    client, runs = runs_in(uri)
    kinds = [r.data.params["kind"] for r in runs]
    assert kinds == ["export", "run", "run"]  # the sweep's own export row is not a cell
    export, run, swept = runs
    assert export.data.params["format"] == fmt and export.data.metrics["parity_sqnr_db"] > 60
    assert [a.path for a in client.list_artifacts(export.info.run_id)] == ["manifest.json"]

    with Store(db) as store:
        stored = store.get(run.data.tags["edgebench.run_id"])
        in_sweep = store.get(swept.data.tags["edgebench.run_id"])
    p = run.data.params
    assert (p["model"], p["format"], p["variant"], p["target"], p["threads"], p["input_shape"]) == \
        (stored.model, fmt, "fp32", "local", "1", "1x3x32x32")
    m = run.data.metrics
    assert m["p50_ms"] == stored.latency.p50_ms and m["ci_low_ms"] <= m["p50_ms"] <= m["ci_high_ms"]
    assert m["p99_ms"] >= m["p90_ms"] >= m["p50_ms"] > 0 and m["peak_mb"] > 0 and m["size_bytes"] > 0
    assert m["params"] > 0 and m["macs"] > 0 and m["parity_sqnr_db"] > 60
    assert run.info.status == "FINISHED"
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["manifest.json", "raw_samples.json"]
    local = client.download_artifacts(run.info.run_id, "raw_samples.json", str(tmp_path / "dl"))
    assert json.loads(Path(local).read_text())["iterations_ms"] == stored.samples["iterations_ms"]

    assert swept.data.tags["edgebench.sweep"] == "nightly" and in_sweep.spec["sweep"] == "nightly"
    # the sweep is now a diff selector
    proc = eb(db, "diff", "nightly", "nightly")
    assert proc.returncode == 0 and "sweep nightly" in proc.stdout


def test_an_unusable_tracking_uri_is_one_line_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    model = traced(tmp_path / "tiny.pt", 0)
    proc = eb(tmp_path / "r.db", "run", str(model), *FAST, "--mlflow-uri", f"sqlite:///{blocker}/x/mlflow.db")
    assert proc.returncode == 2 and proc.stderr.startswith("error mlflow:"), proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r.db").exists()


def test_plain_flag_logs_to_mlflows_local_default(tmp_path):
    import os

    model = traced(tmp_path / "tiny.pt", 0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    proc = subprocess.run([EDGEBENCH, "--db", str(tmp_path / "r.db"), "run", str(model), *FAST, "--mlflow"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    # read back the way `mlflow ui` would: MLflow's own default, resolved in the same directory
    script = ("from mlflow.tracking import MlflowClient; c = MlflowClient(); "
              "e = c.get_experiment_by_name('edgebench'); "
              "print([r.data.params['model'] for r in c.search_runs([e.experiment_id])])")
    read = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=env)
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip().splitlines()[-1] == "['tiny']"
