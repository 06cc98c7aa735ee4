"""Finding artifacts to measure: edgebench's own (with a manifest) or any third-party model file.

``discover(paths)`` turns files and directories into :class:`Artifact` records: format from the
extension, model / variant / input shape / counts from the manifest when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

from edgebench import exporters
from edgebench.errors import ConfigError
from edgebench.exporters.manifest import file_facts
from edgebench.exporters.manifest import read_manifest as _read_manifest
from edgebench.models.input_spec import InputSpec
from edgebench.results.model import ArtifactInfo

UNKNOWN_VARIANT = "unknown"


def extensions() -> dict[str, str]:
    """File suffix → format, from every registered format plug-in."""
    return {suffix: name for name, exporter in exporters.registry.items() for suffix in exporter.file_suffixes()}


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest beside ``path`` (None for a third-party file), via the exporters' reader."""
    return _read_manifest(path)


@dataclass(frozen=True)
class Artifact:
    """A model file to measure, with what its manifest says about it."""

    path: Path
    format: str
    model: str
    variant: str
    manifest: dict[str, Any] | None = None

    @property
    def runtime(self) -> str:
        """The runner runtime that runs this artifact (its format plug-in's ``runtime``)."""
        return exporters.runtime_for(self.format)

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """The first input's static shape from the manifest (None if unknown or dynamic)."""
        inputs = (self.manifest or {}).get("inputs") or []
        shape = inputs[0].get("shape") if inputs else None
        if shape and all(isinstance(d, int) and d > 0 for d in shape):
            return tuple(shape)
        spec = (self.manifest or {}).get("input_spec") or {}
        if spec.get("shape"):
            return tuple(spec["shape"])
        return None

    def input_spec(self, input_shape: tuple[int, ...] | None = None) -> InputSpec:
        """The model's InputSpec (preprocessing): the manifest's. A file without one gets ImageNet
        normalisation, except where its format plug-in reads an integer input without quantisation
        parameters (``file_inputs``): that input takes raw pixel values over its dtype's range
        (0–255 for uint8, the MediaPipe / TF-Hub convention), not normalised floats."""
        spec_dict = (self.manifest or {}).get("input_spec")
        spec = InputSpec.from_dict(spec_dict) if spec_dict else self._file_spec()
        shape = input_shape or self.input_shape
        return replace(spec, shape=tuple(shape)) if shape else spec

    def _file_spec(self) -> InputSpec:
        facts = file_inputs(self.path, self.format)
        first = facts[0] if facts else {}
        if first.get("scale") is None and first.get("value_range") is not None:
            low, high = first["value_range"]
            # preprocess maps [0, 1] pixels through (x - mean) / std: make that low + x * (high - low)
            span = high - low
            return InputSpec(mean=(-low / span,) * 3, std=(1.0 / span,) * 3)
        return InputSpec()

    def info(self) -> ArtifactInfo:
        """Bytes, gzip bytes, sha256 and counts (manifest first, computed where the manifest is missing)."""
        m = self.manifest or {}
        if m.get("size_bytes") and m.get("gzip_bytes") and m.get("sha256"):
            size, gz, sha = m["size_bytes"], m["gzip_bytes"], m["sha256"]
        else:
            facts = file_facts(self.path)
            size, gz, sha = facts["size_bytes"], facts["gzip_bytes"], facts["sha256"]
        params, nonzero = m.get("params"), m.get("nonzero_params")
        if params is None:
            params, nonzero = count_params(self.path, self.format)
        transform = m.get("transform") or {}
        return ArtifactInfo(path=str(self.path), format=self.format, variant=self.variant, size_bytes=size,
                            gzip_bytes=gz, sha256=sha, params=params, nonzero_params=nonzero,
                            macs=m.get("macs"), packed_1bit_bytes=transform.get("packed_1bit_bytes"),
                            manifest=self.manifest)


def from_path(path: Path) -> Artifact:
    """One artifact file (or .mlpackage directory); ConfigError for a missing file or unknown extension."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist", hint="pass an artifact file or a directory of artifacts")
    plugin = exporters.for_suffix(path)
    fmt = plugin.name if plugin is not None else None
    if fmt is None:
        raise ConfigError(f"{path.name}: unknown model extension {path.suffix or '(none)'!r}",
                          hint=f"edgebench measures {', '.join(sorted(extensions()))} files")
    manifest = read_manifest(path)
    if manifest:
        return Artifact(path, manifest.get("format", fmt), manifest.get("model") or path.stem,
                        manifest.get("variant") or UNKNOWN_VARIANT, manifest)
    return Artifact(path, fmt, path.stem, UNKNOWN_VARIANT, None)


def discover(paths: Iterable[Path | str]) -> list[Artifact]:
    """Artifacts named by files and directories (searched recursively), in a stable order."""
    found: list[Artifact] = []
    for p in map(Path, paths):
        if p.is_dir() and p.suffix.lower() != ".mlpackage":
            files = [f for f in sorted(p.rglob("*"))
                     if f.suffix.lower() in extensions() and not any(a.suffix == ".mlpackage" for a in f.parents)
                     and (f.is_file() or f.suffix.lower() == ".mlpackage")]
            if not files:
                raise ConfigError(f"no model files in {p}", hint=f"looked for {', '.join(sorted(extensions()))}")
            found.extend(from_path(f) for f in files)
        else:
            found.append(from_path(p))
    if not found:
        raise ConfigError("no artifacts given", hint="edgebench run ARTIFACT|DIR …")
    return found


def _exporter(fmt: str) -> "exporters.Exporter | None":
    return exporters.registry.get(fmt) if fmt in exporters.registry else None


def file_input_shape(path: Path, fmt: str) -> tuple[int, ...] | None:
    """The first input's static shape read from the model file by its format's plug-in (None when
    dynamic, unknown or unreadable: the run then reports the problem)."""
    exporter = _exporter(fmt)
    return exporter.file_input_shape(Path(path)) if exporter else None


def file_inputs(path: Path, fmt: str) -> list[dict[str, Any]]:
    """The model file's inputs as its runner runtime sees them (name, shape, dtype, layout, scale,
    zero point, value range); empty when unknown here (see ``Exporter.file_inputs``)."""
    exporter = _exporter(fmt)
    return exporter.file_inputs(Path(path)) if exporter else []


def count_params(path: Path, fmt: str) -> tuple[int | None, int | None]:
    """(params, non-zero params) read from the file by its format's plug-in; (None, None) where
    the format does not allow it."""
    exporter = _exporter(fmt)
    return exporter.file_param_counts(Path(path)) if exporter else (None, None)
