"""``ssh:user@host[:port]``: a Raspberry Pi or any Linux box, driven with the system OpenSSH client.

The same runner as the local target, as one zipapp file (``runner.pyz``), is copied into
``/tmp/edgebench-<run>`` with the artifact and run by the device's Python; the RawSamples JSON comes
back with scp and the directory is removed afterwards. ``ssh``/``scp`` honour ``~/.ssh/config``,
keys and known_hosts; BatchMode is always on (never a password prompt) and host keys are checked —
``accept_new_host_key`` (CLI ``--accept-new-host-key``) allows ``StrictHostKeyChecking=accept-new``
for a first connection.

Options (CLI, or the device's table in the devices file): ``python`` (remote interpreter, default
``python3``), ``identity_file``, ``ssh_options`` (list of ``Key=Value``), ``workdir`` (default
``/tmp``), ``connect_timeout_s``, ``cooldown_temp_c`` / ``cooldown_timeout_s`` / ``cooldown_poll_s``,
``retries`` (connection retries, default 1).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence

from edgebench.errors import EdgebenchError, TargetError
from edgebench.harness.protocol import (
    RunnerFailed, RunnerTimeout, read_raw_samples, runner_argv, runner_pyz, runtime_for_module,
)
from edgebench.spec import BenchSpec
from edgebench.targets import _remote, device_state
from edgebench.targets.base import Deployed, DeviceInfo, Target, Transport, register
from edgebench.targets.devices import device_options

_URI = re.compile(r"^ssh:(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]*)@)?(?P<host>[A-Za-z0-9._][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])"
                  r"(?::(?P<port>\d{1,5}))?$")
_TRANSIENT = ("Connection refused", "Connection reset", "Connection timed out", "Connection closed",
              "closed by remote host", "No route to host", "Network is unreachable", "Broken pipe",
              "kex_exchange_identification", "Operation timed out")

# Runtime module each format needs on the device, and the pip package providing it.
RUNTIMES = {"onnx": ("onnxruntime", "onnxruntime"), "tflite": ("ai_edge_litert", "ai-edge-litert"),
            "torchscript": ("torch", "torch")}

# Printed as JSON by the remote python: what doctor and deploy need, importing nothing heavy.
_PROBE = r"""
import importlib.util, json, os, platform, sys
try:
    from importlib.metadata import version
except ImportError:
    version = None
mods = {}
for mod, dist in (("numpy", "numpy"), ("onnxruntime", "onnxruntime"), ("ai_edge_litert", "ai-edge-litert"), ("torch", "torch")):
    found = importlib.util.find_spec(mod) is not None
    v = None
    if found and version is not None:
        try:
            v = version(dist)
        except Exception:
            v = "?"
    mods[mod] = v if found else None
st = os.statvfs(sys.argv[1]) if os.path.isdir(sys.argv[1]) else None
print(json.dumps({"python": platform.python_version(), "py_tag": "%d.%d" % sys.version_info[:2],
    "machine": platform.machine(), "system": platform.platform(), "modules": mods,
    "free_bytes": st.f_bavail * st.f_frsize if st else None, "executable": sys.executable}))
