"""Frozen specs: what the CLI (or a sweep file) asks for, handed to the library as one object."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from edgebench.errors import ConfigError

PRECISIONS = ("fp32", "fp16", "int8")
INT8_MODES = ("static", "dynamic")
TRANSFORMS = ("none", "prune", "prune_structured", "binarize")


def _to_dict(obj: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None and f.metadata.get("omit_if_none"):
            continue  # a field added later: absent when unset, so earlier cells keep their hashes
        if isinstance(value, Path):
            value = str(value)
        elif dataclasses.is_dataclass(value):
            value = _to_dict(value)
        elif isinstance(value, tuple):
            value = [_to_dict(v) if dataclasses.is_dataclass(v) else v for v in value]
        elif isinstance(value, Mapping):
            value = {str(k): _to_dict(v) if dataclasses.is_dataclass(v) else v for k, v in sorted(value.items())}
        out[f.name] = value
    return out


def spec_hash(*parts: Any) -> str:
    """A stable short hash of specs (dataclasses or dicts): the identity of a sweep cell."""
    payload = [(_to_dict(p) if dataclasses.is_dataclass(p) else p) for p in parts]
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from: a zoo name, or a checkpoint (+ ``arch`` for a state_dict)."""

    name: str | None = "mobilenet_v3_small"
    checkpoint: Path | None = None
    arch: str | None = None
    num_classes: int | None = None
    trust_checkpoint: bool = False
    input_shape: tuple[int, ...] | None = None

    @property
    def label(self) -> str:
        """Short human name: the zoo name, or the checkpoint file's stem."""
        if self.checkpoint is not None:
            return Path(self.checkpoint).stem
        return self.name or "model"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSpec":
        d = dict(d)
        if d.get("checkpoint"):
            d["checkpoint"] = Path(d["checkpoint"])
        if d.get("input_shape"):
            d["input_shape"] = tuple(d["input_shape"])
        return cls(**d)


@dataclass(frozen=True)
class Variant:
    """One cell of the variant axis: a torch-level transform and a precision.

    ``transform`` is ``none``, ``prune`` (L1 unstructured), ``prune_structured`` (whole channels)
    or ``binarize``; ``amount`` is the pruning fraction. ``precision`` is fp32 / fp16 / int8 and
    ``int8_mode`` static (calibrated) or dynamic (weights only).
    """

    precision: str = "fp32"
    int8_mode: str = "static"
    transform: str = "none"
    amount: float = 0.0
    binarize_activations: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}", hint=f"one of {', '.join(PRECISIONS)}")
        if self.int8_mode not in INT8_MODES:
            raise ConfigError(f"unknown int8 mode {self.int8_mode!r}", hint="static or dynamic")
        if self.transform not in TRANSFORMS:
            raise ConfigError(f"unknown transform {self.transform!r}", hint=f"one of {', '.join(TRANSFORMS)}")
        if self.transform.startswith("prune") and not 0.0 < self.amount < 1.0:
            raise ConfigError(f"prune amount {self.amount} is outside (0, 1)", hint="e.g. --prune 0.5")

    @property
    def label(self) -> str:
        """e.g. ``fp32``, ``int8-dynamic``, ``pruned50-fp32``, ``pruned50s-int8``, ``binarized-fp32``."""
        prec = self.precision
        if prec == "int8":
            prec = "int8" if self.int8_mode == "static" else "int8-dynamic"
        if self.transform == "none":
            return prec
        if self.transform == "binarize":
            head = "binarized-act" if self.binarize_activations else "binarized"
        else:
            head = f"pruned{round(self.amount * 100)}" + ("s" if self.transform == "prune_structured" else "")
        return f"{head}-{prec}"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_label(cls, label: str) -> "Variant":
        """Parse a label produced by :attr:`label` (used by sweep files)."""
        parts = label.split("-")
        transform, amount, act = "none", 0.0, False
        if parts[0].startswith("pruned"):
            tag = parts.pop(0)[len("pruned"):]
            transform = "prune_structured" if tag.endswith("s") else "prune"
            amount = int(tag.rstrip("s")) / 100
        elif parts[0] == "binarized":
            parts.pop(0)
            transform = "binarize"
            if parts and parts[0] == "act":
                parts.pop(0)
                act = True
        if not parts:
            raise ConfigError(f"variant {label!r} has no precision", hint="e.g. fp32, int8, pruned50-fp32")
        precision = parts[0]
        mode = "dynamic" if len(parts) > 1 and parts[1] == "dynamic" else "static"
        return cls(precision=precision, int8_mode=mode, transform=transform, amount=amount,
                   binarize_activations=act)


