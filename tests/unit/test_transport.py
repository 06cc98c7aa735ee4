"""The transport helpers every target shares: retry with back-off, safe names and paths, disk-full,
and the local transport (a subprocess; copies that copy nothing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edgebench.errors import TargetError
from edgebench.targets.transport import (
    LocalTransport, RunnerTimeout, disk_full, model_file_name, safe_name, safe_path, shell_line, with_retry,
)


def test_retry_waits_with_doubling_back_off_then_gives_up():
    waits, calls = [], []

    def flaky():
        calls.append(1)
        raise TargetError("Connection refused")

    with pytest.raises(TargetError):
        with_retry(flaky, transient=lambda e: "refused" in e.message, retries=2, backoff_s=0.5, sleep=waits.append)
    assert len(calls) == 3 and waits == [0.5, 1.0]
    calls.clear()
    with pytest.raises(TargetError):
        with_retry(flaky, transient=lambda e: False, retries=5, sleep=waits.append)
    assert len(calls) == 1  # not transient: no retry


def test_names_and_paths_never_carry_shell_characters():
    assert safe_name("a b;x'$(y).tflite") == "a_b_x___y_.tflite"
    assert model_file_name(Path("/x/my model.ONNX")) == "model.onnx"
    assert safe_path("/tmp/edgebench-0123456789ab/model.bin") == "/tmp/edgebench-0123456789ab/model.bin"
    for bad in ("relative/x", "/tmp/a b", "/tmp/$(x)", "/tmp/../etc", "/tmp/a;b"):
        with pytest.raises(TargetError):
            safe_path(bad)
    assert shell_line(["echo", "a b;c"], cwd="/tmp/d") == "cd /tmp/d && echo 'a b;c'"


def test_disk_full_markers():
    assert disk_full("scp: /tmp/x: No space left on device") and not disk_full("Permission denied")


def test_local_transport_runs_copies_nothing_and_times_out(tmp_path):
    t = LocalTransport()
    out = t.run([sys.executable, "-c", "import os; print(os.getcwd())"], cwd=str(tmp_path), check=True)
    assert out.stdout.strip() == str(tmp_path)
    model = tmp_path / "m.bin"
    model.write_bytes(b"x")
    assert t.push(model, "/ignored/remote/path") == str(model.resolve())
    run_dir = t.make_run_dir(str(tmp_path))
    (Path(run_dir) / "r.json").write_text("{}")
    t.pull(f"{run_dir}/r.json", tmp_path / "copy.json")
    assert (tmp_path / "copy.json").read_text() == "{}"
    with pytest.raises(TargetError):
        t.pull(f"{run_dir}/missing.json", tmp_path / "x.json")
    with pytest.raises(TargetError):
        t.remove_run_dir(str(tmp_path), str(tmp_path.parent))  # not a per-run directory: refused
    t.remove_run_dir(run_dir, str(tmp_path))
    assert not Path(run_dir).exists() and model.exists()
    with pytest.raises(RunnerTimeout) as err:
        t.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert err.value.stage == "timeout"
