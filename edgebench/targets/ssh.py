"""``ssh:user@host[:port]``: a Raspberry Pi or any Linux box, driven with the system OpenSSH client.

The runner, packed as one ``runner.pyz`` (:func:`edgebench.targets.runner_command.runner_pyz`: stdlib + numpy +
one runtime on the device, nothing else to install), is copied into ``WORKDIR/edgebench-<run>``
with the artifact and run by the device's Python; the RawSamples JSON comes back with scp and the
directory is removed afterwards. Which runtimes the device runs is what a probe finds importable
there: the module list comes from the runner's runtime registry (each runtime's ``module`` and
pip ``dist``). ``ssh``/``scp`` honour ``~/.ssh/config``, keys and known_hosts; BatchMode is always
on (never a password prompt) and host keys are checked — ``accept_new_host_key`` (CLI
``--accept-new-host-key``) allows ``StrictHostKeyChecking=accept-new`` for a first connection.

Options (CLI, or the device's table in the devices file) are the fields of :class:`SshTarget.Options`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from edgebench.errors import ConfigError, EdgebenchError, TargetError
from edgebench.runner import RUNTIMES
from edgebench.targets import device_state
from edgebench.targets.base import DeviceInfo, register
from edgebench.targets.device_state import CooldownOptions
from edgebench.targets.runner_command import runner_pyz
from edgebench.targets.runner_target import RunnerTarget
from edgebench.targets.transport import (
    Transport, as_text, copy_failed, invoke, safe_path, shell_line, tail, with_retry,
)

_URI = re.compile(r"^ssh:(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]*)@)?(?P<host>[A-Za-z0-9._][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])"
                  r"(?::(?P<port>\d{1,5}))?$")
_TRANSIENT = ("Connection refused", "Connection reset", "Connection timed out", "Connection closed",
              "closed by remote host", "No route to host", "Network is unreachable", "Broken pipe",
              "kex_exchange_identification", "Operation timed out")
FREE_HINT = "free space on the device (df -h /tmp) or set the device's workdir to a bigger disk"

# Printed as JSON by the device's python: what doctor and deploy need, importing nothing heavy.
# argv: WORKDIR, then a JSON list of [import name, pip distribution] pairs to look for.
_PROBE = r"""
import importlib.util, json, os, platform, sys
try:
    from importlib.metadata import version
except ImportError:
    version = None
mods = {}
for mod, dist in json.loads(sys.argv[2]):
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
    "machine": platform.machine(), "system": platform.platform(), "platform": sys.platform, "modules": mods,
    "free_bytes": st.f_bavail * st.f_frsize if st else None, "executable": sys.executable}))
"""

def probe_modules() -> list[tuple[str, str]]:
    """(import name, pip dist) the probe looks for: numpy and every runner runtime's module."""
    return [("numpy", "numpy")] + [(rt.module, rt.dist) for rt in RUNTIMES.values()]


def parse_uri(uri: str) -> tuple[str | None, str, int | None]:
    """(user, host, port) of ``ssh:user@host[:port]``; ConfigError otherwise."""
    m = _URI.match(uri)
    if not m:
        raise ConfigError(f"bad ssh target {uri!r}",
                          hint="ssh:user@host or ssh:user@host:port (host: a name or address, no spaces)")
    port = int(m["port"]) if m["port"] else None
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"bad port in {uri!r}", hint="a port is 1–65535")
    return m["user"], m["host"], port


