"""The Target protocol: where an artifact runs. Concrete targets register themselves by URI scheme.

A target URI is ``local``, ``ssh:user@host[:port]``, ``adb:SERIAL`` / ``adb:ALIAS`` or a devices-file
alias. Targets deal in RUNTIME names (the runner's ``onnxruntime``, ``litert``, ``torch`` …), never
in artifact formats: the harness maps a format to its runtime and asks ``supports(runtime)`` before
deploying. Each target class declares its options as a frozen dataclass ``Options``; the devices
file and the CLI are validated against it (:func:`parse_options`). Every target's ``measure``
returns the same RawSamples dict.
"""

from __future__ import annotations

import abc
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from edgebench.errors import ConfigError, TargetError, UnsupportedError
from edgebench.registry import Registry
from edgebench.spec import BenchSpec

registry: Registry[type["Target"]] = Registry("target")


@dataclass(frozen=True)
class DeviceInfo:
    """What a target says about itself."""

    name: str
    kind: str  # the target's scheme: local | ssh | adb
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
    runtime: str  # the runner runtime that runs it
    remote_dir: str  # per-run directory on the device (removed by cleanup)
    model_path: str  # where the model lives on the device
    label: str | None = None  # opaque format label echoed into RawSamples
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Found:
    """A device a target class discovered (``edgebench devices``)."""

    name: str
    uri: str
    source: str
    reachable: bool | None
    detail: str = ""


@dataclass(frozen=True)
class NoOptions:
    """A target without options."""


# -- options ------------------------------------------------------------------------------------------

