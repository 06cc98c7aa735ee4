"""The CLI as a user meets it: version, zoo listing, doctor, and one-line load errors."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest

from edgebench import __version__


def edgebench(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgebench", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600, env={**os.environ, "COLUMNS": "200"})


def test_version():
    r = edgebench("--version")
    assert r.returncode == 0 and __version__ in r.stdout


def test_models_lists_the_zoo_with_counts():
    r = edgebench("models")
    assert r.returncode == 0, r.stderr
    for name in ("mobilenet_v3_small", "mobilenet_v3_large", "mobilenet_v2", "resnet18", "efficientnet_b0",
                 "vit_b_16", "mobilevit_s", "vit_denoiser"):
        assert name in r.stdout
    assert "300.77 M" in r.stdout  # MobileNetV2 MACs, counted
    assert "11.69 M" in r.stdout  # ResNet18 params


def test_doctor_exits_zero_and_explains():
    r = edgebench("doctor")
    assert r.returncode == 0, r.stderr
    assert "torch" in r.stdout and "onnxruntime" in r.stdout
    # every row is either ok with a version, or missing with a reason
    assert "ok" in r.stdout


class _Payload:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_pickle_payload_is_one_error_line_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"w": _Payload(marker)}, protocol=2))
    r = edgebench("inspect", "--checkpoint", str(evil), "--arch", "resnet18")
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error load:") and "--trust-checkpoint" in lines[0]
    assert "Traceback" not in r.stderr + r.stdout
    assert not marker.exists()


@pytest.mark.parametrize("args,needle", [
    (["inspect", "--checkpoint", "/nonexistent/x.pt", "--arch", "resnet18"], "does not exist"),
    (["inspect", "--model", "not_a_model"], "unknown model 'not_a_model'"),
])
def test_bad_input_is_one_line(args, needle):
    r = edgebench(*args)
    assert r.returncode == 2
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_debug_shows_traceback():
    r = edgebench("--debug", "inspect", "--model", "not_a_model")
    assert r.returncode != 0 and "Traceback" in r.stderr
