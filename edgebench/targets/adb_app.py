"""The ``app`` Android runner: the benchmark mode of ``android_app``.

The intent contract is ``android_app_contract.json``: install the APK (option ``apk``) if the app
is missing, make the pushed model readable by the app's uid, ``am start -W -S -n …`` with the
contract's extras (model, warm-up runs and seconds, runs, min / max seconds, threads, delegate,
out), then poll the results JSON with ``run-as`` until it appears or ``bench.timeout_seconds``.
``app_timeout_s`` bounds the launch itself (``am start -W`` returns once the activity is drawn).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from edgebench.errors import RunError, TargetError
from edgebench.spec import BenchSpec
from edgebench.targets.adb_runner import BASE_DIR, AndroidRunner, expand, register
from edgebench.targets.base import Deployed
from edgebench.targets.transport import RunnerTimeout, tail

CONTRACT_PATH = Path(__file__).with_name("android_app_contract.json")


def load_contract() -> dict[str, Any]:
    """The app's intent contract (package, component, extras, how results are read back)."""
    try:
        return json.loads(CONTRACT_PATH.read_text())
    except (OSError, ValueError) as exc:
        raise TargetError(f"android app contract {CONTRACT_PATH} unreadable: {exc}", stage="config") from None


def _contract_delegates() -> tuple[str, ...]:
    try:
        return tuple(json.loads(CONTRACT_PATH.read_text())["extras"]["delegate"]["choices"])
    except (OSError, ValueError, KeyError):
        return ()


@register("app")
class AppRunner(AndroidRunner):
    """The edgebench Android app's benchmark mode, driven by intent extras."""

    delegates = _contract_delegates()

    def __init__(self, transport, options):
        super().__init__(transport, options)
        self.contract = load_contract()

    def installed(self) -> bool:
        """True when the app's package is on the device."""
        proc = self.transport.run(["pm", "path", self.contract["package"]], timeout=60, stage="deploy")
        return proc.returncode == 0 and "package:" in proc.stdout

    def doctor(self) -> list[tuple[str, bool, str]]:
        ok = self.installed()
        return [(self.contract["package"], ok, "installed" if ok else
                 "not installed: build android_app and pass apk = PATH (installed on first run)")]

    def deploy(self, deployed: Deployed) -> None:
        t, pkg = self.transport, self.contract["package"]
        if not self.installed():
            apk = expand(self.options.apk)
            if apk is None or not apk.is_file():
                raise TargetError(f"{pkg} is not installed on {t.where}", stage="deploy",
                                  hint="build android_app (./gradlew assembleDebug) and pass apk = PATH")
            remote_apk = f"{deployed.remote_dir}/app.apk"
            t.push(apk, remote_apk)
            proc = t.run(["pm", "install", "-r", "-t", remote_apk], timeout=300, stage="deploy")
            if proc.returncode != 0 or "Success" not in proc.stdout:
                raise TargetError(f"installing {apk} failed: {tail(proc.stdout + proc.stderr)}", stage="deploy")
        modes = self.contract.get("model_push_modes", {})
        # the app runs under its own uid: it must be able to enter the directories and read the model
        t.run(["chmod", modes.get("dir", "755"), BASE_DIR, deployed.remote_dir], timeout=60, check=True,
              stage="deploy")
        t.run(["chmod", modes.get("file", "644"), deployed.model_path], timeout=60, check=True, stage="deploy")

    def delegate(self, bench: BenchSpec) -> str | None:
        """The run's delegate (the bench's, else the target option's); RunError listing the app's
        delegates for any other name."""
        name = bench.delegate or self.options.delegate
        if name is not None and self.delegates and name not in self.delegates:
            raise RunError(f"unknown delegate {name!r} for the Android app",
                           hint=f"available: {', '.join(self.delegates)}")
        return name

    def start_argv(self, deployed: Deployed, bench: BenchSpec, out: str) -> list[str]:
        """``am start …`` with one extra per contract entry that has a value for this run."""
        values = {"model": deployed.model_path, "warmup": bench.warmup_runs, "warmup_seconds": bench.warmup_seconds,
                  "runs": bench.runs, "min_seconds": bench.min_seconds, "max_seconds": bench.max_seconds,
                  "threads": bench.threads, "delegate": self.delegate(bench), "out": out}
        argv = [a.replace("{component}", self.contract["component"]) for a in self.contract["start_command"]]
        for name, spec in self.contract["extras"].items():
            if values.get(name) is not None:
                argv += [spec["am_flag"], name, str(values[name])]
        return argv

    def measure(self, deployed: Deployed, bench: BenchSpec) -> dict[str, Any]:
        c, t = self.contract, self.transport
        pkg = c["package"]
        out = f"edgebench_{Path(deployed.remote_dir).name.rsplit('-', 1)[-1]}.json"
        read = [a.replace("{package}", pkg).replace("{out}", out) for a in c["results"]["read_command"]]
        remove = [a.replace("{package}", pkg).replace("{out}", out) for a in c["results"]["remove_command"]]
        t.run(remove, timeout=60, stage="run")
        proc = t.run(self.start_argv(deployed, bench, out), timeout=self.options.app_timeout_s, stage="run")
        said = proc.stdout + proc.stderr
        if proc.returncode != 0 or "Error" in said:
            raise RunError(f"am start {c['component']} failed: {tail(said)}",
                           hint=f"is the app installed and debuggable? (adb shell pm path {pkg})")
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
                                    f"({tail(got.stderr) or 'files/' + out + ' missing'})",
                                    hint="adb logcat; a crash leaves no result file")
            time.sleep(delay)
            delay = min(2.0, delay * 1.5)
        t.run(remove, timeout=60, stage="run")
        if deployed.label and not raw.get("format"):
            raw["format"] = deployed.label
        if bench.profile_ops and not raw.get("op_profile"):
            raw["op_profile_error"] = "the app's benchmark mode has no per-operator profiling (use runner benchmark_model)"
        return raw
