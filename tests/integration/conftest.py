"""Real peers for the remote targets: OpenSSH sshd on 127.0.0.1, a fake Android device behind the
real adb client, and an emulated aarch64 Raspberry Pi (qemu-user chroot with sshd inside).

Each fixture skips with the reason when its system tool is missing (CI installs them: .ci/run).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    """Every test in tests/integration is ``slow``: it drives real runtimes, converters, device peers
    or subprocesses. `make test-fast` (``-m "not slow"``) is then exactly the unit and contract tests;
    `make test` (what CI runs) is everything."""
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)
SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)


def free_port(avoid: range | None = None) -> int:
    """A free TCP port on 127.0.0.1 (outside ``avoid``)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if avoid is None or port not in avoid:
            return port


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    """Block until something accepts on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def stop(proc: subprocess.Popen | None) -> None:
    """Terminate a server we started (and its process group)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------- sshd

@dataclass
class Sshd:
    """An OpenSSH server on 127.0.0.1 with its own host key, client key and known_hosts."""

    port: int
    dir: Path
    root: Path | None = None  # chroot of an emulated device, if any
    proc: subprocess.Popen | None = None
    argv: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"ssh:root@127.0.0.1:{self.port}"

    @property
    def client_options(self) -> dict:
        return {"identity_file": str(self.dir / "id_ed25519"),
                "ssh_options": [f"UserKnownHostsFile={self.dir / 'known_hosts'}"]}

    def devices_file(self, path: Path, alias: str = "box", **extra) -> Path:
        """A devices file naming this server as ``alias`` (and by its URI)."""
        lines = [f"[{alias}]", f'uri = "{self.uri}"', f'identity_file = "{self.dir / "id_ed25519"}"',
                 f'ssh_options = ["UserKnownHostsFile={self.dir / "known_hosts"}"]']
        lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]  # JSON scalars/lists are TOML
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        wait_port(self.port, timeout=120 if self.root else 20, proc=self.proc)

    def stop(self) -> None:
        stop(self.proc)


def make_sshd(workdir: Path, root: Path | None = None) -> Sshd:
    """Keys + config for an sshd serving ``root``'s user root (host filesystem when root is None)."""
    if SSHD is None:
        pytest.skip("OpenSSH server not installed (apt-get install openssh-server)")
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH client not installed (apt-get install openssh-client)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    for name in ("host_key", "id_ed25519"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgebench-test", "-f",
                        str(workdir / name)], check=True)
    host_pub = (workdir / "host_key.pub").read_text().split()
    (workdir / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    # sshd inside a chroot sees paths relative to that root
    conf_dir = workdir if root is None else root / "etc" / "ssh" / "edgebench"
    conf_dir.mkdir(parents=True, exist_ok=True)
    if root is not None:
        shutil.copy(workdir / "host_key", conf_dir / "host_key")
        os.chmod(conf_dir / "host_key", 0o600)
    shutil.copy(workdir / "id_ed25519.pub", conf_dir / "authorized_keys")
    seen = "/etc/ssh/edgebench" if root is not None else str(conf_dir)
    (conf_dir / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {seen}/host_key",
        f"AuthorizedKeysFile {seen}/authorized_keys", "PubkeyAuthentication yes",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
        "UsePAM no", "StrictModes no", f"PidFile {seen}/sshd.pid", "LogLevel ERROR", "MaxStartups 50",
        "AcceptEnv LANG LC_*", "Subsystem sftp /usr/lib/openssh/sftp-server", ""]))
    sshd = Sshd(port=port, dir=workdir, root=root)
    if root is None:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege-separation dir sshd insists on
        sshd.argv = [SSHD, "-D", "-e", "-f", str(conf_dir / "sshd_config")]
    else:
        (root / "run" / "sshd").mkdir(parents=True, exist_ok=True)
        sshd.argv = ["chroot", str(root), "/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/edgebench/sshd_config"]
    return sshd


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """sshd on 127.0.0.1:<free port> for the current user, key auth only."""
    server = make_sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


