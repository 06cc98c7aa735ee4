"""Frozen specs: what the CLI (or a sweep file) asks for, handed to the library as one object."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.errors import ConfigError

PRECISIONS = ("fp32", "fp16", "int8")
INT8_MODES = ("static", "dynamic")
TRANSFORMS = ("none", "prune", "prune_structured", "binarize")


def _to_dict(obj: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif dataclasses.is_dataclass(value):
            value = _to_dict(value)
        elif isinstance(value, tuple):
            value = [_to_dict(v) if dataclasses.is_dataclass(v) else v for v in value]
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
    """What to export: formats × one variant, with calibration and format options."""

    formats: tuple[str, ...] = ("onnx",)
    variant: Variant = field(default_factory=Variant)
    calibration_dir: Path | None = None
    calibration_samples: int = 32
    parity_samples: int = 8
    out_dir: Path = Path("artifacts")
    opset: int = 18
    mobile: bool = False
    ort_optimize: bool = False

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


@dataclass(frozen=True)
class SweepSpec:
    """models × formats × variants × targets, with one BenchSpec for every cell."""

    models: tuple[ModelSpec, ...]
    formats: tuple[str, ...]
    variants: tuple[Variant, ...]
    targets: tuple[str, ...] = ("local",)
    bench: BenchSpec = field(default_factory=BenchSpec)
    out_dir: Path = Path("artifacts")
    calibration_samples: int = 32

    @classmethod
    def from_toml(cls, path: Path, *, trust_checkpoint: bool = False) -> "SweepSpec":
        """Read a sweep file::

            models = ["mobilenet_v3_small"]          # or [{checkpoint = "x.pt", arch = "resnet18"}]
            formats = ["torchscript", "onnx", "tflite"]
            variants = ["fp32", "int8"]
            targets = ["local"]
            [bench]
            runs = 50

        Every mistake is one ConfigError naming the file and the key (``models[0].arch``,
        ``variants[1]``, ``bench.runs`` …). A file never grants ``trust_checkpoint``: trust
        comes from the person running the sweep (``trust_checkpoint=True``, the CLI's
        ``--trust-checkpoint``), since a sweep file may come from someone else.
        """
        path = Path(path)
        if path.exists() and not path.is_file() and not path.is_dir():
            raise ConfigError(f"sweep file {path} is not a regular file (a FIFO, device or socket); it was not read",
                              hint="pass the .toml file")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"sweep file {path} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"sweep file {path} is a directory", hint="pass the .toml file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read sweep file {path}: {getattr(exc, 'strerror', None) or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"sweep file {path} is not valid TOML: {exc}") from None
        known = {"models", "formats", "variants", "targets", "bench", "out_dir", "calibration_samples"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"sweep file {path}: unknown field(s) {', '.join(sorted(unknown))}",
                              hint=f"known fields: {', '.join(sorted(known))}")

        def bad(key: str, message: str, hint: str | None = None) -> ConfigError:
            return ConfigError(f"sweep file {path}: {key}: {message}", hint=hint)

        def str_list(key: str, default: list[str]) -> list[str]:
            value = data.get(key, default)
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise bad(key, f"expected a non-empty list of names, got {value!r}", hint=f'e.g. {key} = ["{default[0]}"]')
            return value

        models = []
        raw_models = data.get("models", ["mobilenet_v3_small"])
        if not isinstance(raw_models, list) or not raw_models:
            raise bad("models", f"expected a non-empty list, got {raw_models!r}",
                      hint='e.g. models = ["mobilenet_v3_small"] or [{checkpoint = "x.pt", arch = "resnet18"}]')
        for i, m in enumerate(raw_models):
            if isinstance(m, str):
                models.append(ModelSpec(name=m))
                continue
            if not isinstance(m, dict):
                raise bad(f"models[{i}]", f"expected a zoo name or a table, got {m!r}")
            if "trust_checkpoint" in m:
                raise bad(f"models[{i}].trust_checkpoint", "a sweep file cannot grant trust (unpickling runs code "
                          "from the checkpoint)", hint="remove the key; pass --trust-checkpoint to `edgebench "
                          "sweep` yourself if you trust every checkpoint in the file")
            fields = _sweep_fields(ModelSpec) - {"trust_checkpoint"}
            _check_table(m, fields, ModelSpec, f"models[{i}]", bad)
            if m.get("checkpoint") is None and m.get("name") is None:
                raise bad(f"models[{i}]", "needs name (a zoo model) or checkpoint")
            models.append(ModelSpec.from_dict(m))
        if trust_checkpoint:
            models = [dataclasses.replace(m, trust_checkpoint=True) for m in models]
        variants = []
        for i, label in enumerate(str_list("variants", ["fp32"])):
            try:
                variants.append(Variant.from_label(label))
            except (ValueError, ConfigError) as exc:
                why = exc.message if isinstance(exc, ConfigError) else "not a variant label"
                raise bad(f"variants[{i}] = {label!r}", why,
                          hint="e.g. fp32, fp16, int8, int8-dynamic, pruned50-fp32, pruned50s-int8, binarized-fp32") from None
        bench_table = data.get("bench", {})
        if not isinstance(bench_table, dict):
            raise bad("bench", f"expected a [bench] table, got {bench_table!r}")
        _check_table(bench_table, _sweep_fields(BenchSpec), BenchSpec, "bench", bad)
        for key, low, strict in (("warmup_runs", 0, False), ("warmup_seconds", 0, False), ("runs", 1, False),
                                 ("min_seconds", 0, False), ("max_seconds", 0, True), ("threads", 1, False),
                                 ("timeout_seconds", 0, True)):  # the same bounds as the CLI's flags
            value = bench_table.get(key)
            if value is not None and (value <= low if strict else value < low):
                raise bad(f"bench.{key}", f"{value} must be {'>' if strict else '≥'} {low}")
        if any(d <= 0 for d in bench_table.get("input_shape") or ()):
            raise bad("bench.input_shape", f"{bench_table['input_shape']} needs positive dims",
                      hint="e.g. input_shape = [1, 3, 224, 224]")
        samples = data.get("calibration_samples", 32)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise bad("calibration_samples", f"expected a whole number ≥ 1, got {samples!r}", hint="e.g. 32")
        out_dir = data.get("out_dir", "artifacts")
        if not isinstance(out_dir, str) or not out_dir:
            raise bad("out_dir", f"expected a folder path, got {out_dir!r}")
        return cls(
            models=tuple(models),
            formats=tuple(str_list("formats", ["onnx"])),
            variants=tuple(variants),
            targets=tuple(str_list("targets", ["local"])),
            bench=BenchSpec.from_dict(bench_table),
            out_dir=Path(out_dir),
            calibration_samples=samples,
        )

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


def _sweep_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _check_table(table: dict[str, Any], fields: set[str], cls: type, where: str, bad: Any) -> None:
    """Raise ``bad(key, …)`` for an unknown key or a value of the wrong type in a sweep-file table."""
    import typing

    hints = typing.get_type_hints(cls)
    for key, value in table.items():
        if key not in fields:
            raise bad(f"{where}.{key}", "unknown key", hint=f"known keys: {', '.join(sorted(fields))}")
        if not _type_ok(value, hints[key]):
            raise bad(f"{where}.{key}", f"expected {_type_name(hints[key])}, got {value!r}")


def _type_ok(value: Any, hint: Any) -> bool:
    import types
    import typing

    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint in (str, Path):
        return isinstance(value, str) and bool(value)
    if typing.get_origin(hint) is tuple:
        return isinstance(value, list) and bool(value) and all(_type_ok(v, args[0]) for v in value)
    return True


def _type_name(hint: Any) -> str:
    import typing

    names = {int: "a whole number", float: "a number", bool: "true or false", str: "text", Path: "a path"}
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return "a list of whole numbers"
    if args:
        return " or ".join(_type_name(a) for a in args)
    return names.get(hint, str(hint))
