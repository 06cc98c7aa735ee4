"""How an Android device measures a model: one strategy per module, registered by name.

The adb target (:mod:`edgebench.targets.adb`) picks one with its ``runner`` option:
``benchmark_model`` (:mod:`edgebench.targets.adb_benchmark_model`, LiteRT's native benchmark tool)
or ``app`` (:mod:`edgebench.targets.adb_app`, the benchmark mode of ``android_app``). A strategy
gets the target's transport and options, never a format name.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any

from edgebench.registry import Registry
from edgebench.spec import BenchSpec
from edgebench.targets.base import Deployed
from edgebench.targets.transport import Transport

BASE_DIR = "/data/local/tmp/edgebench"
runners: Registry[type["AndroidRunner"]] = Registry("adb runner")


class AndroidRunner(abc.ABC):
    """One way of measuring a model on an Android device over ``transport``. ``options`` are the
    adb target's Options (``benchmark_binary``, ``apk``, ``delegate``, ``app_timeout_s`` …)."""

    name: str = ""
    delegates: tuple[str, ...] = ()  # values the target's ``delegate`` option may take with this runner

    def __init__(self, transport: Transport, options: Any):
        self.transport = transport
        self.options = options

    def doctor(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) rows: is what this runner needs there?"""
        return []

    def check(self) -> None:
        """Raise TargetError (stage ``deploy``) when something this runner needs on this machine is
        missing, before anything is copied to the device."""

    @abc.abstractmethod
    def deploy(self, deployed: Deployed) -> None:
        """Prepare the device after the model was pushed to ``deployed.model_path``."""

    @abc.abstractmethod
    def measure(self, deployed: Deployed, bench: BenchSpec) -> dict[str, Any]:
        """Measure once and return RawSamples (device state is added by the target)."""


def register(name: str):
    """Class decorator: register an AndroidRunner under ``name``."""
    return runners.register(name)


def expand(path: str | None) -> Path | None:
    """A user-given local path with ``~`` expanded, or None."""
    return Path(path).expanduser() if path else None
