"""`edgebench sweep` with resolution and width axes: one row per (resolution, arch_kwargs) cell,
each its own artifact at its own input size."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.integration.test_sweep import CLI


def test_sweep_resolution_axis(tmp_path):
    f = tmp_path / "sweep.toml"
    f.write_text(f"""
models = ["tiny_cnn"]
formats = ["torchscript"]
variants = ["fp32"]
resolutions = [24, 32]
out_dir = "{tmp_path / 'artifacts'}"
calibration_samples = 2
[bench]
warmup_runs = 0
warmup_seconds = 0.0
runs = 2
min_seconds = 0.0
max_seconds = 2.0
threads = 1
""")
    db = tmp_path / "r.db"
    r = subprocess.run([sys.executable, "-c", CLI, "--db", str(db), "sweep", str(f), "-o", "json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert sorted(row["model"] for row in rows) == ["tiny_cnn-24px", "tiny_cnn-32px"]
    shapes = {}
    for p in sorted((tmp_path / "artifacts").rglob("*.manifest.json")):
        m = json.loads(p.read_text())
        shapes[m["model"]] = (m["inputs"][0]["shape"], m["macs"])
    assert shapes["tiny_cnn-24px"][0] == [1, 3, 24, 24] and shapes["tiny_cnn-32px"][0] == [1, 3, 32, 32]
    assert shapes["tiny_cnn-24px"][1] < shapes["tiny_cnn-32px"][1]
