"""Sweep files and sweeps sharing one store: every mistake in a sweep file is one line naming its
key, a file never grants trust_checkpoint, and the sweeps' locks wait for each other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from edgebench.errors import ConfigError
from edgebench.harness.locks import Locks
from edgebench.spec import SweepSpec


@pytest.mark.parametrize("text,key,words", [
    ('models = [{name = "resnet18", archh = "resnet18"}]', "models[0].archh", "unknown key"),
    ('variants = ["prunedabc-fp32"]', "variants[0] = 'prunedabc-fp32'", "not a variant label"),
    ('variants = ["fp32", "pruned150-fp32"]', "variants[1] = 'pruned150-fp32'", "outside (0, 1)"),
    ('variants = ["fp64"]', "variants[0] = 'fp64'", "unknown precision"),
    ('calibration_samples = "lots"', "calibration_samples", "whole number"),
    ('calibration_samples = 0', "calibration_samples", "whole number"),
    ('models = [3]', "models[0]", "zoo name or a table"),
    ('models = [{arch = "resnet18"}]', "models[0]", "needs name"),
    ('models = "resnet18"', "models", "non-empty list"),
    ('formats = []', "formats", "non-empty list"),
    ('targets = [1]', "targets", "non-empty list"),
    ('out_dir = 5', "out_dir", "folder path"),
    ('bench = 3', "bench", "[bench] table"),
    ('[bench]\nruns = "many"', "bench.runs", "whole number"),
    ('[bench]\nthreads = 2.5', "bench.threads", "whole number"),
    ('[bench]\ninput_shape = [1, "a"]', "bench.input_shape", "list of whole numbers"),
    ('[bench]\nrunz = 3', "bench.runz", "unknown key"),
    ('[bench]\nruns = -3', "bench.runs", "must be ≥ 1"),
    ('[bench]\nmax_seconds = 0', "bench.max_seconds", "must be > 0"),
    ('[bench]\ninput_shape = [1, 0, 32, 32]', "bench.input_shape", "positive dims"),
    ('[[models]]\nname = "resnet18"\nnum_classes = "ten"', "models[0].num_classes", "whole number"),
])
def test_each_sweep_file_mistake_names_its_key(tmp_path, text, key, words):
    f = tmp_path / "s.toml"
    # every sweep file lists its formats; the mistake under test comes after that line
    f.write_text(text + "\n" if text.startswith("formats") else f'formats = ["onnx"]\n{text}\n')
    with pytest.raises(ConfigError) as info:
        SweepSpec.from_toml(f)
    line = str(info.value)
    assert f"{f}: {key}: " in line and words in line and "\n" not in line


def test_a_directory_as_sweep_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        SweepSpec.from_toml(tmp_path)


def test_a_fifo_as_sweep_file_is_refused_before_reading(tmp_path):
    fifo = tmp_path / "s.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        SweepSpec.from_toml(fifo)  # reading it would block forever


def test_a_sweep_file_cannot_grant_trust(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('models = [{checkpoint = "x.pt", arch = "resnet18", trust_checkpoint = true}]\n')
    with pytest.raises(ConfigError, match=r"models\[0\].trust_checkpoint: a sweep file cannot grant trust"):
        SweepSpec.from_toml(f)


def test_trust_comes_from_the_caller(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('formats = ["onnx"]\nmodels = ["resnet18", {checkpoint = "x.pt", arch = "resnet18"}]\n')
    assert not any(m.trust_checkpoint for m in SweepSpec.from_toml(f).models)
    assert all(m.trust_checkpoint for m in SweepSpec.from_toml(f, trust_checkpoint=True).models)


def test_a_checkpoint_model_keeps_its_spec_identity(tmp_path):
    # resume depends on the cell hash: a table without `name` must give the same ModelSpec as before
    from edgebench.spec import ModelSpec

    f = tmp_path / "s.toml"
    f.write_text('formats = ["onnx"]\nmodels = [{checkpoint = "x.pt", arch = "resnet18"}]\n')
    assert SweepSpec.from_toml(f).models[0] == ModelSpec.from_dict({"checkpoint": "x.pt", "arch": "resnet18"})


HOLDER = textwrap.dedent("""
    import sys, time
    from edgebench.harness.locks import Locks
    with Locks(sys.argv[1]).hold("target local", "measuring tiny on local"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def holder(db, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_target_lock_makes_the_other_sweep_wait_and_say_who_holds_it(db):
    proc = holder(db, 1.5)
    said = []
    t0 = time.monotonic()
    with Locks(db).hold("target local", "measuring other", said.append):
        waited = time.monotonic() - t0
    proc.wait()
    assert waited > 0.5
    assert len(said) == 1 and f"pid {proc.pid} is measuring tiny on local" in said[0]
    assert (db.parent / f"{db.name}.locks").is_dir()


def test_a_killed_holder_never_leaves_a_stale_lock(db):
    proc = holder(db, 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    said = []
    with Locks(db).hold("target local", "measuring", said.append):
        pass
    assert said == []


def test_different_targets_do_not_wait_for_each_other(db):
    proc = holder(db, 30)
    try:
        said = []
        with Locks(db).hold("target ssh:pi@host", "measuring", said.append):
            assert said == []
    finally:
        proc.kill()
        proc.wait()
