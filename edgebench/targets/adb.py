"""``adb:SERIAL`` / ``adb:ALIAS``: an Android device through the system ``adb`` client.

It runs the LiteRT runtime, measured by one of two runners (option ``runner``): LiteRT's
``benchmark_model`` (default; :mod:`edgebench.targets.adb_benchmark_model`) or the edgebench app's
benchmark mode (``app``; :mod:`edgebench.targets.adb_app`). Everything lives in
``/data/local/tmp/edgebench/edgebench-<run>`` and is removed afterwards. Device state (getprop
identity, per-core governor / frequency, thermal zones, ``dumpsys battery`` and ``dumpsys
thermalservice``) is read before and after, recorded like every target's
(:func:`edgebench.targets.device_state.record`); ``cooldown_temp_c`` waits for a cool device.
An alias comes from the devices file or from a unique case-insensitive match on the model names
``adb devices -l`` reports (``adb:pixel`` → the one device whose model contains "pixel").
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from edgebench.errors import ConfigError, EdgebenchError, TargetError
from edgebench.spec import BenchSpec
from edgebench.targets import adb_app, adb_benchmark_model, device_state  # noqa: F401 - registers the runners
from edgebench.targets.adb_runner import BASE_DIR, AndroidRunner, runners
from edgebench.targets.base import Deployed, DeviceInfo, Found, Target, register
from edgebench.targets.device_state import CooldownOptions
from edgebench.targets.transport import (
    Transport, as_text, copy_failed, invoke, model_file_name, safe_path, shell_line, tail, with_retry,
)

RUNTIME = "litert"  # the runner runtime name of what both Android runners run
_GONE = ("not found", "offline", "no devices", "device unauthorized", "error: closed", "protocol fault",
         "connection reset", "failed to connect", "device still connecting", "cannot connect")


def list_adb_devices(timeout: float = 20) -> list[dict[str, str]]:
    """``adb devices -l`` as dicts: serial, state, and the product / model / device / transport_id
    fields. TargetError when adb itself fails."""
    try:
        proc = subprocess.run(["adb", "devices", "-l"], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise TargetError("adb not found", stage="config", hint="apt-get install adb (or the Android platform-tools)") from None
    except subprocess.TimeoutExpired:
        raise TargetError("adb devices timed out", stage="config", hint="adb kill-server and retry") from None
    if proc.returncode != 0:
        raise TargetError(f"adb devices failed: {tail(proc.stderr)}", stage="config")
    out = []
    for line in proc.stdout.splitlines():
        if not line.strip() or line.startswith(("List of devices", "*")):
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        entry = {"serial": parts[0], "state": parts[1]}
        for item in parts[2:]:
            key, sep, value = item.partition(":")
            if sep:
                entry[key] = value
        out.append(entry)
    return out


def _norm(text: str) -> str:
    return re.sub(r"[\s_-]+", "", text).lower()


def resolve_serial(name: str, devices: list[dict[str, str]] | None = None) -> str:
    """The serial behind ``name``: itself when adb knows such a serial, else the one device whose
    model (as ``adb devices -l`` reports it) matches case-insensitively — exactly, or failing that
    as a substring. ConfigError when nothing or more than one device matches."""
    devices = list_adb_devices() if devices is None else devices
    if any(d["serial"] == name for d in devices):
        return name
    exact = [d for d in devices if _norm(d.get("model", "")) == _norm(name)]
    matches = exact or [d for d in devices if _norm(name) and _norm(name) in _norm(d.get("model", ""))]
    if len(matches) == 1:
        return matches[0]["serial"]
    seen = ", ".join(f"{d['serial']} ({d.get('model', '?')}, {d['state']})" for d in devices) or "none"
    if not matches:
        raise ConfigError(f"no adb device is {name!r}: not a serial, not an alias in the devices file, no model "
                          f"matches (devices: {seen})", hint="adb devices -l; or add [NAME] uri=\"adb:SERIAL\" to the devices file")
    raise ConfigError(f"{name!r} matches several adb devices: {seen}", hint="use adb:SERIAL or a devices-file alias")


class AdbTransport(Transport):
    """``adb -s SERIAL shell`` with each argv element quoted by shlex.quote (adb joins its shell
    arguments with spaces and the device's shell re-parses them), ``adb push`` / ``adb pull``.
    A device that went away is retried with back-off, then a TargetError."""

    def __init__(self, serial: str, *, retries: int = 1, backoff_s: float = 2.0):
        self.serial, self.retries, self.backoff_s = serial, retries, backoff_s

    @property
    def where(self) -> str:  # type: ignore[override]
        return self.serial

    def _adb(self, args: list[str], *, timeout: float | None, stage: str) -> subprocess.CompletedProcess:
        cmd = ["adb", "-s", self.serial, *args]

        def once() -> subprocess.CompletedProcess:
            proc = invoke(cmd, timeout=timeout, where=self.serial)
            err = proc.stderr.decode(errors="replace").lower()
            if proc.returncode != 0 and any(m in err for m in _GONE) and not self.online():
                raise TargetError(f"device {self.serial} is not connected: {tail(proc.stderr)}", stage=stage,
                                  hint="check the cable / adb connect, and `adb devices -l`")
            return proc

        return with_retry(once, transient=lambda e: isinstance(e, TargetError), retries=self.retries,
                          backoff_s=self.backoff_s)

    def online(self) -> bool:
        """True when adb reports this device in state ``device``."""
        try:
            proc = subprocess.run(["adb", "-s", self.serial, "get-state"], capture_output=True, text=True, timeout=15)
        except (subprocess.TimeoutExpired, OSError):
            return False
        return proc.returncode == 0 and proc.stdout.strip() == "device"

    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = False,
            stage: str = "run", cwd: str | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` on the device (exit code via shell protocol v2); stdout/stderr as text."""
        proc = self._adb(["shell", shell_line(argv, cwd)], timeout=timeout, stage=stage)
        return as_text(proc, argv, check=check, where=self.serial, stage=stage)

    def _copy(self, verb: str, src: str, dst: str, stage: str, timeout: float) -> None:
        proc = self._adb([verb, src, dst], timeout=timeout, stage=stage)
        if proc.returncode != 0:
            raise copy_failed(f"adb {verb}", src, dst, (proc.stderr + proc.stdout).decode(errors="replace"),
                              where=self.serial, stage=stage, free_hint="free space on the device (adb shell df /data)")

    def push(self, local: Path, remote: str, *, stage: str = "deploy", timeout: float = 600) -> str:
        self._copy("push", str(local), safe_path(remote, stage=stage), stage, timeout)
        return remote

    def pull(self, remote: str, local: Path, *, stage: str = "run", timeout: float = 600) -> None:
        self._copy("pull", safe_path(remote, stage=stage), str(local), stage, timeout)


@register("adb")
class AdbTarget(Target):
    """An Android phone running LiteRT, measured with ``benchmark_model`` or the edgebench app."""

    @dataclass(frozen=True)
    class Options(CooldownOptions):
        """``runner``: ``benchmark_model`` or ``app``; ``benchmark_binary``: the android_arm64
        ``benchmark_model`` to push; ``benchmark_args``: extra flags for it; ``apk``: the app to
        install when missing; ``app_timeout_s``: seconds ``am start -W`` may take; ``delegate``:
        ``cpu`` / ``xnnpack`` / ``gpu`` / ``nnapi`` (what the runner offers); ``retries`` /
        ``backoff_s``: how often and after how many seconds (doubling) a vanished device is retried."""

        runner: str = "benchmark_model"
        benchmark_binary: str | None = None
        benchmark_args: tuple[str, ...] = ()
        apk: str | None = None
        app_timeout_s: float = 120.0
        delegate: str | None = None
        retries: int = 1
        backoff_s: float = 2.0

        def __post_init__(self) -> None:
            if self.runner not in runners:
                raise ValueError(f"runner {self.runner!r} is not one of {', '.join(runners.names())}")
            offered = runners.get(self.runner).delegates
            if self.delegate is not None and self.delegate not in offered:
                raise ValueError(f"delegate {self.delegate!r} is not one the {self.runner} runner offers "
                                 f"({', '.join(offered)})")
            if self.app_timeout_s <= 0 or self.retries < 0 or self.backoff_s < 0:
                raise ValueError("app_timeout_s must be > 0, retries and backoff_s >= 0")

    runtimes = (RUNTIME,)  # type: ignore[assignment]

    def __init__(self, uri: str, options: "AdbTarget.Options | None" = None):
        super().__init__(uri, options)
        self.alias = uri.partition(":")[2]
        if not self.alias or self.alias.startswith("-") or not re.match(r"^[A-Za-z0-9._:\[\]-]+$", self.alias):
            raise ConfigError(f"bad adb target {uri!r}", hint="adb:SERIAL or adb:ALIAS")
        self.runner = self.options.runner
        self._transport: AdbTransport | None = None
        self._strategy: AndroidRunner | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if shutil.which("adb") is None:
            return "adb not found: apt-get install adb (or the Android platform-tools)"
        return None

    @classmethod
    def discover(cls) -> list[Found]:
        """Every device ``adb devices -l`` reports (nothing when adb is not installed)."""
        if cls.unavailable_reason():
            return []
        try:
            devices = list_adb_devices()
        except EdgebenchError as err:
            return [Found("adb", "", "adb", False, str(err))]
        return [Found(d.get("model", d["serial"]).replace("_", " "), f"adb:{d['serial']}", "adb",
                      d["state"] == "device",
                      f"{d['state']} " + " ".join(f"{k}:{v}" for k, v in d.items() if k not in ("serial", "state")))
                for d in devices]

    @property
    def transport(self) -> AdbTransport:
        """The transport to the resolved serial (resolved on first use: ``adb devices -l``)."""
        if self._transport is None:
            if self.unavailable_reason():
                raise TargetError(self.unavailable_reason(), stage="deploy")
            self._transport = AdbTransport(resolve_serial(self.alias), retries=self.options.retries,
                                           backoff_s=self.options.backoff_s)
        return self._transport

    @property
    def strategy(self) -> AndroidRunner:
        """The Android runner the ``runner`` option names, over this device's transport."""
        if self._strategy is None:
            self._strategy = runners.get(self.runner)(self.transport, self.options)
        return self._strategy

    def why_not(self, runtime: str) -> str:
        return f"an Android device runs {RUNTIME} models only (through benchmark_model or the app)"

    def reachable(self) -> tuple[bool, str]:
        try:
            return self.transport.online(), self.transport.serial
        except EdgebenchError as err:
            return False, str(err)

    def state(self) -> dict[str, Any]:
        """Device state now (getprop identity, cores, governors, thermal, battery, thermalservice)."""
        return device_state.collect(self.transport, android=True)

    def describe(self) -> DeviceInfo:
        s = self.state()
        props = s.get("android") or {}
        return DeviceInfo(name=props.get("model") or self.transport.serial, kind="adb", arch=s.get("arch"),
                          cpu=props.get("soc") or s.get("cpu_model"), cores=s.get("cores"),
                          os=f"Android {props.get('release', '?')} (SDK {props.get('sdk', '?')})",
                          details={"serial": self.transport.serial, "props": props, "runner": self.runner})

    def doctor(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) rows for ``edgebench doctor --target``."""
        rows: list[tuple[str, bool, str]] = [("adb client", self.unavailable_reason() is None,
                                              self.unavailable_reason() or shutil.which("adb") or "")]
        try:
            info = self.describe()
        except EdgebenchError as err:
            return rows + [("reachable", False, str(err))]
        rows.append(("reachable", True, f"{info.details['serial']}: {info.name}, {info.os}, {info.cpu}"))
        return rows + self.strategy.doctor()

    def deploy(self, artifact: Path, runtime: str, *, label: str | None = None) -> Deployed:
        artifact = self.check_artifact(artifact, runtime)
        strategy = self.strategy
        strategy.check()
        t = self.transport
        remote_dir = t.make_run_dir(BASE_DIR)
        deployed = Deployed(target=self.uri, artifact=artifact, runtime=runtime, remote_dir=remote_dir,
                            model_path=f"{remote_dir}/{model_file_name(artifact)}", label=label,
                            extra={"runner": self.runner, "serial": t.serial})
        try:
            t.push(artifact, deployed.model_path)
            strategy.deploy(deployed)
        except BaseException:
            self.cleanup(deployed)
            raise
        return deployed

    def measure(self, deployed: Deployed, bench: BenchSpec, *, inputs_npy: Path | None = None,
                outputs_npy: Path | None = None) -> dict[str, Any]:
        """Measure with the configured Android runner; device state recorded before and after.
        Neither Android runner feeds given inputs: no ``outputs_npy`` is written (accuracy needs
        local or ssh)."""
        cool = device_state.gate(self.options, self.transport, android=True)
        before = device_state.collect_or_none(self.transport, android=True)
        raw = self.strategy.measure(deployed, bench)
        after = device_state.collect_or_none(self.transport, android=True)
        return device_state.record(raw, before, after, cool)

    def cleanup(self, deployed: Deployed) -> None:
        self.transport.remove_run_dir(deployed.remote_dir, BASE_DIR)
