"""The JSON manifest beside every artifact: provenance, I/O spec, sizes, counts and parity.

``<artifact>.manifest.json`` (e.g. ``mobilenet_v3_small-int8.onnx.manifest.json``). The harness
reads it with :func:`read_manifest`; its shape is ``manifest.schema.json``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from edgebench.errors import ExportError

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
SUFFIX = ".manifest.json"


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
    from edgebench.models.catalog import human

    t = manifest.get("transform") or {}
    if not t or t.get("kind") in (None, "none"):
        return None
    parts = []
    if t.get("macs_before") is not None and t.get("macs_after") is not None:
        parts.append(f"MACs {human(t['macs_before'])} → {human(t['macs_after'])}")
    if t.get("params_before") is not None and t.get("nonzero_params_after") is not None:
        parts.append(f"non-zero params {human(t['params_before'])} → {human(t['nonzero_params_after'])}")
    if t.get("sparsity"):
        parts.append(f"sparsity {t['sparsity']:.0%}")
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
