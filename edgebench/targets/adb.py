"""``adb:SERIAL`` / ``adb:ALIAS``: an Android device through the system ``adb`` client.

Two runners measure a .tflite model:

* ``benchmark_model`` (default): LiteRT's benchmark tool for android_arm64, pushed from
  ``benchmark_binary`` (CLI ``--benchmark-binary PATH``). Prebuilt nightly binaries are linked from
  https://ai.google.dev/edge/litert/models/measurement ("Native benchmark binary"), e.g.
  https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/tools/nightly/latest/android_aarch64_benchmark_model
  Its output is parsed by :mod:`edgebench.targets.benchmark_model`.
* ``app``: the benchmark mode of ``android_app`` (intent contract in ``android_app_contract.json``):
  install the APK (option ``apk``) if missing, push the model, ``am start -W -S -n …`` with the
  contract's extras, then read the results JSON back with ``run-as``.

Everything lives in ``/data/local/tmp/edgebench/<run>`` and is removed afterwards. Device state
(getprop identity, per-core governor / frequency, thermal zones, ``dumpsys battery`` and
``dumpsys thermalservice``) is read before and after; ``cooldown_temp_c`` waits for a cool device.
An alias comes from the devices file or from a unique case-insensitive match on the model names
``adb devices -l`` reports (``adb:pixel`` → the one device whose model contains "pixel").
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

from edgebench.errors import ConfigError, EdgebenchError, RunError, TargetError
from edgebench.harness.protocol import RunnerFailed, RunnerTimeout
from edgebench.spec import BenchSpec
from edgebench.targets import _remote, device_state
from edgebench.targets.base import Deployed, DeviceInfo, Target, Transport, register
from edgebench.targets.benchmark_model import parse as parse_benchmark_model
from edgebench.targets.devices import device_options

CONTRACT_PATH = Path(__file__).with_name("android_app_contract.json")
BASE_DIR = "/data/local/tmp/edgebench"
RUNNERS = ("benchmark_model", "app")
BENCHMARK_MODEL_DOCS = "https://ai.google.dev/edge/litert/models/measurement"
_GONE = ("not found", "offline", "no devices", "device unauthorized", "error: closed", "protocol fault",
         "connection reset", "failed to connect", "device still connecting", "cannot connect")


def load_contract() -> dict[str, Any]:
    """The app's intent contract (written with the android_app issue)."""
    try:
        return json.loads(CONTRACT_PATH.read_text())
    except (OSError, ValueError) as exc:
        raise TargetError(f"android app contract {CONTRACT_PATH} unreadable: {exc}", stage="config") from None


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
        raise TargetError(f"adb devices failed: {_remote.tail(proc.stderr)}", stage="config")
    out = []
    for line in proc.stdout.splitlines():
        if not line.strip() or line.startswith(("List of devices", "*")):
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        entry = {"serial": parts[0], "state": parts[1]}
        for field in parts[2:]:
            key, sep, value = field.partition(":")
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
    A device that went away is retried once with back-off, then a TargetError."""

    def __init__(self, serial: str, *, retries: int = 1, backoff_s: float = 2.0):
        self.serial, self.retries, self.backoff_s = serial, retries, backoff_s

    def _gone(self, text: str) -> bool:
        low = text.lower()
        return any(marker in low for marker in _GONE)

    def _adb(self, args: list[str], *, timeout: float | None, stage: str) -> subprocess.CompletedProcess:
        cmd = ["adb", "-s", self.serial, *args]

        def once() -> subprocess.CompletedProcess:
            try:
                proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                raise RunnerTimeout(f"adb {args[0]} on {self.serial} timed out after {timeout:.0f} s",
                                    detail=_remote.tail(exc.stderr) or None,
                                    hint="raise the timeout (--timeout) or check the device") from None
            err = proc.stderr.decode(errors="replace")
            if proc.returncode != 0 and self._gone(err) and not self.online():
                raise TargetError(f"device {self.serial} is not connected: {_remote.tail(err)}", stage=stage,
                                  hint="check the cable / adb connect, and `adb devices -l`")
            return proc

        return _remote.with_retry(once, transient=lambda e: isinstance(e, TargetError), retries=self.retries,
                                  backoff_s=self.backoff_s)

    def online(self) -> bool:
        """True when adb reports this device in state ``device``."""
        try:
            proc = subprocess.run(["adb", "-s", self.serial, "get-state"], capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0 and proc.stdout.strip() == "device"

    @staticmethod
    def command_line(argv: Sequence[str]) -> str:
        """The one string handed to the device's shell."""
        return " ".join(shlex.quote(str(a)) for a in argv)

    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = False,
            stage: str = "run") -> subprocess.CompletedProcess:
        """Run ``argv`` on the device (exit code via shell protocol v2); stdout/stderr as text."""
        proc = self._adb(["shell", self.command_line(argv)], timeout=timeout, stage=stage)
        return _remote.as_text(proc, argv, check=check, where=self.serial, stage=stage)

    def _copy(self, verb: str, src: str, dst: str, stage: str, timeout: float) -> None:
        proc = self._adb([verb, src, dst], timeout=timeout, stage=stage)
        if proc.returncode != 0:
            text = (proc.stderr + proc.stdout).decode(errors="replace")
            if _remote.disk_full(text):
                raise TargetError(f"device storage full on {self.serial}: {_remote.tail(text)}", stage=stage,
                                  hint="free space on the device (adb shell df /data)")
            raise TargetError(f"adb {verb} {src} {dst} failed: {_remote.tail(text)}", stage=stage)

    def push(self, local: Path, remote: str, *, stage: str = "deploy", timeout: float = 600) -> None:
        """Copy a local file to the device (remote paths are ours: plain characters only)."""
        if not re.match(r"^[A-Za-z0-9._/-]+$", remote):
            raise TargetError(f"unsafe device path {remote!r}", stage=stage)
        self._copy("push", str(local), remote, stage, timeout)

    def pull(self, remote: str, local: Path, *, stage: str = "run", timeout: float = 600) -> None:
        """Copy a device file to the local machine."""
        self._copy("pull", remote, str(local), stage, timeout)