class SshTransport(Transport):
    """Runs argv lists on the host through ``ssh`` (each element quoted with shlex.quote) and
    copies files with ``scp``. Connection failures are retried with back-off."""

    def __init__(self, user: str | None, host: str, port: int | None, *, accept_new_host_key: bool = False,
                 identity_file: str | None = None, ssh_options: Sequence[str] = (),
                 connect_timeout_s: float = 10, retries: int = 1, backoff_s: float = 2.0):
        self.user, self.host, self.port = user, host, port
        self.retries, self.backoff_s = retries, backoff_s
        opts = ["-o", "BatchMode=yes",
                "-o", f"StrictHostKeyChecking={'accept-new' if accept_new_host_key else 'yes'}",
                "-o", f"ConnectTimeout={max(1, int(connect_timeout_s))}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR"]
        if identity_file:
            opts += ["-i", str(Path(identity_file).expanduser()), "-o", "IdentitiesOnly=yes"]
        for opt in ssh_options:
            if not re.match(r"^[A-Za-z]+[ =]", str(opt)):
                raise ConfigError(f"bad ssh option {opt!r}", hint="Key=Value, e.g. Ciphers=aes128-ctr")
            opts += ["-o", str(opt)]
        self.opts = opts

    @property
    def dest(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def where(self) -> str:  # type: ignore[override]
        return self.dest

    def _connect_error(self, stderr: str, stage: str) -> TargetError:
        where = f"{self.dest}:{self.port or 22}"
        msg = tail(stderr) or "ssh exited 255"
        if "Host key verification failed" in stderr or "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
            return TargetError(f"host key of {where} is not trusted: {msg}", stage=stage,
                               hint="check the key, add it to ~/.ssh/known_hosts, or pass --accept-new-host-key "
                                    "for a first connection")
        if "Permission denied" in stderr:
            return TargetError(f"ssh login to {where} refused: {msg}", stage=stage,
                               hint="set up key auth (ssh-copy-id); BatchMode never asks for a password")
        return TargetError(f"cannot reach {where}: {msg}", stage=stage,
                           hint="is the device on and sshd running? (ssh -p PORT user@host)")

    def _call(self, cmd: list[str], *, timeout: float | None, stage: str) -> subprocess.CompletedProcess:
        def once() -> subprocess.CompletedProcess:
            proc = invoke(cmd, timeout=timeout, where=self.dest)
            if proc.returncode == 255:
                raise self._connect_error(proc.stderr.decode(errors="replace"), stage)
            return proc

        def transient(err: EdgebenchError) -> bool:
            return isinstance(err, TargetError) and any(t in err.message for t in _TRANSIENT)

        return with_retry(once, transient=transient, retries=self.retries, backoff_s=self.backoff_s)

    def command(self, argv: Sequence[str], cwd: str | None = None) -> list[str]:
        """The local ssh argv running ``argv`` remotely (what :meth:`run` executes)."""
        port = ["-p", str(self.port)] if self.port else []
        return ["ssh", *self.opts, *port, "--", self.dest, shell_line(argv, cwd)]

    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = False,
            stage: str = "run", cwd: str | None = None) -> subprocess.CompletedProcess:
        proc = self._call(self.command(argv, cwd), timeout=timeout, stage=stage)
        return as_text(proc, argv, check=check, where=self.dest, stage=stage)

    def _scp(self, src: str, dst: str, stage: str, timeout: float, recursive: bool = False) -> None:
        port = ["-P", str(self.port)] if self.port else []
        flags = ["-q", "-r"] if recursive else ["-q"]
        proc = self._call(["scp", *flags, *self.opts, *port, "--", src, dst], timeout=timeout, stage=stage)
        if proc.returncode != 0:
            raise copy_failed("scp", src, dst, proc.stderr.decode(errors="replace"), where=self.dest,
                              stage=stage, free_hint=FREE_HINT)

    def _remote(self, path: str, stage: str) -> str:
        # remote paths are ours (per-run dir + safe names): no character any scp mode would expand
        return f"{self.dest}:{safe_path(path, stage=stage)}"

    def push(self, local: Path, remote: str, *, stage: str = "deploy", timeout: float = 600) -> str:
        self._scp(str(local), self._remote(remote, stage), stage, timeout, recursive=Path(local).is_dir())
        return remote

    def pull(self, remote: str, local: Path, *, stage: str = "run", timeout: float = 600) -> None:
        self._scp(self._remote(remote, stage), str(local), stage, timeout)


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
class SshTarget(RunnerTarget):
    """A Linux machine over SSH running ``runner.pyz`` with its own Python and runtimes."""

    @dataclass(frozen=True)
    class Options(CooldownOptions):
        """``python``: the device's interpreter; ``workdir``: where per-run directories go;
        ``identity_file`` / ``ssh_options`` (``Key=Value``) / ``accept_new_host_key`` /
        ``connect_timeout_s``: how ssh connects; ``retries`` / ``backoff_s``: how often and after
        how many seconds (doubling) a dropped connection is retried."""

        python: str = "python3"
        workdir: str = "/tmp"
        identity_file: str | None = None
        ssh_options: tuple[str, ...] = ()
        accept_new_host_key: bool = False
        connect_timeout_s: float = 10.0
        retries: int = 1
        backoff_s: float = 2.0

        def __post_init__(self) -> None:
            if not re.match(r"^/[A-Za-z0-9._/-]*$", self.workdir):
                raise ValueError(f"workdir {self.workdir!r} must be an absolute path of plain characters")
            if self.retries < 0 or self.backoff_s < 0 or self.connect_timeout_s <= 0:
                raise ValueError("retries and backoff_s must be >= 0 and connect_timeout_s > 0")

    def __init__(self, uri: str, options: "SshTarget.Options | None" = None):
        super().__init__(uri, options)
        self.user, self.host, self.port = parse_uri(uri)
        o = self.options
        self.python = o.python
        self.workdir = o.workdir.rstrip("/") or "/"
        self.transport = SshTransport(
            self.user, self.host, self.port, accept_new_host_key=o.accept_new_host_key,
            identity_file=o.identity_file, ssh_options=o.ssh_options, connect_timeout_s=o.connect_timeout_s,
            retries=o.retries, backoff_s=o.backoff_s)
        self._probe: dict[str, Any] | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        missing = [b for b in ("ssh", "scp") if shutil.which(b) is None]
        if missing:
            return f"{' and '.join(missing)} not found: apt-get install openssh-client"
        return None

    def probe(self, stage: str = "deploy") -> dict[str, Any]:
        """The device's Python version, machine, ``sys.platform``, modules (import name → version or
        None) and free bytes in the work directory; cached per target. TargetError if it has no
        usable Python or does not answer."""
        if self._probe is None:
            if self.unavailable_reason():
                raise TargetError(self.unavailable_reason(), stage=stage)
            proc = self.transport.run([self.python, "-c", _PROBE, self.workdir, json.dumps(probe_modules())],
                                      timeout=120, stage=stage)
            if proc.returncode != 0:
                raise TargetError(f"{self.python} does not run on {self.transport.dest}: "
                                  f"{tail(proc.stderr) or f'exit {proc.returncode}'}", stage=stage,
                                  hint="install python3 (>= 3.9) and numpy there, or set the device's python option")
            try:
                self._probe = json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise TargetError(f"unexpected reply from {self.python} on {self.transport.dest}: "
                                  f"{tail(proc.stdout)}", stage=stage) from None
        return self._probe

    def _fits(self, runtime: str, info: dict[str, Any]) -> str | None:
        rt = RUNTIMES[runtime]
        platforms = tuple(getattr(rt, "platforms", ()) or ())
        if platforms and not str(info.get("platform", "")).startswith(platforms):
            return f"{runtime} runs on {', '.join(platforms)} only; this device is {info.get('platform')}"
        if not info["modules"].get(rt.module):
            no_wheel = rt.device_reason(info.get("machine"), info.get("py_tag"))
            if no_wheel:
                return f"{rt.module} is not installed there and cannot be: {no_wheel}"
            return (f"{rt.module} is not installed there "
                    f"({pip_commands(info.get('py_tag'), info.get('machine'), [rt.dist], self.python)})")
        return None

    @property
    def runtimes(self) -> tuple[str, ...]:
        """The runner runtimes whose module the device's Python can import (asks the device once)."""
        info = self.probe()
        return tuple(name for name in RUNTIMES if self._fits(name, info) is None)

    def supports(self, runtime: str) -> str | None:
        if runtime not in RUNTIMES or self._not_linux(runtime):  # decided here, without asking the device
            return f"target {self.uri} cannot run {runtime}: {self.why_not(runtime)}"
        return super().supports(runtime)

    @staticmethod
    def _not_linux(runtime: str) -> str | None:
        platforms = tuple(getattr(RUNTIMES[runtime], "platforms", ()) or ())
        if platforms and not "linux".startswith(platforms):
            return f"{runtime} runs on {', '.join(platforms)} only and an ssh target is a Linux machine"
        return None

    def why_not(self, runtime: str) -> str:
        if runtime in RUNTIMES:
            return self._not_linux(runtime) or self._fits(runtime, self.probe()) or "unavailable"
        return super().why_not(runtime)

    def free_bytes(self) -> int | None:
        return self.probe().get("free_bytes")

    def deploy(self, artifact: Path, runtime: str, *, label: str | None = None):
        self.check_artifact(artifact, runtime)
        info = self.probe()
        if not info["modules"].get("numpy"):
            raise TargetError(f"numpy missing on {self.transport.dest}", stage="deploy",
                              hint=pip_commands(info.get("py_tag"), info.get("machine"), ["numpy"], self.python))
        return super().deploy(artifact, runtime, label=label)

    def runner_entry(self, deployed_dir: str) -> Sequence[str]:
        return [self.transport.push(runner_pyz(), f"{deployed_dir}/runner.pyz")]

    def reachable(self) -> tuple[bool, str]:
        try:
            proc = self.transport.run(["uname", "-srm"], timeout=20, stage="probe")
        except EdgebenchError as err:
            return False, str(err)
        return proc.returncode == 0, proc.stdout.strip() or proc.stderr.strip()

    def doctor(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) rows for ``edgebench doctor --target``: reachable, Python, numpy and
        each runner runtime, free space, and the exact pip command for whatever is missing."""
        rows: list[tuple[str, bool, str]] = [("ssh client", self.unavailable_reason() is None,
                                              self.unavailable_reason() or shutil.which("ssh") or "")]
        try:
            info = self.probe(stage="doctor")
        except EdgebenchError as err:
            return rows + [("reachable", False, str(err))]
        rows.append(("reachable", True, f"{self.transport.dest} ({info['machine']}, {info['system']})"))
        rows.append(("python", True, f"{info['python']} at {info['executable']}"))
        missing = []
        for mod, dist in probe_modules():
            version = info["modules"].get(mod)
            runtime = next((rt for rt in RUNTIMES.values() if rt.module == mod), None)
            platforms = tuple(getattr(runtime, "platforms", ()) or ()) if runtime else ()
            if platforms and not str(info.get("platform", "")).startswith(platforms):
                continue  # not for this kind of device (Core ML off macOS)
            # a runtime with no wheel for this device is named as such and left out of the pip command
            no_wheel = runtime.device_reason(info.get("machine"), info.get("py_tag")) if runtime else None
            if not version and dist != "torch" and not no_wheel:  # torch is big: name it, do not push it
                missing.append(dist)
            detail = version or (f"not installed: {no_wheel}" if no_wheel else "not installed")
            rows.append((dist, bool(version), detail))
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
