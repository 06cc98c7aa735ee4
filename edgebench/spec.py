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
        if f.metadata.get("omit_default") and value == f.default:
            continue  # a field added later: specs that leave it unset keep their old hash
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


INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


@dataclass(frozen=True)
class PreprocessSpec:
    """User overrides of a model's own pre-processing (None: keep what the model's config says).

    ``mean``/``std`` apply to [0, 1] RGB pixels; ``resize`` is the shorter side in pixels before
    the centre ``crop`` (square, pixels); ``interpolation`` is nearest, bilinear or bicubic.
    """

    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    resize: int | None = None
    crop: int | None = None
    interpolation: str | None = None

    def __post_init__(self) -> None:
        if self.interpolation is not None and self.interpolation not in INTERPOLATIONS:
            raise ConfigError(f"unknown interpolation {self.interpolation!r}", hint=f"one of {', '.join(INTERPOLATIONS)}")
        for name in ("resize", "crop"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name} {value} must be a positive number of pixels")
        if self.std is not None and any(s == 0 for s in self.std):
            raise ConfigError("--std has a zero entry", hint="e.g. --std 0.229,0.224,0.225")
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise ConfigError(f"--mean has {len(self.mean)} values but --std {len(self.std)}")

    @property
    def empty(self) -> bool:
        """True when nothing is overridden."""
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PreprocessSpec":
        d = dict(d)
        for key in ("mean", "std"):
            if d.get(key) is not None:
                d[key] = tuple(float(v) for v in d[key])
        return cls(**d)


def arch_kwargs_tuple(value: Any) -> tuple[tuple[str, Any], ...]:
    """``{"width_mult": 0.5}`` / ``[["width_mult", 0.5]]`` → ``(("width_mult", 0.5),)`` (sorted,
    hashable: ModelSpec is a dict key in sweeps)."""
    items = value.items() if isinstance(value, dict) else value
    return tuple(sorted((str(k), v) for k, v in items))


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from: a zoo name, or a checkpoint (+ ``arch`` for a state_dict).

    ``arch_kwargs`` go to the zoo builder (e.g. ``(("width_mult", 0.5),)``); ``preprocess``
    overrides the model's own pre-processing; ``labels`` is a text file with one class name per
    line (line i = class index i).
    """

    name: str | None = "mobilenet_v3_small"
    checkpoint: Path | None = None
    arch: str | None = None
    num_classes: int | None = None
    trust_checkpoint: bool = False
    input_shape: tuple[int, ...] | None = None
    arch_kwargs: tuple[tuple[str, Any], ...] = field(default=(), metadata={"omit_default": True})
    preprocess: PreprocessSpec | None = field(default=None, metadata={"omit_default": True})
    labels: Path | None = field(default=None, metadata={"omit_default": True})
    # which cell of a sweep's resolution / arch_kwargs axes this is (e.g. "160px-width_mult0.5")
    tag: str | None = field(default=None, metadata={"omit_default": True})

    @property
    def label(self) -> str:
        """Short human name: the zoo name, or the checkpoint file's stem (+ ``-tag`` in a sweep axis)."""
        base = Path(self.checkpoint).stem if self.checkpoint is not None else (self.name or "model")
        return f"{base}-{self.tag}" if self.tag else base

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSpec":
        d = _from_json(d, paths=("checkpoint", "labels"))
        if d.get("arch_kwargs"):
            d["arch_kwargs"] = arch_kwargs_tuple(d["arch_kwargs"])
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
    """How to measure: warm-up, run count and time bounds, threads, inputs, dataset.

    ``paired``: also time the artifacts of one model on one target interleaved in one runner
    process, ``paired_rounds`` rounds (:mod:`edgebench.harness.paired`), for speed-ups with a CI;
    ``profile_ops``: after timing, a per-operator profile in a separate session
    (``samples["op_profile"]``)."""

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
    # --dataset pre-processing / class names for a file whose manifest does not say (third-party)
    preprocess: PreprocessSpec | None = field(default=None, metadata={"omit_default": True})
    labels: Path | None = field(default=None, metadata={"omit_default": True})
    paired: bool = field(default=False, metadata={"omit_default": True})
    paired_rounds: int = field(default=10, metadata={"omit_default": True})
    profile_ops: bool = field(default=False, metadata={"omit_default": True})
    # delegate / execution provider the runtime uses (None: the runtime's default); part of a
    # row's identity
    delegate: str | None = field(default=None, metadata={"omit_default": True})
    # the timed loop's inputs (``run --inputs``): a .npz with one array per input name, or a format's
    # own test-data files (a folder of input_*.pb); None = synthetic data valid for each dtype
    inputs: Path | None = field(default=None, metadata={"omit_default": True})

    def __post_init__(self) -> None:
        if not isinstance(self.paired, bool) or not isinstance(self.profile_ops, bool):
            raise ConfigError("paired and profile_ops must be true or false")
        if isinstance(self.paired_rounds, bool) or not isinstance(self.paired_rounds, int) or self.paired_rounds < 2:
            raise ConfigError(f"paired_rounds {self.paired_rounds!r} must be an integer ≥ 2",
                              hint="the speed-up's CI is a bootstrap over rounds; e.g. paired_rounds = 10")
        if self.paired and self.include_io:
            raise ConfigError("paired timing times the inference call alone, not --include-io",
                              hint="drop --include-io (or paired) for this run")

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BenchSpec":
        return cls(**_from_json(d, paths=("inputs", "labels", "dataset")))