def make_tiny_cnn():
    """tests/conftest.py's tiny CNN (loaded by path: both conftest modules are named `conftest`)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("edgebench_tests_root_conftest", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_tiny_cnn()


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    """tiny_cnn exported to ONNX (3×32×32 → 10), with a name full of shell metacharacters."""
    pytest.importorskip("onnxruntime")
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("onnx") / "tiny cnn;x'.onnx"
    torch.onnx.export(make_tiny_cnn(), torch.randn(1, 3, 32, 32), str(path), input_names=["input"],
                      output_names=["logits"], opset_version=18, dynamo=False)
    return path


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory) -> Path:
    """tiny_cnn as a .tflite file (via litert-torch), for the Android paths and the Pi."""
    pytest.importorskip("ai_edge_litert")
    litert_torch = pytest.importorskip("litert_torch")
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tflite") / "tiny.tflite"
    model = litert_torch.convert(make_tiny_cnn(), (torch.randn(1, 3, 32, 32),))
    model.export(str(path))
    return path


FAST_BENCH = dict(warmup_runs=2, warmup_seconds=0.0, runs=5, min_seconds=0.0, max_seconds=5.0,
                  timeout_seconds=120.0)


@pytest.fixture
def fast_bench():
    """A BenchSpec of a few runs (the remote tests test plumbing, not speed); kwargs override."""
    from edgebench.spec import BenchSpec

    return lambda **kw: BenchSpec(**{**FAST_BENCH, **kw})


@pytest.fixture(scope="session")
def sshd_maker():
    """:func:`make_sshd` for fixtures in test modules (keys + config, optionally for a chroot)."""
    return make_sshd


@pytest.fixture
def sshd_factory(tmp_path):
    """Start extra sshd servers (stopped at the end), for tests that stop or kill them."""
    servers = []

    def start(name: str = "sshd") -> Sshd:
        server = make_sshd(tmp_path / name)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# ------------------------------------------------------------------------------------- fake Android

@dataclass
class AdbEnv:
    """A private adb server (ANDROID_ADB_SERVER_PORT) with the fake device connected."""

    server_port: int
    device_port: int
    sandbox: Path
    serial: str
    env: dict
    device: subprocess.Popen | None = None

    def adb(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["adb", *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def kill_device(self) -> None:
        stop(self.device)


def start_fake_device(sandbox: Path, port: int, model: str, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_adbd.py")), "--port", str(port),
                             "--sandbox", str(sandbox), "--model", model],
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"), start_new_session=True)
    wait_port(port, proc=proc)
    return proc


@pytest.fixture
def adb_env(tmp_path, monkeypatch):
    """The real ``adb`` client + a private adb server + the fake device, connected over TCP."""
    if shutil.which("adb") is None:
        pytest.skip("adb not installed (apt-get install adb)")
    server_port = free_port(avoid=range(5037, 5038))
    device_port = free_port(avoid=range(5555, 5586))
    sandbox = tmp_path / "device"
    env = dict(os.environ, ANDROID_ADB_SERVER_PORT=str(server_port), HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    device = start_fake_device(sandbox, device_port, "Pixel 7", tmp_path / "fake_adbd.log")
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server_port))
    monkeypatch.setenv("HOME", env["HOME"])
    serial = f"127.0.0.1:{device_port}"
    out = AdbEnv(server_port, device_port, sandbox, serial, env, device)
    try:
        connected = out.adb("connect", serial)
        assert "connected" in connected.stdout, connected.stdout + connected.stderr
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = out.adb("-s", serial, "get-state")
            if state.stdout.strip() == "device":
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"fake device never came online: {state.stdout}{state.stderr}; "
                        f"log: {(tmp_path / 'fake_adbd.log').read_text()[-2000:]}")
        yield out
    finally:
        out.kill_device()
        subprocess.run(["adb", "kill-server"], env=env, capture_output=True, timeout=30)
