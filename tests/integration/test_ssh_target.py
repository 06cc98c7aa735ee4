"""The ssh target against a real OpenSSH sshd on 127.0.0.1 (own port, host key, key auth).

The "remote" side is this machine, so the device's Python is the venv's (real onnxruntime)."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from edgebench.errors import EdgebenchError, TargetError, UnsupportedError
from edgebench.targets import resolve

pytestmark = pytest.mark.timeout(300)

EVIL = "a b;touch pwned'x$(touch pwned2).onnx"


@pytest.fixture
def devices(sshd, tmp_path) -> Path:
    return sshd.devices_file(tmp_path / "devices.toml", alias="box", python=sys.executable)


def test_measure_onnx_end_to_end_with_hostile_file_name(sshd, devices, tiny_onnx, tmp_path, fast_bench):
    evil = tmp_path / EVIL
    shutil.copy(tiny_onnx, evil)
    target = resolve("box", devices_file=devices)  # the alias resolves through the devices file
    assert target.uri == sshd.uri and target.python == sys.executable
    info = target.describe()
    assert info.kind == "ssh" and info.arch and info.details["modules"]["onnxruntime"]
    deployed = target.deploy(evil, "onnxruntime")
    assert deployed.remote_dir.startswith("/tmp/edgebench-")
    assert Path(deployed.model_path).name == "model.onnx"  # the user's name never reaches the device
    try:
        inputs = tmp_path / "in.npy"
        import numpy as np

        np.save(inputs, np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype("float32"))
        raw = target.measure(deployed, fast_bench(), inputs_npy=inputs, outputs_npy=tmp_path / "out.npy")
        assert Path(deployed.remote_dir).is_dir()
    finally:
        target.cleanup(deployed)
    assert not Path(deployed.remote_dir).exists(), "per-run directory left behind"
    assert raw["status"] == "ok", raw.get("error")
    assert raw["runtime"] == "onnxruntime" and len(raw["iterations_ms"]) >= 5
    assert raw["load_ms"] > 0 and raw["first_inference_ms"] > 0
    before = raw["device_state"]["before"]
    assert before["cpu_model"] and "time" in before and raw["device_state"]["after"]
    assert np.load(tmp_path / "out.npy").shape[0] == 3
    for home in (Path.home(), Path("/tmp"), Path(deployed.remote_dir).parent):
        assert not (home / "pwned").exists() and not (home / "pwned2").exists()


def test_doctor_reports_runtimes_and_pip_command(sshd, tmp_path):
    # a python without onnxruntime: the system one
    devices = sshd.devices_file(tmp_path / "d.toml", alias="bare", python="/usr/bin/python3")
    target = resolve(sshd.uri, devices_file=devices)  # a full URI picks up its entry's options too
    rows = {name: (ok, detail) for name, ok, detail in target.doctor()}
    assert rows["reachable"][0] and rows["python"][0]
    assert rows["onnxruntime"] == (False, "not installed")
    assert "pip install --only-binary=:all:" in rows["install"][1] and "onnxruntime" in rows["install"][1]
    from typer.testing import CliRunner

    from edgebench.cli import app
    from edgebench.cli import commands  # noqa: F401

    shown = CliRunner().invoke(app, ["doctor", "--target", "bare", "--devices", str(devices)], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "bare: reachable" in shown.output and "pip install" in shown.output
    # a runtime the device cannot import is UNSUPPORTED there, with the command that installs it
    reason = target.supports("onnxruntime")
    assert reason.startswith(f"target {sshd.uri} cannot run onnxruntime: ") and "pip install" in reason
    assert "onnxruntime" not in target.runtimes
    with pytest.raises(UnsupportedError) as err:
        target.deploy(Path(__file__), "onnxruntime")
    assert str(err.value) == f"unsupported: {reason}"


def test_unknown_host_key_is_refused_unless_accept_new(sshd, tmp_path, tiny_onnx):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    opts = dict(identity_file=str(sshd.dir / "id_ed25519"), ssh_options=[f"UserKnownHostsFile={empty}"],
                python=sys.executable, retries=0)
    with pytest.raises(TargetError) as err:
        resolve(sshd.uri, **opts).describe()
    assert "host key" in str(err.value) and "--accept-new-host-key" in err.value.hint
    assert resolve(sshd.uri, accept_new_host_key=True, **opts).describe().kind == "ssh"
    assert "ssh-ed25519" in empty.read_text()  # accept-new recorded the key (hashed on Debian)


def test_sshd_stopped_is_a_deploy_error_after_one_retry(sshd_factory, tiny_onnx):
    server = sshd_factory()
    target = resolve(server.uri, python=sys.executable, backoff_s=0.5, **server.client_options)
    target.probe()
    server.stop()
    target._probe = None
    started = time.monotonic()
    with pytest.raises(TargetError) as err:
        target.deploy(tiny_onnx, "onnxruntime")
    assert err.value.stage == "deploy" and "Connection refused" in str(err.value)
    assert time.monotonic() - started >= 0.5  # the one retry waited its back-off


def test_device_gone_mid_run_is_a_run_error(sshd_factory, tiny_onnx, fast_bench):
    server = sshd_factory()
    target = resolve(server.uri, python=sys.executable, backoff_s=0.2, connect_timeout_s=3,
                     **server.client_options)
    deployed = target.deploy(tiny_onnx, "onnxruntime")
    bench = fast_bench(min_seconds=20.0, max_seconds=25.0)
    # the "device" dies: sshd and its connection handlers go; the orphaned runner ends at max_seconds
    killer = threading.Timer(4.0, server.stop)
    killer.start()
    try:
        with pytest.raises(EdgebenchError) as err:
            target.measure(deployed, bench)
        assert err.value.stage in ("run", "timeout")
    finally:
        killer.join()
        shutil.rmtree(deployed.remote_dir, ignore_errors=True)


def test_cli_run_over_ssh(sshd, devices, tiny_onnx, tmp_path):
    from typer.testing import CliRunner

    from edgebench.cli import app
    from edgebench.cli import commands  # noqa: F401

    names = [c.name for c in app.registered_commands]
    if "run" not in names:
        pytest.skip("`edgebench run` is not in this checkout yet")
    db = tmp_path / "r.db"
    result = CliRunner().invoke(app, ["--db", str(db), "run", str(tiny_onnx), "--target", sshd.uri,
                                      "--devices", str(devices), "--runs", "5", "--warmup", "1",
                                      "--min-seconds", "0", "--max-seconds", "5"])
    assert result.exit_code == 0, result.output
    from edgebench.results.store import Store

    rows = Store(db).results()
    assert rows and rows[-1].status.name == "OK" and rows[-1].target == sshd.uri
