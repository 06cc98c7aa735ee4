"""The ``local`` target: runs ``python -m edgebench.runner`` in a fresh subprocess per artifact.

A fresh process per measurement keeps the harness's own memory, threads and imported libraries out
of the figures. The artifact is read where it lies (nothing is copied); a per-run directory in the
system temp dir holds the runner's JSON. It runs every runner runtime that is importable here.

Options: ``python`` (interpreter that runs the runner, default this one), ``workdir`` (default the
system temp dir) and the cool-down gate's ``cooldown_temp_c`` / ``cooldown_timeout_s`` / ``cooldown_poll_s``.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import edgebench
from edgebench.errors import ConfigError
from edgebench.runner import RUNTIMES
from edgebench.runner.probes import cpu_model, host_info
from edgebench.targets.base import DeviceInfo, Found, register
from edgebench.targets.device_state import CooldownOptions
from edgebench.targets.runner_target import RunnerTarget
from edgebench.targets.transport import LocalTransport


def child_env() -> dict[str, str]:
    """The environment with this edgebench's root appended to PYTHONPATH: ``-m edgebench.runner``
    runs the same runner as the harness even under another interpreter or a replaced PYTHONPATH."""
    root = str(Path(edgebench.__file__).resolve().parents[1])
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths + ([root] if root not in paths else []))}


@register("local")
class LocalTarget(RunnerTarget):
    """This machine, measured through a fresh runner subprocess per artifact."""

    @dataclass(frozen=True)
    class Options(CooldownOptions):
        """``python``: interpreter running the runner (default: this one); ``workdir``: where
        per-run directories go (default: the system temp dir)."""

        python: str | None = None
        workdir: str | None = None

    def __init__(self, uri: str = "local", options: "LocalTarget.Options | None" = None):
        if uri != "local":
            raise ConfigError(f"bad local target {uri!r}", hint="the local target is just `local`")
        super().__init__(uri, options)
        self.python = self.options.python or sys.executable
        self.workdir = self.options.workdir or tempfile.gettempdir()
        self.transport = LocalTransport(env=child_env())

    @classmethod
    def discover(cls) -> list[Found]:
        """This machine, with the runtimes it can run."""
        runtimes = [name for name, rt in RUNTIMES.items() if rt.unavailable_reason() is None]
        return [Found(platform.node() or "local", "local", "this machine", True,
                      f"{platform.machine()} {platform.system()}; runs {', '.join(runtimes) or 'nothing yet'}")]

    @property
    def runtimes(self) -> tuple[str, ...]:
        """Every runner runtime importable here (and meant for this platform)."""
        return tuple(name for name, rt in RUNTIMES.items() if rt.unavailable_reason() is None)

    def delegates(self, runtime: str) -> tuple[str, ...] | None:
        """What the runtime offers on this machine (:meth:`Runtime.available_delegates`), for a
        runtime whose offer does not depend on the model file (``default_delegate`` set); else None."""
        cls = RUNTIMES.get(runtime)
        if cls is None or cls.default_delegate is None or cls.unavailable_reason() is not None:
            return None
        try:
            return tuple(cls("", None, None).available_delegates())  # imports the library, reads no file
        except Exception:  # noqa: BLE001 - cannot tell here: the runner checks the name
            return None

    def why_not(self, runtime: str) -> str:
        if runtime in RUNTIMES:
            return RUNTIMES[runtime].unavailable_reason() or "unavailable"
        return super().why_not(runtime)

    def free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(self.workdir).free
        except OSError:
            return None

    def runner_entry(self, deployed_dir: str) -> Sequence[str]:
        return ["-m", "edgebench.runner"]

    def describe(self) -> DeviceInfo:
        """This machine's CPU, cores, arch and OS."""
        return DeviceInfo(name=platform.node() or "local", kind="local", arch=platform.machine(),
                          cpu=cpu_model(), cores=os.cpu_count(), os=platform.platform(), details=host_info())

    def doctor(self) -> list[tuple[str, bool, str]]:
        """One row per runner runtime: available here, or why not."""
        return [(f"runtime {name}", rt.unavailable_reason() is None, rt.unavailable_reason() or "available")
                for name, rt in RUNTIMES.items()]
