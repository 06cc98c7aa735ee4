"""The Target protocol: where an artifact runs. Concrete targets register themselves by URI scheme.

A target URI is ``local``, ``ssh:user@host[:port]``, ``adb:SERIAL`` / ``adb:ALIAS`` or a devices-file
alias. Every target's ``measure`` returns the same RawSamples dict
(``edgebench/harness/raw_samples.schema.json``).
"""

from __future__ import annotations

import abc
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from edgebench.registry import Registry
from edgebench.spec import BenchSpec

registry: Registry[type["Target"]] = Registry("target")


@dataclass(frozen=True)
class DeviceInfo:
    """What a target says about itself."""

    name: str
    kind: str  # local | ssh | adb
    arch: str | None = None
    cpu: str | None = None
    cores: int | None = None
    os: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployed:
    """An artifact placed on a target, ready to measure."""

    target: str
    artifact: Path  # the local artifact file
    format: str
    remote_dir: str  # per-run directory on the device (removed by cleanup)
    model_path: str  # where the model lives on the device
    extra: dict[str, Any] = field(default_factory=dict)


class Transport(abc.ABC):
    """Moves bytes and runs argv lists on a device. Never takes a shell string built from input."""

    @abc.abstractmethod
    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
        """Run ``argv`` on the device; stdout/stderr as text."""

    @abc.abstractmethod
    def push(self, local: Path, remote: str) -> None:
        """Copy a local file to the device."""

    @abc.abstractmethod
    def pull(self, remote: str, local: Path) -> None:
        """Copy a device file to the local machine."""


class Target(abc.ABC):
    """A place artifacts run: capabilities are data (``formats``), checked before any run."""

    name: str = ""
    formats: tuple[str, ...] = ()

    def __init__(self, uri: str, **options: Any):
        self.uri = uri
        self.options = options

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this kind of target cannot be used on this machine (missing client), or None."""
        return None

    def supports(self, fmt: str) -> str | None:
        """None if ``fmt`` runs here, else the reason (becomes an UNSUPPORTED row)."""
        if fmt not in self.formats:
            return f"target {self.uri} runs {', '.join(self.formats) or 'no formats'}, not {fmt}"
        return None

    @abc.abstractmethod
    def describe(self) -> DeviceInfo:
        """Device model, CPU, cores, OS."""

    @abc.abstractmethod
    def deploy(self, artifact: Path, fmt: str) -> Deployed:
        """Put the artifact (and whatever runs it) on the device."""

    @abc.abstractmethod
    def measure(self, deployed: Deployed, bench: BenchSpec, *, inputs_npy: Path | None = None,
                outputs_npy: Path | None = None) -> dict[str, Any]:
        """Measure and return RawSamples. With ``inputs_npy`` the runner also writes the outputs
        for those inputs to ``outputs_npy`` (local path) for accuracy."""

    def cleanup(self, deployed: Deployed) -> None:
        """Remove the per-run directory from the device."""


def register(scheme: str):
    """Class decorator: register a Target for a URI scheme (``local``, ``ssh``, ``adb``)."""
    return registry.register(scheme)