def _from_json(d: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """A spec's dict from JSON / TOML back to field types: the named ``paths`` as Path, ``input_shape``
    as a tuple, ``preprocess`` as a PreprocessSpec (ModelSpec and BenchSpec share these fields)."""
    d = dict(d)
    for key in paths:
        if d.get(key):
            d[key] = Path(d[key])
    if d.get("input_shape"):
        d["input_shape"] = tuple(d["input_shape"])
    if isinstance(d.get("preprocess"), dict):
        d["preprocess"] = PreprocessSpec.from_dict(d["preprocess"])
    return d


def _formats(path: Path, data: dict[str, Any]) -> tuple[str, ...]:
    formats = data.get("formats")
    if not formats or not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise ConfigError(f"sweep file {path}: formats: expected a non-empty list of format names, got {formats!r}",
                          hint="e.g. formats = [\"NAME\", …]; `edgebench export --help` lists the formats")
    return tuple(formats)


def _delegates(path: Path, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(d, str) and d for d in value):
        raise ConfigError(f"sweep file {path}: delegates must be a list of delegate names",
                          hint='e.g. delegates = ["xnnpack", "none"] (LiteRT) or ["cpu"] (ONNX Runtime)')
    return tuple(value)


def _format_tables(path: Path, tables: Any, formats: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The ``[format_options.<fmt>]`` tables of a sweep file: a table of tables (the values are
    checked later by each format's plug-in). ConfigError for a table of a format not in ``formats``
    (it would be silently ignored)."""
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError(f"sweep file {path}: format_options must hold one table per format",
                          hint="e.g. [format_options.NAME] then option = value lines")
    for fmt in tables:
        if fmt not in formats:
            raise ConfigError(f"sweep file {path}: [format_options.{fmt}] is for a format the sweep does not "
                              f"export (formats = {list(formats)})",
                              hint=f"add {fmt!r} to formats or drop the table")
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
    # profiles / tiers the printed table projects the local rows onto (``project = ["low", "mid", "high"]``)
    project: tuple[str, ...] = ()

    @classmethod
    def from_toml(cls, path: Path, *, trust_checkpoint: bool = False) -> "SweepSpec":
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

        ``project = ["low", "mid", "high"]`` adds projected-latency columns for those profiles to the
        table the sweep prints (as ``compare --project --tiers low,mid,high`` does).

        Optional axes: ``resolutions = [128, 160]`` (square inputs, 3 channels) and
        ``arch_kwargs = [{width_mult = 0.5}, {width_mult = 1.0}]`` make every model one cell per
        combination — a distinct artifact and row each (:func:`expand_axes`).

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
        known = {"models", "formats", "variants", "targets", "bench", "out_dir", "calibration_samples",
                 "format_options", "resolutions", "arch_kwargs", "paired", "delegates", "project"}
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
            if "arch_kwargs" in m:  # a table of builder kwargs: arch_kwargs = {num_layers = 2}
                if not isinstance(m["arch_kwargs"], dict):
                    raise bad(f"models[{i}].arch_kwargs", f"expected a table, got {m['arch_kwargs']!r}",
                              hint="e.g. arch_kwargs = {width_mult = 0.5}")
                _check_table({k: v for k, v in m.items() if k != "arch_kwargs"}, fields, ModelSpec, f"models[{i}]", bad)
            else:
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
        bench = BenchSpec.from_dict(bench_table)
        if "paired" in data:  # top level or in [bench]: the same switch
            if not isinstance(data["paired"], bool):
                raise bad("paired", f"expected true or false, got {data['paired']!r}")
            bench = dataclasses.replace(bench, paired=data["paired"] or bench.paired)
        formats = _formats(path, data)
        return cls(
            models=expand_axes(models, data.get("resolutions"), data.get("arch_kwargs"), path),
            formats=formats,
            variants=tuple(variants),
            targets=tuple(str_list("targets", ["local"])),
            bench=bench,
            out_dir=Path(out_dir),
            calibration_samples=samples,
            format_options=_format_tables(path, data.get("format_options", {}), formats),
            delegates=_delegates(path, data.get("delegates", [])),
            project=tuple(str_list("project", ["low"])) if "project" in data else (),
        )

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


def expand_axes(models: Any, resolutions: Any, arch_kwargs: Any, where: Any = "sweep file") -> tuple[ModelSpec, ...]:
    """Every model × resolution × arch_kwargs combination as its own ModelSpec, tagged so that its
    artifacts and rows are distinct (``mobilenet_v2-160px-width_mult0.5``). ``resolutions``: square
    sizes in pixels (input 1×3×R×R); ``arch_kwargs``: dicts for the zoo builder. None / empty: no
    axis. ConfigError for a value of the wrong type."""
    if resolutions is not None:
        if not isinstance(resolutions, list) or not resolutions or \
                not all(isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in resolutions):
            raise ConfigError(f"{where}: resolutions must be a non-empty list of positive integers, got {resolutions!r}",
                              hint="e.g. resolutions = [128, 160, 192, 224]")
    if arch_kwargs is not None:
        if not isinstance(arch_kwargs, list) or not arch_kwargs or not all(isinstance(k, dict) for k in arch_kwargs):
            raise ConfigError(f"{where}: arch_kwargs must be a non-empty list of tables, got {arch_kwargs!r}",
                              hint="e.g. arch_kwargs = [{width_mult = 0.5}, {width_mult = 1.0}]")
    out = []
    for m in models:
        for r in resolutions or [None]:
            for kw in arch_kwargs if arch_kwargs is not None else [None]:
                parts, spec = [], m
                if r is not None:
                    spec = dataclasses.replace(spec, input_shape=(1, 3, r, r))
                    parts.append(f"{r}px")
                if kw is not None:
                    merged = {**dict(spec.arch_kwargs), **kw}
                    spec = dataclasses.replace(spec, arch_kwargs=arch_kwargs_tuple(merged))
                    parts.append("-".join(f"{k}{v}" for k, v in sorted(kw.items())) or "default")
                if parts:
                    spec = dataclasses.replace(spec, tag="-".join(filter(None, [m.tag, *parts])))
                out.append(spec)
    return tuple(out)


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
