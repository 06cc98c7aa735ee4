"""The export pipeline: load once, one context per variant, every format, parity, manifest, row.

For each (variant, format) cell: an unavailable converter or an impossible combination is an
UNSUPPORTED row; the converter writes to a temporary name that is moved into place only when the
file is complete; the artifact runs on the parity inputs (or is checked structurally where it
cannot run) and its manifest is written beside it; the RunResult goes to the store at once.
Cells of different (format, transform) groups run in parallel worker processes when asked to.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from edgebench import __version__
from edgebench.errors import ConfigError, EdgebenchError, ExportError, LoadError, UnsupportedError
from edgebench.exporters.base import (ExportContext, Exporter, converter_error, dist_version,
                                      precision_label, registry)
from edgebench.exporters.manifest import SCHEMA_VERSION, file_facts, write_manifest
from edgebench.exporters.parity import FP32_MIN_SQNR_DB, INT8_MIN_TOP1, compare
from edgebench.results.model import ArtifactInfo, ErrorInfo, RunResult, Status, now_iso
from edgebench.spec import ExportSpec, ModelSpec, Variant, spec_hash

# The ``--all`` matrix: every precision of the untouched model, then the torch-level variants.
MATRIX_VARIANTS: tuple[Variant, ...] = (
    Variant("fp32"), Variant("fp16"), Variant("int8"), Variant("int8", int8_mode="dynamic"),
    Variant("fp32", transform="prune", amount=0.5),
    Variant("fp32", transform="prune_structured", amount=0.5),
    Variant("fp32", transform="binarize"),
)

EXPORT_TARGET = "export"  # RunResult.target of export rows: no device is involved
LIBRARIES = ("torch", "torchvision", "numpy", "onnx", "onnxruntime", "onnxscript", "onnxconverter-common",
             "litert-torch", "ai-edge-litert", "ai-edge-quantizer", "coremltools", "torch-pruning")


def libraries() -> dict[str, str | None]:
    """Versions of every library an export can involve (None: not installed)."""
    return {name: dist_version(name) for name in LIBRARIES}


def _environment() -> dict[str, Any]:
    return {"host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
            "machine": platform.machine(), "edgebench": __version__}


@dataclass
class _Shared:
    """What every variant with the same torch-level transform shares (module, outputs, caches)."""

    module: Any
    info: dict[str, Any]
    counts: Any
    reference_outputs: list[Any]
    cache: dict[Any, Any] = field(default_factory=dict)


def _outputs(module: Any, inputs: Sequence[Any]) -> list[Any]:
    import torch

    outs = []
    with torch.no_grad():
        for x in inputs:
            y = module(x)
            if isinstance(y, (tuple, list)):
                y = y[0]
            outs.append(y.detach().float().numpy().copy())
    return outs


class ContextBuilder:
    """Builds the :class:`ExportContext` of each variant of one loaded model, sharing the transform,
    its reference outputs and the traced / exported graphs between variants that need the same."""

    def __init__(self, loaded: Any, spec: ExportSpec):
        self.loaded = loaded
        self.spec = spec
        self._inputs: tuple[list[Any], list[Any]] | None = None
        self._shared: dict[tuple, _Shared] = {}
        self._base_outputs: list[Any] | None = None

    def inputs(self) -> tuple[list[Any], list[Any]]:
        """(calibration inputs, parity inputs), drawn once from the same source, never overlapping."""
        if self._inputs is None:
            from edgebench.exporters.variants.calibration import calibration_inputs

            n_cal, n_par = self.spec.calibration_samples, self.spec.parity_samples
            if n_cal < 1 or n_par < 1:
                raise ConfigError(f"calibration samples ({n_cal}) and parity samples ({n_par}) must be ≥ 1")
            pool = calibration_inputs(self.loaded.input_spec, self.spec.calibration_dir, n=n_cal + n_par)
            # a small folder: keep at least half of it for calibration, the rest for parity
            n_par = min(n_par, max(1, len(pool) // 2))
            cal, par = pool[:len(pool) - n_par] or pool, pool[len(pool) - n_par:]
            self._inputs = (cal, par)
        return self._inputs

    def base_outputs(self) -> list[Any]:
        """Eager outputs of the untransformed model on the parity inputs."""
        if self._base_outputs is None:
            self._base_outputs = _outputs(self.loaded.module, self.inputs()[1])
        return self._base_outputs

    def _transform(self, variant: Variant) -> _Shared:
        from edgebench.exporters.variants import apply
        from edgebench.models.counting import count

        key = (variant.transform, variant.amount, variant.binarize_activations)
        if key not in self._shared:
            example = self.loaded.input_spec.example(1)
            module, info = apply(self.loaded.module, variant, example)
            refs = self.base_outputs() if variant.transform == "none" else _outputs(module, self.inputs()[1])
            self._shared[key] = _Shared(module, info, count(module, example), refs)
        return self._shared[key]

    def context(self, variant: Variant) -> ExportContext:
        """The context of ``variant`` (transform applied, references computed)."""
        shared = self._transform(variant)
        cal, par = self.inputs()
        untransformed = None if variant.transform == "none" else self.base_outputs()
        ctx = ExportContext(
            loaded=self.loaded, variant=variant, module=shared.module,
            example=self.loaded.input_spec.example(1),
            calibration=cal if precision_label(variant) == "int8" else [],
            parity_inputs=par, reference_outputs=shared.reference_outputs,
            untransformed_outputs=untransformed, transform_info=shared.info, counts=shared.counts,
            shared=shared.cache,
        )
        return ctx


def artifact_path(out_dir: Path, model_label: str, variant: Variant, extension: str) -> Path:
    """``<out_dir>/<model>/<model>-<variant><ext>``: where an artifact lands."""
    return Path(out_dir) / model_label / f"{model_label}-{variant.label}{extension}"


TEMP_PREFIXES = (".tmp-", ".old-")  # names of files an export has not finished (or is replacing)


def is_temp_name(name: str) -> bool:
    """True for the temporary names exports write (``.tmp-<pid>-…``, ``.old-<pid>-…``): never artifacts."""
    return name.startswith(TEMP_PREFIXES)


def _temp_name(prefix: str, dest: Path) -> Path:
    # the pid lets a later export tell a live export's file from one left by a killed process
    return dest.with_name(f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}-{dest.name}")


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove temporary files in ``folder`` left by exports that were killed (their process is gone);
    returns what was removed. Files of exports still running are left alone."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not is_temp_name(entry.name):
            continue
        pid = entry.name.split("-", 2)[1]
        if pid.isdigit() and _alive(int(pid)):
            continue
        try:
            _remove(entry)
            removed.append(entry)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _move_into_place(tmp: Path, dest: Path) -> None:
    # a directory (.mlpackage) cannot be os.replace'd over a non-empty one: park the old copy first
    if dest.is_dir():
        old = _temp_name(".old-", dest)
        os.replace(dest, old)
        os.replace(tmp, dest)
        _remove(old)
    else:
        os.replace(tmp, dest)


@dataclass
class Cell:
    """One (format, variant) export of one model."""

    model_spec: ModelSpec
    spec: ExportSpec  # formats=(fmt,), variant=variant
    fmt: str

    @property
    def variant(self) -> Variant:
        return self.spec.variant

    @property
    def hash(self) -> str:
        return spec_hash(self.model_spec, self.spec)


def _row(cell: Cell, label: str, status: Status, *, error: EdgebenchError | None = None,
         detail: str | None = None, **kw: Any) -> RunResult:
    err = None
    if error is not None:
        err = ErrorInfo(error.stage, error.message, error.hint, detail)
    return RunResult(model=label, format=cell.fmt, variant=cell.variant.label, target=EXPORT_TARGET,
                     status=status, spec_hash=cell.hash, kind="export", error=err,
                     spec={"model": cell.model_spec.to_dict(), "export": cell.spec.to_dict()},
                     environment=_environment(), **kw)


def run_cell(cell: Cell, ctx: ExportContext | None, loaded: Any) -> RunResult:
    """Export one cell; every outcome is a RunResult (never raises for a converter's failure)."""
    exporter: Exporter = registry.get(cell.fmt)
    label = loaded.label
    reason = exporter.unavailable_reason()
    if reason is not None:
        return _row(cell, label, Status.UNSUPPORTED,
                    error=UnsupportedError(f"{cell.fmt} unavailable: {reason}", hint=f"pip install 'edgebench[{exporter.extra}]'"))
    reason = exporter.supports(cell.variant)
    if reason is not None:
        return _row(cell, label, Status.UNSUPPORTED, error=UnsupportedError(reason))
    assert ctx is not None
    dest = artifact_path(cell.spec.out_dir, label, cell.variant, exporter.extension_for(cell.spec))
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(dest.parent)
    # the temp name keeps the extension: some converters pick the container format from it
    tmp = _temp_name(".tmp-", dest)
    t0 = time.perf_counter()
    try:
        try:
            result = exporter.convert(ctx, cell.spec, tmp)
        except EdgebenchError:
            raise
        except Exception as exc:  # converters raise anything; it becomes one classified line
            raise converter_error(cell.fmt, exc, exporter.alternatives) from exc
        export_s = time.perf_counter() - t0
        if not tmp.exists():
            raise ExportError(f"{cell.fmt} converter wrote nothing at {tmp.name}")
        return _finish(cell, ctx, exporter, result, tmp, dest, export_s)
    except UnsupportedError as err:
        return _row(cell, label, Status.UNSUPPORTED, error=err)
    except EdgebenchError as err:
        detail = traceback.format_exc(limit=-3) if err.__cause__ is not None else None
        return _row(cell, label, Status.EXPORT_FAILED, error=err, detail=detail,
                    timings_s={"export": time.perf_counter() - t0})
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def _parity(exporter: Exporter, ctx: ExportContext, path: Path) -> dict[str, Any]:
    classification = ctx.input_spec.task == "classification"
    outs = exporter.run(path, [x.numpy() for x in ctx.parity_inputs])
    try:
        vs_eager = compare(ctx.reference_outputs, outs, classification=classification)
        vs_orig = (None if ctx.untransformed_outputs is None
                   else compare(ctx.untransformed_outputs, outs, classification=classification))
    except ValueError as exc:
        raise ExportError(f"{exporter.name} artifact outputs do not match the model's: {exc}",
                          stage="parity") from None
    return {"vs_eager": vs_eager, "vs_untransformed": vs_orig}


def _finish(cell: Cell, ctx: ExportContext, exporter: Exporter, result: Any, tmp: Path, dest: Path,
            export_s: float) -> RunResult:
    warnings = list(result.notes)
    t0 = time.perf_counter()
    status = Status.OK
    error = None
    if exporter.runnable_here:
        parity = _parity(exporter, ctx, tmp)
        eager = parity["vs_eager"]
        label = precision_label(cell.variant)
        if label == "fp32" and eager["sqnr_db"] < FP32_MIN_SQNR_DB:
            status = Status.PARITY_FAILED
            error = ExportError(f"fp32 {cell.fmt} artifact reaches {eager['sqnr_db']:.1f} dB SQNR against eager "
                                f"(needs ≥ {FP32_MIN_SQNR_DB:.0f} dB)", stage="parity",
                                hint="the artifact is kept; compare its outputs or try another format/opset")
        if label.startswith("int8") and eager["top1_agreement"] is not None and eager["top1_agreement"] < INT8_MIN_TOP1:
            warnings.append(f"int8 top-1 agreement with eager is {eager['top1_agreement']:.0%} (< {INT8_MIN_TOP1:.0%})"
                            " over the parity inputs")
    else:
        problems = exporter.check(tmp)
        if problems:
            raise ExportError(f"{cell.fmt} artifact fails its structural check: {'; '.join(problems)}")
        parity = {"vs_eager": None, "vs_untransformed": None}
        warnings.append(f"not run here ({exporter.runnable_reason()}): checked structurally, no parity numbers")
    parity_s = time.perf_counter() - t0
    facts = file_facts(tmp)
    _move_into_place(tmp, dest)
    manifest = build_manifest(cell, ctx, exporter, result, dest, facts, parity, warnings, status, export_s)
    write_manifest(dest, manifest)
    info = ctx.transform_info
    artifact = ArtifactInfo(path=str(dest), format=cell.fmt, variant=cell.variant.label,
                            size_bytes=facts["size_bytes"], gzip_bytes=facts["gzip_bytes"], sha256=facts["sha256"],
                            params=manifest["params"], nonzero_params=manifest["nonzero_params"],
                            macs=manifest["macs"], packed_1bit_bytes=info.get("packed_1bit_bytes"),
                            manifest=manifest)
    return _row(cell, ctx.loaded.label, status, error=error, artifact=artifact, parity=parity,
                timings_s={"export": round(export_s, 3), "parity": round(parity_s, 3)},
                warnings=tuple(warnings))


def build_manifest(cell: Cell, ctx: ExportContext, exporter: Exporter, result: Any, dest: Path,
                   facts: dict[str, Any], parity: dict[str, Any], warnings: list[str], status: Status,
                   export_s: float) -> dict[str, Any]:
    """The manifest dict of one artifact (see :mod:`edgebench.exporters.manifest`)."""
    source = {k: v for k, v in ctx.loaded.source.items() if v is not None or k == "arch"}
    transform = {"kind": cell.variant.transform}
    transform.update({k: v for k, v in ctx.transform_info.items() if k != "transform"})
    if cell.variant.transform == "none":
        transform.update({"sparsity": ctx.counts.sparsity, "macs_before": ctx.counts.macs,
                          "macs_after": ctx.counts.macs})
    return _jsonable({
        "schema_version": SCHEMA_VERSION,
        "edgebench_version": __version__,
        "created_at": now_iso(),
        "status": status.value,
        "source": source,
        "model": ctx.loaded.label,
        "format": cell.fmt,
        "variant": cell.variant.label,
        "variant_spec": cell.variant.to_dict(),
        "file": dest.name,
        **facts,
        "inputs": result.inputs,
        "outputs": result.outputs,
        "input_spec": ctx.input_spec.to_dict(),
        "converter": result.converter or exporter.converter_info(),
        "libraries": libraries(),
        "export_seconds": round(export_s, 3),
        "params": ctx.counts.params,
        "nonzero_params": ctx.counts.nonzero_params,
        "macs": ctx.counts.macs,
        "transform": transform,
        "quantization": result.quantization,
        "parity": parity,
        "warnings": warnings,
        "runnable_here": exporter.runnable_here,
        "runnable_reason": exporter.runnable_reason(),
        "export_options": {"opset": cell.spec.opset, "mobile": cell.spec.mobile,
                           "ort_optimize": cell.spec.ort_optimize,
                           "calibration": (str(cell.spec.calibration_dir) if cell.spec.calibration_dir else None),
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


# ----------------------------------------------------------------------------------------------
# the entry point


def validate(formats: Iterable[str], spec: ExportSpec) -> list[Exporter]:
    """The exporters for ``formats``; ConfigError for an unknown format or a bad option."""
    formats = list(formats)
    if not formats:
        raise ConfigError("no format given", hint=f"--format one of {', '.join(registry.names())}")
    if spec.calibration_samples < 1:
        raise ConfigError(f"--calibration-samples {spec.calibration_samples} must be at least 1")
    if spec.parity_samples < 1:
        raise ConfigError(f"parity samples {spec.parity_samples} must be at least 1")
    if spec.calibration_dir is not None:
        from edgebench.exporters.variants.calibration import image_files

        image_files(spec.calibration_dir)  # a missing / empty folder fails before any work
    exporters = [registry.get(f) for f in formats]
    for e in exporters:
        e.validate(spec)
    try:  # a read-only or full disk fails before the model is even loaded
        Path(spec.out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --out {spec.out_dir}: {exc.strerror}",
                          hint="pass --out on a writable disk") from None
    if not os.access(spec.out_dir, os.W_OK):
        raise ConfigError(f"--out {spec.out_dir} is not writable", hint="pass --out on a writable disk")
    return exporters


def export(model_spec: ModelSpec, export_spec: ExportSpec, *, store: Any = None,
           variants: Sequence[Variant] | None = None, workers: int = 1,
           on_result: Callable[[RunResult], None] | None = None) -> list[RunResult]:
    """Export ``model_spec`` to every format of ``export_spec`` for each of ``variants`` (default:
    ``export_spec.variant``). One RunResult per (variant, format), written to ``store`` and passed
    to ``on_result`` as it exists. ``workers`` > 1 runs (format, transform) groups in parallel
    worker processes. Bad options raise ConfigError before any work; a model that cannot be
    loaded gives LOAD_FAILED rows."""
    from edgebench.models import load

    variants = list(variants or [export_spec.variant])
    validate(export_spec.formats, export_spec)
    cells = [Cell(model_spec, dataclasses.replace(export_spec, formats=(fmt,), variant=v), fmt)
             for v in variants for fmt in export_spec.formats]
    results: list[RunResult] = []

    def emit(row: RunResult, stored: bool = False) -> None:
        results.append(row)
        if store is not None and not stored:
            store.add(row)
        if on_result is not None:
            on_result(row)

    try:
        loaded = load(model_spec)
    except LoadError as err:
        for cell in cells:
            emit(_row(cell, model_spec.label, Status.LOAD_FAILED, error=err))
        return results

    builder = ContextBuilder(loaded, export_spec)
    if workers > 1 and len(cells) > 1:
        from edgebench.exporters.workers import run_parallel

        run_parallel(builder, cells, workers, emit, store.path if store is not None else None)
        return results
    for cell in cells:
        emit(_run(builder, cell))
    return results


def _run(builder: ContextBuilder, cell: Cell) -> RunResult:
    """One cell in this process: context (transform errors become rows), then :func:`run_cell`."""
    exporter = registry.get(cell.fmt)
    if exporter.unavailable_reason() is not None or exporter.supports(cell.variant) is not None:
        return run_cell(cell, None, builder.loaded)
    try:
        ctx = builder.context(cell.variant)
    except UnsupportedError as err:
        return _row(cell, builder.loaded.label, Status.UNSUPPORTED, error=err)
    except ConfigError:
        raise
    except EdgebenchError as err:
        return _row(cell, builder.loaded.label, Status.EXPORT_FAILED, error=err)
    return run_cell(cell, ctx, builder.loaded)
