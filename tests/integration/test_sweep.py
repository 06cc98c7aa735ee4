"""`edgebench sweep`: every cell lands in the store as it finishes; Ctrl-C and kill -9 lose nothing
and a re-run resumes; --force re-measures."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[1]
# the real CLI, with the test CNN registered in the zoo first (as the tiny_zoo_entry fixture does)
CLI = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from conftest import make_tiny_cnn
from edgebench.models.input_spec import InputSpec
from edgebench.models.zoo import ZooEntry, zoo

def build(num_classes):
    import torch
    torch.manual_seed(0)
    return make_tiny_cnn(num_classes)

zoo.add("tiny_cnn", ZooEntry("tiny_cnn", build, InputSpec(shape=(1, 3, 32, 32), num_classes=10), "test", "tests"))
from edgebench.cli import main
main(sys.argv[1:])
"""
FORMATS = ("onnx", "tflite", "torchscript")


def sweep_file(tmp_path: Path, formats=FORMATS, min_seconds: float = 1.5) -> Path:
    f = tmp_path / "sweep.toml"
    f.write_text(f"""
models = ["tiny_cnn"]
formats = [{", ".join(f'"{x}"' for x in formats)}]
variants = ["fp32"]
targets = ["local"]
out_dir = "{tmp_path / 'artifacts'}"
calibration_samples = 4
[bench]
warmup_runs = 1
warmup_seconds = 0.0
runs = 10
min_seconds = {min_seconds}
max_seconds = 5.0
threads = 1
""")
    return f


def start(db: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CLI, "--db", str(db), "sweep", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_rows(db: Path) -> list[tuple[str, str, str]]:
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            return conn.execute("SELECT run_id, spec_hash, status FROM results WHERE kind = 'run' "
                                "ORDER BY created_at, rowid").fetchall()
        except sqlite3.OperationalError as exc:  # the sweep has created the file but not the tables yet
            if "no such table" in str(exc):
                return []
            raise


def wait_for_rows(db: Path, proc: subprocess.Popen, n: int, timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for r in run_rows(db) if r[2] == "OK") < n:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"sweep ended (exit {proc.returncode}) before {n} cells landed:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {n} cells after {timeout} s")
        time.sleep(0.1)


@pytest.mark.slow
def test_ctrl_c_and_kill_mid_sweep_then_resume(tmp_path, db):
    spec = sweep_file(tmp_path)

    # 1. Ctrl-C after the first cell: exit 130, the finished cell stays, the cell in flight is INTERRUPTED
    proc = start(db, str(spec))
    wait_for_rows(db, proc, 1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    after_int = run_rows(db)
    ok_1 = [r for r in after_int if r[2] == "OK"]
    assert len(ok_1) == 1 and len({r[1] for r in after_int}) <= 2
    assert all(r[2] in ("OK", "INTERRUPTED") for r in after_int)

    # 2. kill -9 once one more cell has landed: nothing written so far is lost
    proc = start(db, str(spec))
    wait_for_rows(db, proc, 2)
    proc.kill()
    proc.communicate(timeout=60)
    after_kill = run_rows(db)
    ok_2 = [r for r in after_kill if r[2] == "OK"]
    assert set(after_int) <= set(after_kill) and len(ok_2) == 2

    # 3. re-run: resumes (skips the two finished cells) and completes the sweep
    done = subprocess.run([sys.executable, "-c", CLI, "--db", str(db), "sweep", str(spec), "-o", "json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resuming: 2 of 3 cells" in done.stderr
    final = run_rows(db)
    ok = [r for r in final if r[2] == "OK"]
    assert set(after_kill) <= set(final)
    assert len(ok) == 3 and len({r[1] for r in ok}) == 3  # every cell measured exactly once
    import json

    rows = json.loads(done.stdout)
    assert sorted(r["format"] for r in rows) == sorted(FORMATS)
    assert all(r["status"] == "OK" and r["p50_ms"] > 0 for r in rows)
    fp32 = {r["format"]: r["speedup"] for r in rows}
    assert fp32 == {f: 1.0 for f in FORMATS}  # each fp32 cell is its own baseline


@pytest.mark.slow
def test_second_sweep_skips_and_force_remeasures(tmp_path, db, tiny_zoo_entry):
    from edgebench.harness.sweep import Listener, run_sweep
    from edgebench.results import Store
    from edgebench.spec import SweepSpec

    spec = SweepSpec.from_toml(sweep_file(tmp_path, formats=("onnx",), min_seconds=0.05))

    class Count(Listener):
        def __init__(self):
            self.skipped = self.measured = 0
            self.done_at_start = None

        def started(self, total, done):
            self.done_at_start = done

        def finished(self, cell, result, skipped):
            self.skipped += skipped
            self.measured += not skipped

    with Store(db) as store:
        first = run_sweep(spec, store=store)
        assert [r.status.value for r in first] == ["OK"]
        again = Count()
        second = run_sweep(spec, store=store, listener=again)
        assert (again.done_at_start, again.skipped, again.measured) == (1, 1, 0)
        assert second[0].run_id == first[0].run_id
        forced = Count()
        third = run_sweep(spec, store=store, force=True, listener=forced)
        assert (forced.skipped, forced.measured) == (0, 1) and third[0].run_id != first[0].run_id
        assert len(store.results(kind="run")) == 2
        exports = store.results(kind="export")
        assert exports and all(r.status.value == "OK" for r in exports)  # the exporters stored theirs too


@pytest.mark.slow
def test_a_crashing_runner_fails_its_cell_and_the_sweep_goes_on(tmp_path, db, tiny_zoo_entry, monkeypatch):
    from edgebench.harness.sweep import run_sweep
    from edgebench.results import Store
    from edgebench.spec import SweepSpec

    spec = SweepSpec.from_toml(sweep_file(tmp_path, formats=("onnx", "tflite"), min_seconds=0.05))
    fake = tmp_path / "fake" / "onnxruntime"  # the runner subprocess's onnxruntime segfaults on import
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("import os, signal, sys\nprint('ort exploded', file=sys.stderr, flush=True)\n"
                                      "os.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))
    with Store(db) as store:
        onnx, tflite = run_sweep(spec, store=store)
        assert onnx.status.value == "RUN_FAILED" and "SIGSEGV" in onnx.error.message
        assert "ort exploded" in onnx.error.detail
        assert tflite.status.value == "OK"
        monkeypatch.delenv("PYTHONPATH")
        onnx2, tflite2 = run_sweep(spec, store=store)  # only the failed cell runs again
        assert onnx2.status.value == "OK" and onnx2.run_id != onnx.run_id
        assert tflite2.run_id == tflite.run_id
