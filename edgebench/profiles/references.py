"""Reference models: the yardstick a projection is anchored on.

A device profile carries *reference rows*: the latency of a well-known model (MobileNetV2,
MobileNetV3-Small/Large, ResNet18, …) on that device, at a precision, a thread count and with a
runtime, each with its source (a paper, a vendor table, or a run of ``edgebench`` on the device).
The projection measures the user's artifact on the desktop *side by side* with the same reference
models (same runtime, same threads, interleaved) and maps the ratio through those rows
(:mod:`edgebench.profiles.anchored`).

Runtimes are named as the runner names them (``litert``, ``torch``, ``onnxruntime``, …); the
published table's runtime labels ("TFLite CPU", "PyTorch qnnpack") are mapped once, here.

Reference artifacts exported on this machine are cached under
``~/.cache/edgebench/references/<edgebench version>/<runtime>/<model>-<resolution>-<precision><suffix>``
(:func:`cache_path`); the export itself belongs to the caller (the CLI), since profiles sit
beside the exporters, not above them.
"""

from __future__ import annotations

import csv
import os
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from edgebench.errors import ConfigError

DATA = Path(__file__).resolve().parent / "data"
PUBLISHED_CSV = DATA / "reference" / "published_latencies.csv"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgebench" / "references"

# published runtime label → runner runtime name, as data; the kernel library is kept in ``engine``
# so that PyTorch/qnnpack int8 rows stay distinguishable in reports
RUNTIME_LABELS = DATA / "reference" / "runtime_labels.toml"
# published source → year and whether its int8 kernels used dot-product instructions, as data
SOURCES = DATA / "reference" / "sources.toml"

# zoo models usable as references: name → input resolution. The zoo builds them reproducibly
# (random init, fixed seed), so the work, and the timing, are the same for every user.
# vit_b_16 is the attention-heavy yardstick: measured only where a profile has a row for it.
ZOO_REFERENCES = {"mobilenet_v2": 224, "mobilenet_v3_small": 224, "mobilenet_v3_large": 224, "resnet18": 224,
                  "vit_b_16": 224}


@dataclass(frozen=True)
class ReferenceRow:
    """One latency of a reference model on one device.

    ``latency_ms`` is a median (or the source's single figure) of one batch-1 inference;
    ``precision`` is ``fp32``, ``fp16`` or ``int8`` (uint8 rows are int8 arithmetic);
    ``runtime`` a runner runtime name; ``threads`` ≥ 1."""

    model: str
    precision: str
    threads: int
    runtime: str
    latency_ms: float
    source: str
    resolution: int = 224
    engine: str | None = None
    device: str | None = None  # the profile it belongs to (filled in when the profile is loaded)
    # False: measured with int8 kernels that did not use the core's dot-product instructions (an
    # older runtime; data/reference/sources.toml says which sources); None/True: the core's fastest
    int8_dot_kernels: bool | None = None

    @property
    def key(self) -> str:
        """``model@resolution``: the reference model this row measures."""
        return f"{self.model}@{self.resolution}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def runtime_name(label: str) -> tuple[str, str | None]:
    """(runner runtime name, kernel engine) for a published runtime label ("TFLite CPU" → ("litert", "xnnpack")).

    Raises ConfigError for a label it does not know."""
    low = label.lower()
    for entry in tomllib.loads(RUNTIME_LABELS.read_text())["label"]:
        if entry["contains"] in low:
            return entry["runtime"], entry.get("engine")
    raise ConfigError(f"unknown runtime label {label!r} in the published table",
                      hint="use a runner runtime name: litert, torch, onnxruntime, executorch, coreml")


def source_dot_kernels(source: str, path: Path = SOURCES) -> bool | None:
    """Whether the int8 kernels behind a published ``source`` used the core's dot-product
    instructions (``sources.toml``; first substring match, case-insensitive); None when the source
    is not listed (then the core's fastest int8 instruction is assumed)."""
    low = source.lower()
    for entry in tomllib.loads(path.read_text()).get("source", []):
        if entry["contains"].lower() in low:
            return bool(entry["int8_dot_kernels"])
    return None


def published_rows(path: Path = PUBLISHED_CSV) -> list[dict[str, str]]:
    """The published latency table as read: one dict per row (model, width, resolution, precision,
    device, cpu, threads, runtime, latency_ms, source)."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def rows_for(device_names: Iterable[str], path: Path = PUBLISHED_CSV) -> list[ReferenceRow]:
    """Reference rows of the published table whose ``device`` column is one of ``device_names``."""
    names = set(device_names)
    out = []
    for r in published_rows(path):
        if r["device"] not in names:
            continue
        runtime, engine = runtime_name(r["runtime"])
        out.append(ReferenceRow(model=r["model"], precision="int8" if r["precision"] in ("int8", "uint8") else
                                r["precision"], threads=int(r["threads"]), runtime=runtime,
                                latency_ms=float(r["latency_ms"]), source=r["source"],
                                resolution=int(r["resolution"]), engine=engine,
                                int8_dot_kernels=source_dot_kernels(r["source"])))
    return out


def parse_reference(text: str, *, runtime: str, precision: str, threads: int, source: str) -> ReferenceRow:
    """A ``--reference MODEL=MS`` (or ``MODEL@RES=MS``) command-line value as a row.

    Raises ConfigError naming the value when it is not ``name=positive number``."""
    name, sep, value = text.partition("=")
    try:
        ms = float(value)
    except ValueError:
        ms = -1.0
    if not sep or not name.strip() or ms <= 0:
        raise ConfigError(f"--reference {text!r} is not MODEL=MILLISECONDS",
                          hint="e.g. --reference mobilenet_v2=46.0 (median ms of one inference on the device)")
    model, _, res = name.strip().partition("@")
    resolution = int(res) if res.isdigit() else ZOO_REFERENCES.get(model, 224)
    return ReferenceRow(model=model, precision=precision, threads=threads, runtime=runtime, latency_ms=ms,
                        source=source, resolution=resolution)


def cache_path(version: str, runtime: str, model: str, resolution: int | None, precision: str, suffix: str,
               root: Path | None = None) -> Path:
    """Where the reference artifact for (edgebench ``version``, ``runtime``, ``model``, ``precision``)
    is cached; ``suffix`` is the artifact's file extension (from the format plug-in)."""
    res = f"-{resolution}" if resolution else ""
    return (root or CACHE_DIR) / version / runtime / f"{model}{res}-{precision}{suffix}"


def ensure_reference(key: str, version: str, runtime: str, precision: str, suffix: str,
                     export: Callable[[str, int, str, Path], Path], root: Path | None = None) -> Path:
    """The cached reference artifact for ``key`` (``model@resolution``), exported on first use.

    ``export(model, resolution, precision, dest_dir)`` writes the artifact into ``dest_dir`` and
    returns its path (the caller's exporter, so that profiles never import the exporters); the
    file is moved into the cache atomically, so an interrupted export leaves nothing behind."""
    model, _, res = key.partition("@")
    resolution = int(res) if res.isdigit() else ZOO_REFERENCES.get(model, 224)
    dest = cache_path(version, runtime, model, resolution, precision, suffix, root)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.parent / f".{dest.name}.export"
    work.mkdir(exist_ok=True)
    written = Path(export(model, resolution, precision, work))
    for companion in written.parent.glob(written.name + ".*"):  # the manifest beside it
        os.replace(companion, dest.parent / (dest.name + companion.name[len(written.name):]))
    os.replace(written, dest)
    for leftover in sorted(work.rglob("*"), reverse=True):
        leftover.unlink() if leftover.is_file() else leftover.rmdir()
    work.rmdir()
    return dest