"""


def parse_uri(uri: str) -> tuple[str | None, str, int | None]:
    """(user, host, port) of ``ssh:user@host[:port]``; ConfigError-like TargetError otherwise."""
    m = _URI.match(uri)
    if not m:
        raise TargetError(f"bad ssh target {uri!r}", stage="config",
                          hint="ssh:user@host or ssh:user@host:port (host: a name or address, no spaces)")
    port = int(m["port"]) if m["port"] else None
    if port is not None and not 0 < port < 65536:
        raise TargetError(f"bad port in {uri!r}", stage="config")
    return m["user"], m["host"], port


class SshTransport(Transport):
    """Runs argv lists on the host through ``ssh`` (each element quoted with shlex.quote) and
    copies files with ``scp``. Connection failures are retried once with back-off."""

    def __init__(self, user: str | None, host: str, port: int | None, *, accept_new_host_key: bool = False,
                 identity_file: str | None = None, ssh_options: Sequence[str] = (),
                 connect_timeout_s: float = 10, retries: int = 1, backoff_s: float = 2.0):
        self.user, self.host, self.port = user, host, port
        self.retries, self.backoff_s = retries, backoff_s
        opts = ["-o", "BatchMode=yes",
                "-o", f"StrictHostKeyChecking={'accept-new' if accept_new_host_key else 'yes'}",
                "-o", f"ConnectTimeout={int(connect_timeout_s)}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR"]
        if identity_file:
            opts += ["-i", str(Path(identity_file).expanduser()), "-o", "IdentitiesOnly=yes"]
        for opt in ssh_options:
            if not re.match(r"^[A-Za-z]+[ =]", str(opt)):
                raise TargetError(f"bad ssh option {opt!r}", stage="config", hint="Key=Value, e.g. Ciphers=aes128-ctr")
            opts += ["-o", str(opt)]
        self.opts = opts

    @property
    def dest(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def _connect_error(self, stderr: str, stage: str) -> TargetError:
        where = f"{self.dest}:{self.port or 22}"
        msg = _remote.tail(stderr) or "ssh exited 255"
        if "Host key verification failed" in stderr or "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
            return TargetError(f"host key of {where} is not trusted: {msg}", stage=stage,
                               hint="check the key, add it to ~/.ssh/known_hosts, or pass --accept-new-host-key "
                                    "for a first connection")
        if "Permission denied" in stderr:
            return TargetError(f"ssh login to {where} refused: {msg}", stage=stage,
                               hint="set up key auth (ssh-copy-id); BatchMode never asks for a password")
        return TargetError(f"cannot reach {where}: {msg}", stage=stage,
                           hint="is the device on and sshd running? (ssh -p PORT user@host)")

    def _once(self, cmd: list[str], *, timeout: float | None, stage: str,
              input: bytes | None = None) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise RunnerTimeout(f"{Path(cmd[0]).name} to {self.dest} timed out after {timeout:.0f} s",
                                detail=_remote.tail(exc.stderr) or None,
                                hint="raise the timeout (--timeout) or check the device") from None
        if proc.returncode == 255:
            raise self._connect_error(proc.stderr.decode(errors="replace"), stage)
        return proc

    def _call(self, cmd: list[str], *, timeout: float | None, stage: str,
              input: bytes | None = None) -> subprocess.CompletedProcess:
        def transient(err: EdgebenchError) -> bool:
            return isinstance(err, TargetError) and any(t in err.message for t in _TRANSIENT)

        return _remote.with_retry(lambda: self._once(cmd, timeout=timeout, stage=stage, input=input),
                                  transient=transient, retries=self.retries, backoff_s=self.backoff_s)

    def command(self, argv: Sequence[str]) -> list[str]:
        """The local ssh argv running ``argv`` remotely (what :meth:`run` executes)."""
        port = ["-p", str(self.port)] if self.port else []
        return ["ssh", *self.opts, *port, "--", self.dest, " ".join(shlex.quote(str(a)) for a in argv)]

    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = False,
            stage: str = "run") -> subprocess.CompletedProcess:
        """Run ``argv`` on the host; stdout/stderr as text. ``check`` raises TargetError on a
        non-zero exit (naming a full disk as such)."""
        proc = self._call(self.command(argv), timeout=timeout, stage=stage)
        return _remote.as_text(proc, argv, check=check, where=self.dest, stage=stage)

    def _scp(self, src: str, dst: str, stage: str, timeout: float) -> None:
        port = ["-P", str(self.port)] if self.port else []
        proc = self._call(["scp", "-q", *self.opts, *port, "--", src, dst], timeout=timeout, stage=stage)
        if proc.returncode != 0:
            text = proc.stderr.decode(errors="replace")
            if _remote.disk_full(text):
                raise TargetError(f"remote disk full on {self.dest}: {_remote.tail(text)}", stage=stage,
                                  hint="free space on the device (df -h /tmp) or set workdir to a bigger disk")
            raise TargetError(f"scp {src} → {dst} failed: {_remote.tail(text)}", stage=stage)

    def _remote(self, path: str) -> str:
        # remote paths are ours (per-run dir + safe names): no character any scp mode would expand
        if not re.match(r"^[A-Za-z0-9._/-]+$", path):
            raise TargetError(f"unsafe remote path {path!r}", stage="deploy")
        host = self.host if not self.user else f"{self.user}@{self.host}"
        return f"{host}:{path}"

    def push(self, local: Path, remote: str, *, stage: str = "deploy", timeout: float = 600) -> None:
        """Copy a local file to the host."""
        self._scp(str(local), self._remote(remote), stage, timeout)

    def pull(self, remote: str, local: Path, *, stage: str = "run", timeout: float = 600) -> None:
        """Copy a host file to the local machine."""
        self._scp(self._remote(remote), str(local), stage, timeout)


def pip_commands(py_tag: str | None, machine: str | None, packages: Sequence[str], python: str = "python3") -> str:
    """The exact commands that install ``packages`` on the device: with internet on the device, and
    offline via wheels downloaded here for its platform (aarch64 manylinux wheels on a Pi)."""
    pkgs = " ".join(packages)
    on_device = f"{python} -m pip install --only-binary=:all: {pkgs}"
    if machine in ("aarch64", "arm64", "x86_64"):
        arch = "aarch64" if machine in ("aarch64", "arm64") else "x86_64"
        plats = " ".join(f"--platform {p}_{arch}" for p in ("manylinux_2_27", "manylinux_2_28", "manylinux2014"))
        offline = (f"pip download {plats} --only-binary=:all: --python-version {py_tag or '3.11'} -d wheels {pkgs}"
                   f" && scp -r wheels DEVICE: && ssh DEVICE {python} -m pip install --no-index --find-links wheels {pkgs}")
        return f"on the device: {on_device}   (offline: {offline})"
    return f"on the device: {on_device}"


@register("ssh")
class SshTarget(Target):
    """A Linux machine over SSH running ``runner.pyz`` with its own Python and runtimes."""

    name = "ssh"
    formats = ("onnx", "tflite", "torchscript")

    def __init__(self, uri: str, **options: Any):
        real_uri, file_opts = device_options(uri, options.get("devices_file"))
        super().__init__(real_uri, **_remote.merge_options(file_opts, options))
        self.user, self.host, self.port = parse_uri(real_uri)
        o = self.options
        self.python = str(o.get("python") or "python3")
        self.workdir = str(o.get("workdir") or "/tmp").rstrip("/") or "/tmp"
        if not re.match(r"^/[A-Za-z0-9._/-]*$", self.workdir):
            raise TargetError(f"workdir {self.workdir!r} must be an absolute path of plain characters", stage="config")
        self.transport = SshTransport(
            self.user, self.host, self.port, accept_new_host_key=bool(o.get("accept_new_host_key")),
            identity_file=o.get("identity_file"), ssh_options=o.get("ssh_options") or (),
            connect_timeout_s=float(o.get("connect_timeout_s") or 10), retries=int(o.get("retries", 1)),
            backoff_s=float(o.get("backoff_s", 2.0)))
        self._probe: dict[str, Any] | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        missing = [b for b in ("ssh", "scp") if shutil.which(b) is None]
        if missing:
            return f"{' and '.join(missing)} not found: apt-get install openssh-client"
        return None

    def probe(self, stage: str = "deploy") -> dict[str, Any]:
        """The device's Python version, machine, runtimes (module → version or None) and free
        bytes in the work directory; cached per target. TargetError if it has no usable Python."""
        if self._probe is None:
            proc = self.transport.run([self.python, "-c", _PROBE, self.workdir], timeout=120, stage=stage)
            if proc.returncode != 0:
                raise TargetError(f"{self.python} does not run on {self.transport.dest}: "
                                  f"{_remote.tail(proc.stderr) or f'exit {proc.returncode}'}", stage=stage,
                                  hint="install python3 (>= 3.9) and numpy there, or set the device's python option")
            try:
                self._probe = json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise TargetError(f"unexpected reply from {self.python} on {self.transport.dest}: "
                                  f"{_remote.tail(proc.stdout)}", stage=stage) from None
        return self._probe

    def missing_for(self, fmt: str) -> list[str]:
        """pip packages the device lacks to run ``fmt`` (numpy + the format's runtime)."""
        mods = self.probe()["modules"]
        need = [("numpy", "numpy")] + ([RUNTIMES[fmt]] if fmt in RUNTIMES else [])
        return [dist for mod, dist in need if not mods.get(mod)]

    def doctor(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) rows for ``edgebench doctor --target``: reachable, Python, each
        runtime, and the exact pip command for whatever is missing."""
        rows: list[tuple[str, bool, str]] = [("ssh client", self.unavailable_reason() is None,
                                              self.unavailable_reason() or shutil.which("ssh") or "")]
        try:
            info = self.probe(stage="doctor")
        except EdgebenchError as err:
            return rows + [("reachable", False, str(err))]
        rows.append(("reachable", True, f"{self.transport.dest} ({info['machine']}, {info['system']})"))
        rows.append(("python", True, f"{info['python']} at {info['executable']}"))
        missing = []
        for mod, dist in [("numpy", "numpy")] + list(RUNTIMES.values()):
            version = info["modules"].get(mod)
            if not version and dist != "torch":
                missing.append(dist)
            rows.append((dist, bool(version), version or "not installed"))
        free = info.get("free_bytes")
        rows.append((f"free space in {self.workdir}", free is None or free > 100 * 2**20,
                     "unknown" if free is None else f"{free / 2**20:.0f} MiB"))
        if missing:
            rows.append(("install", False, pip_commands(info.get("py_tag"), info.get("machine"), missing, self.python)))
        return rows

    def describe(self) -> DeviceInfo:
        info = self.probe()
        state = device_state.collect(self.transport)
        return DeviceInfo(name=self.uri, kind="ssh", arch=info["machine"], cpu=state.get("cpu_model"),
                          cores=state.get("cores"), os=info["system"],
                          details={"python": info["python"], "modules": info["modules"],
                                   "vcgencmd": state.get("vcgencmd")})

    def deploy(self, artifact: Path, fmt: str) -> Deployed:
        artifact = _remote.check_artifact(self, artifact, fmt)
        missing = self.missing_for(fmt)
        if missing:
            info = self.probe()
            raise TargetError(f"{', '.join(missing)} missing on {self.transport.dest}", stage="deploy",
                              hint=pip_commands(info.get("py_tag"), info.get("machine"), missing, self.python))
        free = self.probe().get("free_bytes")
        pyz = runner_pyz()
        need = artifact.stat().st_size + pyz.stat().st_size + 4 * 2**20
        if free is not None and free < need:
            raise TargetError(f"remote disk full on {self.transport.dest}: {free / 2**20:.1f} MiB free in "
                              f"{self.workdir}, need {need / 2**20:.1f} MiB", stage="deploy",
                              hint="free space on the device or set workdir to a bigger disk")
        run_id = _remote.new_run_id()
        remote_dir = f"{self.workdir}/edgebench-{run_id}"
        self.transport.run(["mkdir", "-m", "700", "-p", remote_dir], timeout=60, check=True, stage="deploy")
        deployed = Deployed(target=self.uri, artifact=artifact, format=fmt, remote_dir=remote_dir,
                            model_path=f"{remote_dir}/{_remote.model_file_name(artifact)}",
                            extra={"runner": f"{remote_dir}/{pyz.name}", "run_id": run_id})
        try:
            self.transport.push(pyz, deployed.extra["runner"])
            self.transport.push(artifact, deployed.model_path)
        except EdgebenchError:
            self.cleanup(deployed)
            raise
        return deployed

    def measure(self, deployed: Deployed, bench: BenchSpec, *, inputs_npy: Path | None = None,
                outputs_npy: Path | None = None) -> dict[str, Any]:
        cool = device_state.gate(self.options, self.transport)
        before = device_state.collect_or_none(self.transport)
        d = deployed.remote_dir
        remote_in = f"{d}/inputs.npy" if inputs_npy else None
        remote_out = f"{d}/outputs.npy" if inputs_npy and outputs_npy else None
        if inputs_npy:
            self.transport.push(Path(inputs_npy), remote_in, stage="run")
        out_json = f"{d}/result.json"
        runtime = runtime_for_module(RUNTIMES[deployed.format][0])
        argv = runner_argv(self.python, deployed.extra["runner"], deployed.model_path, runtime, bench,
                           out_json, fmt_label=deployed.format, inputs_npy=remote_in, outputs_npy=remote_out)
        try:
            proc = self.transport.run(argv, timeout=bench.timeout_seconds, stage="run")
        except TargetError as err:  # the link died under a running measurement: a run failure
            raise RunnerFailed(err.message, hint=err.hint, stage="run") from None
        with tempfile.TemporaryDirectory(prefix="edgebench-ssh-") as tmp:
            local_json = Path(tmp) / "result.json"
            json_text = None
            try:
                self.transport.pull(out_json, local_json, stage="run")
                json_text = local_json.read_text()
            except TargetError as err:
                text = proc.stderr + proc.stdout
                if _remote.disk_full(text):
                    raise RunnerFailed(f"remote disk full on {self.transport.dest}", detail=_remote.tail(text),
                                       hint="free space on the device or set workdir to a bigger disk") from None
                if "No such file" not in err.message:
                    raise RunnerFailed(err.message, hint=err.hint, stage="run") from None
            raw = read_raw_samples(proc.returncode, json_text, proc.stderr)
            if remote_out and raw.get("status") == "ok":
                self.transport.pull(remote_out, Path(outputs_npy), stage="run")
        after = device_state.collect_or_none(self.transport)
        ds = raw.get("device_state") or {}
        raw["device_state"] = {**ds, "before": device_state.merge(ds.get("before"), before),
                               "after": device_state.merge(ds.get("after"), after)}
        if cool is not None:
            raw["device_state"]["cooldown"] = cool
        raw.setdefault("host", None)
        return raw

    def cleanup(self, deployed: Deployed) -> None:
        _remote.remove_run_dir(self.transport, deployed.remote_dir, self.transport.dest, base=self.workdir + "/")
