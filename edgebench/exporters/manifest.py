"""The JSON manifest beside every artifact: provenance, I/O spec, sizes, counts and parity.

``<artifact>.manifest.json`` (e.g. ``mobilenet_v3_small-int8.<ext>.manifest.json``). The
pipeline builds it with :func:`build_manifest`; the harness reads it with :func:`read_manifest`;
its shape is ``manifest.schema.json``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from edgebench import __version__
from edgebench.errors import ExportError
from edgebench.exporters.base import ConvertResult, Exporter, all_libraries, dist_version
from edgebench.exporters.context import ExportContext
from edgebench.exporters.options import options_dict
from edgebench.models.catalog import human
from edgebench.results.model import now_iso
from edgebench.spec import ExportSpec

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
SUFFIX = ".manifest.json"
# libraries every export involves whatever the format (the formats add their own: all_libraries())
CORE_LIBRARIES = ("torch", "torchvision", "numpy", "torch-pruning")


def libraries() -> dict[str, str | None]:
    """Versions of every library an export can involve (None: not installed)."""
    return {name: dist_version(name) for name in dict.fromkeys(CORE_LIBRARIES + all_libraries())}


def build_manifest(exporter: Exporter, spec: ExportSpec, options: Any, ctx: ExportContext,
                   result: ConvertResult, dest: Path, facts: dict[str, Any], parity: dict[str, Any],
                   warnings: list[str], status: str, export_s: float) -> dict[str, Any]:
    """The manifest dict of one artifact at ``dest``: ``exporter`` wrote it for ``spec`` (one
    variant) with ``options`` (its format's Options); ``facts`` are :func:`file_facts`, ``status``
    the row's status value, ``export_s`` the conversion time in seconds."""
    variant = spec.variant
    source = {k: v for k, v in ctx.loaded.source.items() if v is not None or k == "arch"}
    transform = {"kind": variant.transform}
    transform.update({k: v for k, v in ctx.transform_info.items() if k != "transform"})
    if variant.transform == "none":
        transform.update({"sparsity": ctx.counts.sparsity, "macs_before": ctx.counts.macs,
                          "macs_after": ctx.counts.macs})
    runnable_reason = exporter.runnable_reason()
    return _jsonable({
        "schema_version": SCHEMA_VERSION,
        "edgebench_version": __version__,
        "created_at": now_iso(),
        "status": status,
        "source": source,
        "model": ctx.loaded.label,
        "format": exporter.name,
        "runtime": exporter.runtime,
        "variant": variant.label,
        "variant_spec": variant.to_dict(),
        "file": dest.name,
        **facts,
        "inputs": result.inputs,
        "outputs": result.outputs,
        "input_spec": ctx.input_spec.to_dict(),
        # what accuracy / calibration feed the model (edgebench.models.preprocessing), stated on its own
        "preprocessing": ctx.input_spec.pipeline.to_dict() if ctx.input_spec.pipeline else None,
        "converter": result.converter or exporter.converter_info(),
        "libraries": libraries(),
        "export_seconds": round(export_s, 3),
        "params": ctx.counts.params,
        "nonzero_params": ctx.counts.nonzero_params,
        "macs": ctx.counts.macs,
        "transform": transform,
        "quantization": result.quantization,
        "details": result.details,
        "parity": parity,
        "warnings": warnings,
        "runnable_here": runnable_reason is None,
        "runnable_reason": runnable_reason,
        "export_options": {**options_dict(options),
                           "calibration": (str(Path(spec.calibration_dir).resolve()) if spec.calibration_dir else None),
                           "calibration_samples": len(ctx.calibration) or None},
    })


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    return str(obj)


def manifest_path(artifact: Path | str) -> Path:
    """Where the manifest of ``artifact`` lives."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + SUFFIX)


def _files(path: Path) -> Iterator[Path]:
    # an .mlpackage is a directory: its files in a stable order
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file())
    else:
        yield path


def file_facts(path: Path | str) -> dict[str, Any]:
    """``size_bytes``, ``gzip_bytes`` and ``sha256`` of an artifact file (or package directory,
    where the hash covers relative paths and contents)."""
    path = Path(path)
    digest = hashlib.sha256()
    size = 0
    gz = _CountingSink()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as zf:
        for f in _files(path):
            if path.is_dir():
                digest.update(str(f.relative_to(path)).encode() + b"\0")
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
                    zf.write(chunk)
                    size += len(chunk)
    return {"size_bytes": size, "gzip_bytes": gz.n, "sha256": digest.hexdigest()}


class _CountingSink:
    """A write-only file object that only counts bytes (gzip size without keeping the output)."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def write_manifest(artifact: Path | str, manifest: dict[str, Any]) -> Path:
    """Write ``manifest`` beside ``artifact`` atomically (temp file, then rename); returns its path."""
    path = manifest_path(artifact)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return path


def read_manifest(artifact: Path | str) -> dict[str, Any] | None:
    """The manifest beside ``artifact``; None for a third-party file that has none. A manifest
    that exists but is not edgebench's JSON raises ExportError."""
    path = manifest_path(artifact)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(f"manifest {path} is not valid JSON: {exc}",
                          hint="re-export the model or delete the manifest") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ExportError(f"{path} is not an edgebench manifest", hint="re-export the model")
    return data


def validate(manifest: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``manifest`` does not match the schema."""
    import jsonschema

    jsonschema.validate(manifest, json.loads(SCHEMA_PATH.read_text()))


def transform_summary(manifest: dict[str, Any]) -> str | None:
    """One line on what a torch-level transform (pruning, binarization) did, for people reading the
    export output: MACs / params before → after, sparsity, packed 1-bit size, and parity against
    the untransformed model. None for an untransformed artifact."""
    t = manifest.get("transform") or {}
    if not t or t.get("kind") in (None, "none"):
        return None
    parts = []
    if t.get("macs_before") is not None and t.get("macs_after") is not None:
        parts.append(f"MACs {human(t['macs_before'])} → {human(t['macs_after'])}")
    if t.get("params_before") is not None and t.get("nonzero_params_after") is not None:
        parts.append(f"non-zero params {human(t['params_before'])} → {human(t['nonzero_params_after'])}")
    if t.get("sparsity"):
        whole = t.get("sparsity_whole_model")
        parts.append(f"sparsity {t['sparsity']:.0%} of weight matrices"
                     + (f" ({whole:.0%} of the whole model)" if whole is not None else ""))
    if t.get("binarized_share") is not None:
        parts.append(f"binarized {t['binarized_share']:.0%} of parameters")
    if t.get("packed_1bit_bytes") and manifest.get("size_bytes"):
        parts.append(f"packed 1-bit {t['packed_1bit_bytes'] / 2**20:.2f} MB vs file {manifest['size_bytes'] / 2**20:.2f} MB")
    if t.get("kept_full_precision"):
        kept = [k.get("layer", str(k)) if isinstance(k, dict) else str(k) for k in t["kept_full_precision"]]
        parts.append(f"kept in full precision: {', '.join(kept)}")
    vs = (manifest.get("parity") or {}).get("vs_untransformed") or {}
    if vs.get("sqnr_db") is not None:
        parts.append(f"vs the untransformed model: SQNR {vs['sqnr_db']:.1f} dB, top-1 {vs.get('top1_agreement', 0):.0%}"
                     f" (n={vs.get('n')})")
    if t.get("note"):
        parts.append(str(t["note"]))
    return "; ".join(parts)