@dataclass(frozen=True)
class ExportSpec:
    """What to export: formats × one variant, with calibration and each format's own options.

    ``formats`` are registered format names (``edgebench.exporters.formats()``; none given is a
    ConfigError when exporting). ``format_options`` maps a format name to that format's ``Options``
    instance, or to a mapping of option → value (a sweep file's ``[format_options.<fmt>]``
    table); the format plug-in checks it (ConfigError) and fills in defaults for formats not named.
    """

    formats: tuple[str, ...] = ()
    variant: Variant = field(default_factory=Variant)
    calibration_dir: Path | None = None
    calibration_samples: int = 32
    parity_samples: int = 8
    out_dir: Path = Path("artifacts")
    format_options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class BenchSpec:
    """How to measure: warm-up, run count and time bounds, threads, inputs, dataset."""

    warmup_runs: int = 10
    warmup_seconds: float = 1.0
    runs: int = 50
    min_seconds: float = 3.0
    max_seconds: float = 60.0
    threads: int | None = None
    include_io: bool = False
    input_shape: tuple[int, ...] | None = None
    dataset: Path | None = None
    timeout_seconds: float = 600.0
    # delegate / execution provider the runtime uses (None: the runtime's default); part of a
    # row's identity
    delegate: str | None = field(default=None, metadata={"omit_if_none": True})

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BenchSpec":
        d = dict(d)
        if d.get("dataset"):
            d["dataset"] = Path(d["dataset"])
        if d.get("input_shape"):
            d["input_shape"] = tuple(d["input_shape"])
        return cls(**d)


def _formats(path: Path, data: dict[str, Any]) -> tuple[str, ...]:
    formats = data.get("formats")
    if not formats or not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise ConfigError(f"sweep file {path}: formats must be a non-empty list of format names",
                          hint="e.g. formats = [\"NAME\", …]; `edgebench export --help` lists the formats")
    return tuple(formats)


def _delegates(path: Path, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(d, str) and d for d in value):
        raise ConfigError(f"sweep file {path}: delegates must be a list of delegate names",
                          hint='e.g. delegates = ["xnnpack", "none"] (LiteRT) or ["cpu"] (ONNX Runtime)')
    return tuple(value)


def _format_tables(path: Path, tables: Any) -> dict[str, dict[str, Any]]:
    """The ``[format_options.<fmt>]`` tables of a sweep file: a table of tables (the values are
    checked later by each format's plug-in)."""
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError(f"sweep file {path}: format_options must hold one table per format",
                          hint="e.g. [format_options.NAME] then option = value lines")
    return {str(fmt): dict(t) for fmt, t in tables.items()}


@dataclass(frozen=True)
class SweepSpec:
    """models × formats × variants × targets, with one BenchSpec for every cell."""

    models: tuple[ModelSpec, ...]
    formats: tuple[str, ...]
    variants: tuple[Variant, ...]
    targets: tuple[str, ...] = ("local",)
    bench: BenchSpec = field(default_factory=BenchSpec)
    # the delegate axis: one cell per delegate (each replaces bench.delegate); () = bench's own
    delegates: tuple[str, ...] = ()
    out_dir: Path = Path("artifacts")
    calibration_samples: int = 32
    # format name → {option: value}, from ``[format_options.<fmt>]`` tables; each format's plug-in
    # checks its table before the sweep does any work
    format_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_toml(cls, path: Path) -> "SweepSpec":
        """Read a sweep file::

            models = ["mobilenet_v3_small"]          # or [{checkpoint = "x.pt", arch = "resnet18"}]
            formats = ["torchscript", "onnx", "tflite"]
            variants = ["fp32", "int8"]
            targets = ["local"]
            delegates = ["xnnpack", "none"]          # optional axis: one cell per delegate / provider
            [bench]
            runs = 50
            [format_options.NAME]                    # one table per format that takes options
            option = value                           # checked against that format's Options
        """
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"sweep file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"sweep file {path} is not valid TOML: {exc}") from None
        known = {"models", "formats", "variants", "targets", "bench", "out_dir", "calibration_samples",
                 "format_options", "delegates"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"sweep file {path}: unknown field(s) {', '.join(sorted(unknown))}",
                              hint=f"known fields: {', '.join(sorted(known))}")
        models = []
        for m in data.get("models", ["mobilenet_v3_small"]):
            models.append(ModelSpec(name=m) if isinstance(m, str) else ModelSpec.from_dict(m))
        try:
            bench = BenchSpec.from_dict(data.get("bench", {}))
        except TypeError as exc:
            raise ConfigError(f"sweep file {path}: bad [bench] table: {exc}") from None
        return cls(
            models=tuple(models),
            formats=_formats(path, data),
            variants=tuple(Variant.from_label(v) for v in data.get("variants", ["fp32"])),
            targets=tuple(data.get("targets", ["local"])),
            bench=bench,
            out_dir=Path(data.get("out_dir", "artifacts")),
            calibration_samples=int(data.get("calibration_samples", 32)),
            format_options=_format_tables(path, data.get("format_options", {})),
            delegates=_delegates(path, data.get("delegates", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)