def _accepts(value: Any, hint: Any) -> tuple[bool, Any]:
    """(ok, converted value) for ``value`` against a field type: str (a Path is taken as its text),
    bool, int, float (an int is taken), ``X | None``, ``tuple[str, ...]`` (a list is taken)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return True, None
        for arg in args:
            if arg is not type(None):
                ok, out = _accepts(value, arg)
                if ok:
                    return True, out
        return False, value
    if origin is tuple:
        if isinstance(value, (list, tuple)) and all(isinstance(v, (str, Path)) for v in value):
            return True, tuple(str(v) for v in value)
        return False, value
    if hint is bool:
        return isinstance(value, bool), value
    if isinstance(value, bool):
        return False, value
    if hint is float:
        return isinstance(value, (int, float)), float(value) if isinstance(value, (int, float)) else value
    if hint is int:
        return isinstance(value, int), value
    if hint is str:
        return isinstance(value, (str, Path)), str(value) if isinstance(value, (str, Path)) else value
    return isinstance(value, hint), value


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint) if a is not type(None))
    if origin is tuple:
        return "a list of strings"
    return getattr(hint, "__name__", str(hint))


def parse_options(options_cls: type, values: Mapping[str, Any], *, where: str, kind: str) -> Any:
    """An ``options_cls`` instance from ``values``; ConfigError (one line) naming the first unknown
    or badly typed key as ``{where}{key}`` and listing the options ``kind`` targets take."""
    hints = typing.get_type_hints(options_cls)
    known = [f.name for f in dataclasses.fields(options_cls)]
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}{key} is not an option of {kind} targets",
                              hint=f"{kind} options: {', '.join(known) or 'none'}")
        ok, converted = _accepts(value, hints[key])
        if not ok:
            raise ConfigError(f"{where}{key} must be {_type_name(hints[key])}, not {type(value).__name__}")
        out[key] = converted
    try:
        return options_cls(**out)
    except ValueError as exc:  # an Options __post_init__ names the key itself
        raise ConfigError(f"{where}{exc}") from None


# -- the target ---------------------------------------------------------------------------------------

class Target(abc.ABC):
    """A place artifacts run. Capabilities are data: ``runtimes`` it can run, ``Options`` it takes;
    ``supports(runtime)`` is checked before anything is deployed."""

    name: str = ""
    Options: type = NoOptions

    def __init__(self, uri: str, options: Any = None):
        self.uri = uri
        self.options = options if options is not None else self.Options()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this kind of target cannot be used on this machine (missing client), or None."""
        return None

    @classmethod
    def discover(cls) -> list[Found]:
        """Devices of this kind that can be found without configuration (``edgebench devices``)."""
        return []

    @property
    @abc.abstractmethod
    def runtimes(self) -> tuple[str, ...]:
        """Runner runtime names this target can run now (may ask the device, once)."""

    def supports(self, runtime: str) -> str | None:
        """None when ``runtime`` runs here, else ``target URI cannot run RUNTIME: why`` (becomes an
        UNSUPPORTED row). May ask the device (TargetError when it does not answer)."""
        if runtime not in self.runtimes:
            return f"target {self.uri} cannot run {runtime}: {self.why_not(runtime)}"
        return None

    def why_not(self, runtime: str) -> str:
        """Why ``runtime`` is not among :attr:`runtimes` (the part after the colon)."""
        return f"it runs {', '.join(self.runtimes) or 'nothing here'}"

    def delegate_name(self, runtime: str, name: str | None) -> str | None:
        """The name a row records for ``--delegate name`` of ``runtime`` here: its canonical
        spelling (lower case here; a runner target also resolves the runtime's aliases), and None for
        no flag and for the runtime's default named explicitly (one measurement, one identity)."""
        return name.strip().lower() if name else None

    def delegates(self, runtime: str) -> tuple[str, ...] | None:
        """The delegate names ``runtime`` takes here, its default first, when the target can tell
        without asking a device (the CLI refuses any other name before measuring); None when it
        cannot (the runner on the device checks the name)."""
        return None

    def check_artifact(self, artifact: Path, runtime: str) -> Path:
        """The artifact path, after checking ``supports(runtime)`` (UnsupportedError) and that the
        file exists (TargetError)."""
        reason = self.supports(runtime)
        if reason:
            raise UnsupportedError(reason)
        artifact = Path(artifact)
        if not artifact.exists():
            raise TargetError(f"artifact {artifact} does not exist", stage="deploy")
        return artifact

    def reachable(self) -> tuple[bool, str]:
        """(answers now, what it said) for ``edgebench devices``; never raises."""
        return True, ""

    @abc.abstractmethod
    def describe(self) -> DeviceInfo:
        """Device model, CPU, cores, OS."""

    def doctor(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) rows for ``edgebench doctor --target``."""
        reason = self.unavailable_reason()
        return [(self.name, reason is None, reason or "available")]

    @abc.abstractmethod
    def deploy(self, artifact: Path, runtime: str, *, label: str | None = None) -> Deployed:
        """Put the artifact (and whatever runs it) on the device. UnsupportedError when the target
        cannot run ``runtime``; TargetError when the device refuses. ``label``: the artifact's
        format name, echoed into RawSamples."""

    @abc.abstractmethod
    def measure(self, deployed: Deployed, bench: BenchSpec, *, inputs_npy: Path | None = None,
                outputs_npy: Path | None = None) -> dict[str, Any]:
        """Measure and return RawSamples. With ``inputs_npy`` the runner also writes the outputs
        for those inputs to ``outputs_npy`` (local path) for accuracy."""

    def measure_paired(self, deployed: list[Deployed], bench: BenchSpec, *, timer: str = "cpu") -> dict[str, Any]:
        """Time ``deployed`` interleaved in rounds in one process on the device (``bench.paired_rounds``
        rounds; see :mod:`edgebench.runner.paired`) and return its PairedResult dict, the entries
        named ``"0"``, ``"1"`` … in ``deployed`` order. UnsupportedError here: only targets that
        run edgebench's own runner can (:class:`edgebench.targets.runner_target.RunnerTarget`)."""
        raise UnsupportedError(f"target {self.uri} cannot time artifacts interleaved (paired): it does not run "
                               "edgebench's runner")

    def cleanup(self, deployed: Deployed) -> None:
        """Remove the per-run directory from the device."""


def register(scheme: str):
    """Class decorator: register a Target for a URI scheme (``local``, ``ssh``, ``adb``)."""
    return registry.register(scheme)
