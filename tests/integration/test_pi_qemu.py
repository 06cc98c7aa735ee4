"""An emulated Raspberry Pi: an arm64 Debian rootfs (scripts/build_pi_rootfs.sh, cached outside
the checkout) run through qemu-user-static via binfmt, with sshd inside a chroot on its own port.
A tiny model is measured end to end over SSH by the aarch64 Python and runtimes.

/sys is deliberately not mounted in the chroot: onnxruntime segfaults under qemu-user reading it
(the runner then reports no governors/thermal zones, which is what a locked-down box looks like)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from edgebench.targets import resolve

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).parents[2]
BINFMT = Path("/proc/sys/fs/binfmt_misc")


def _binfmt_reason() -> str | None:
    """None when aarch64 binaries run here through qemu (registering binfmt if needed)."""
    if not Path("/usr/bin/qemu-aarch64-static").exists():
        return "qemu-user-static not installed (apt-get install qemu-user-static binfmt-support)"
    if os.geteuid() != 0:
        return "needs root (chroot, binfmt registration)"
    if not (BINFMT / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True)
    if not (BINFMT / "status").exists():
        return "binfmt_misc cannot be mounted here (container without the privilege)"
    if not (BINFMT / "qemu-aarch64").exists():
        if shutil.which("update-binfmts") is None:
            return "binfmt-support not installed (apt-get install binfmt-support)"
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    if not (BINFMT / "qemu-aarch64").exists():
        return "qemu-aarch64 cannot be registered with binfmt_misc here"
    return None


@pytest.fixture(scope="module")
def pi(tmp_path_factory, sshd_maker):
    """sshd running inside the aarch64 rootfs (unpacked from the cached tarball)."""
    reason = _binfmt_reason()
    if reason:
        pytest.skip(f"emulated Pi unavailable: {reason}")
    if shutil.which("debootstrap") is None and not Path(os.environ.get(
            "EDGEBENCH_CACHE", "/var/cache/edgebench"), "pi-rootfs.tar.gz").exists():
        pytest.skip("emulated Pi unavailable: debootstrap not installed and no cached rootfs")
    build = subprocess.run([str(ROOT / "scripts" / "build_pi_rootfs.sh")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    tarball = Path(build.stdout.strip().splitlines()[-1])
    work = tmp_path_factory.mktemp("pi")
    rootfs = work / "rootfs"
    rootfs.mkdir()
    subprocess.run(["tar", "-C", str(rootfs), "-xzf", str(tarball)], check=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(rootfs / "proc")], check=True)
    server = None
    try:
        server = sshd_maker(work / "keys", root=rootfs)
        server.start()
        yield server
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["umount", "-l", str(rootfs / "proc")], capture_output=True)
        shutil.rmtree(rootfs, ignore_errors=True)


def test_tiny_models_measured_on_emulated_aarch64(pi, tiny_onnx, tiny_tflite, fast_bench):
    target = resolve(pi.uri, python="/usr/bin/python3", connect_timeout_s=60, **pi.client_options)
    info = target.describe()
    assert info.arch == "aarch64" and info.details["modules"]["onnxruntime"]
    rows = {name: ok for name, ok, _ in target.doctor()}
    assert rows["onnxruntime"] and rows["ai-edge-litert"] and not rows["torch"]
    assert {"onnxruntime", "litert"} <= set(target.runtimes) and "torch" not in target.runtimes
    for model, fmt, runtime in ((tiny_onnx, "onnx", "onnxruntime"), (tiny_tflite, "tflite", "litert")):
        deployed = target.deploy(model, runtime, label=fmt)
        try:
            raw = target.measure(deployed, fast_bench(runs=3, warmup_runs=1, timeout_seconds=600.0))
        finally:
            target.cleanup(deployed)
        assert not (pi.root / deployed.remote_dir.lstrip("/")).exists()
        assert raw["status"] == "ok", raw.get("error")
        assert raw["host"]["arch"] == "aarch64" and raw["format"] == fmt
        assert len(raw["iterations_ms"]) >= 3 and raw["load_ms"] > 0