@register("adb")
class AdbTarget(Target):
    """An Android phone measured with LiteRT's benchmark_model or the edgebench app."""

    name = "adb"
    formats = ("tflite",)

    def __init__(self, uri: str, **options: Any):
        real_uri, file_opts = device_options(uri, options.get("devices_file"))
        super().__init__(real_uri, **_remote.merge_options(file_opts, options))
        self.alias = real_uri.partition(":")[2]
        if not self.alias or self.alias.startswith("-"):
            raise ConfigError(f"bad adb target {uri!r}", hint="adb:SERIAL or adb:ALIAS")
        self.runner = str(self.options.get("runner") or "benchmark_model")
        if self.runner not in RUNNERS:
            raise ConfigError(f"unknown adb runner {self.runner!r}", hint=f"one of {', '.join(RUNNERS)}")
        self._transport: AdbTransport | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if shutil.which("adb") is None:
            return "adb not found: apt-get install adb (or the Android platform-tools)"
        return None

    @property
    def transport(self) -> AdbTransport:
        """The transport to the resolved serial (resolved on first use: ``adb devices -l``)."""
        if self._transport is None:
            if self.unavailable_reason():
                raise TargetError(self.unavailable_reason(), stage="deploy")
            self._transport = AdbTransport(resolve_serial(self.alias), retries=int(self.options.get("retries", 1)),
                                           backoff_s=float(self.options.get("backoff_s", 2.0)))
        return self._transport

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
        if self.runner == "benchmark_model":
            binary = self.options.get("benchmark_binary")
            ok = bool(binary) and Path(str(binary)).expanduser().is_file()
            rows.append(("benchmark_model", ok, str(binary) if ok else
                         f"pass --benchmark-binary PATH (android_aarch64_benchmark_model from {BENCHMARK_MODEL_DOCS})"))
        else:
            contract = load_contract()
            installed = self._app_installed(contract)
            rows.append((contract["package"], installed, "installed" if installed else
                         "not installed: build android_app and pass apk = PATH (installed on first run)"))
        return rows

    # -- deploy ----------------------------------------------------------------------------------
    def _app_installed(self, contract: dict[str, Any]) -> bool:
        proc = self.transport.run(["pm", "path", contract["package"]], timeout=60, stage="deploy")
        return proc.returncode == 0 and "package:" in proc.stdout

    def deploy(self, artifact: Path, fmt: str) -> Deployed:
        artifact = _remote.check_artifact(self, artifact, fmt)
        binary = None
        if self.runner == "benchmark_model":
            binary = self.options.get("benchmark_binary")
            if not binary or not Path(str(binary)).expanduser().is_file():
                raise TargetError(f"no benchmark_model binary{f' at {binary}' if binary else ''}", stage="deploy",
                                  hint=f"download android_aarch64_benchmark_model ({BENCHMARK_MODEL_DOCS}) and pass "
                                       "--benchmark-binary PATH, or use runner = \"app\"")
        run_id = _remote.new_run_id()
        remote_dir = f"{BASE_DIR}/{run_id}"
        t = self.transport
        t.run(["mkdir", "-p", remote_dir], timeout=60, check=True, stage="deploy")
        deployed = Deployed(target=self.uri, artifact=artifact, format=fmt, remote_dir=remote_dir,
                            model_path=f"{remote_dir}/{_remote.model_file_name(artifact)}",
                            extra={"run_id": run_id, "runner": self.runner, "serial": t.serial})
        try:
            t.push(artifact, deployed.model_path)
            if binary:
                deployed.extra["binary"] = f"{remote_dir}/benchmark_model"
                t.push(Path(str(binary)).expanduser(), deployed.extra["binary"])
                t.run(["chmod", "755", deployed.extra["binary"]], timeout=60, check=True, stage="deploy")
            else:
                self._deploy_app(deployed)
        except EdgebenchError:
            self.cleanup(deployed)
            raise
        return deployed

    def _deploy_app(self, deployed: Deployed) -> None:
        contract = load_contract()
        t = self.transport
        if not self._app_installed(contract):
            apk = self.options.get("apk")
            if not apk or not Path(str(apk)).expanduser().is_file():
                raise TargetError(f"{contract['package']} is not installed on {t.serial}", stage="deploy",
                                  hint="build android_app (./gradlew assembleDebug) and pass apk = PATH")
            remote_apk = f"{deployed.remote_dir}/app.apk"
            t.push(Path(str(apk)).expanduser(), remote_apk)
            proc = t.run(["pm", "install", "-r", "-t", remote_apk], timeout=300, stage="deploy")
            if proc.returncode != 0 or "Success" not in proc.stdout:
                raise TargetError(f"installing {apk} failed: {_remote.tail(proc.stdout + proc.stderr)}", stage="deploy")
        modes = contract.get("model_push_modes", {})
        # the app runs under its own uid: it must be able to enter the directories and read the model
        t.run(["chmod", modes.get("dir", "755"), BASE_DIR, deployed.remote_dir], timeout=60, check=True, stage="deploy")
        t.run(["chmod", modes.get("file", "644"), deployed.model_path], timeout=60, check=True, stage="deploy")

    # -- measure ---------------------------------------------------------------------------------
    def measure(self, deployed: Deployed, bench: BenchSpec, *, inputs_npy: Path | None = None,
                outputs_npy: Path | None = None) -> dict[str, Any]:
        cool = device_state.gate(self.options, self.transport, android=True)
        before = device_state.collect_or_none(self.transport, android=True)
        if deployed.extra.get("runner") == "app":
            raw = self._measure_app(deployed, bench)
        else:
            raw = self._measure_benchmark_model(deployed, bench)
        raw["device_state"] = {"before": before, "after": device_state.collect_or_none(self.transport, android=True)}
        if cool is not None:
            raw["device_state"]["cooldown"] = cool
        # neither Android runner feeds given inputs: no outputs_npy is written (accuracy needs local/ssh)
        return raw

    def _measure_benchmark_model(self, deployed: Deployed, bench: BenchSpec) -> dict[str, Any]:
        argv = [deployed.extra["binary"], f"--graph={deployed.model_path}",
                f"--num_threads={bench.threads or -1}", f"--warmup_runs={bench.warmup_runs}",
                f"--warmup_min_secs={bench.warmup_seconds}", f"--num_runs={bench.runs}",
                f"--min_secs={bench.min_seconds}", f"--max_secs={bench.max_seconds}",
                "--report_peak_memory_footprint=true", *map(str, self.options.get("benchmark_args") or ())]
        try:
            proc = self.transport.run(argv, timeout=bench.timeout_seconds, stage="run")
        except TargetError as err:  # the device went away under a running measurement
            raise RunnerFailed(err.message, hint=err.hint, stage="run") from None
        text = proc.stdout + "\n" + proc.stderr
        try:
            raw = parse_benchmark_model(text, model_path=deployed.model_path, fmt=deployed.format)
        except RunError:
            # a stream cut short by a vanished device looks like a tool failure: ask adb which it was
            if not self.transport.online():
                raise RunnerFailed(f"device {self.transport.serial} disconnected during the run "
                                   f"(exit {proc.returncode})", detail=_remote.tail(text), stage="run",
                                   hint="check the cable / adb connect; the cell can be re-run") from None
            raise
        if bench.threads:
            raw["threads"] = bench.threads
        return raw

    def _measure_app(self, deployed: Deployed, bench: BenchSpec) -> dict[str, Any]:
        contract = load_contract()
        pkg, t = contract["package"], self.transport
        out = f"edgebench_{deployed.extra['run_id']}.json"
        values = {"model": deployed.model_path, "warmup": bench.warmup_runs, "runs": bench.runs,
                  "min_seconds": bench.min_seconds, "max_seconds": bench.max_seconds,
                  "threads": bench.threads, "delegate": self.options.get("delegate"), "out": out}
        argv = [a.replace("{component}", contract["component"]) for a in contract["start_command"]]
        for name, spec in contract["extras"].items():
            if values.get(name) is not None:
                argv += [spec["am_flag"], name, str(values[name])]
        read = [a.replace("{package}", pkg).replace("{out}", out) for a in contract["results"]["read_command"]]
        remove = [a.replace("{package}", pkg).replace("{out}", out) for a in contract["results"]["remove_command"]]
        t.run(remove, timeout=60, stage="run")
        proc = t.run(argv, timeout=120, stage="run")
        said = proc.stdout + proc.stderr
        if proc.returncode != 0 or "Error" in said:
            raise RunError(f"am start {contract['component']} failed: {_remote.tail(said)}",
                           hint="is the app installed and debuggable? (adb shell pm path " + pkg + ")")
        # am start -W returns once the activity is drawn; the benchmark finishes later
        deadline = time.monotonic() + bench.timeout_seconds
        delay = 0.2
        while True:
            got = t.run(read, timeout=60, stage="run")
            if got.returncode == 0 and got.stdout.strip():
                try:
                    raw = json.loads(got.stdout)
                    break
                except ValueError:
                    pass  # caught between the app's write and rename: read again
            if time.monotonic() > deadline:
                raise RunnerTimeout(f"the app wrote no result in {bench.timeout_seconds:.0f} s "
                                    f"({_remote.tail(got.stderr) or 'files/' + out + ' missing'})",
                                    hint="adb logcat; a crash leaves no result file")
            time.sleep(delay)
            delay = min(2.0, delay * 1.5)
        t.run(remove, timeout=60, stage="run")
        return raw

    def cleanup(self, deployed: Deployed) -> None:
        _remote.remove_run_dir(self.transport, deployed.remote_dir, self.uri, base=BASE_DIR + "/")
