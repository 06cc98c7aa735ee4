"""One export cell — (format, variant) of one model — from conversion to its result row.

For each cell: an unavailable converter or an impossible combination is an UNSUPPORTED row; the
converter writes to a temporary name that is moved into place only when the file is complete;
the artifact runs on the parity inputs through the runner's batch mode (the same runtime code
``edgebench run`` times) or, where its runtime cannot run here, is checked structurally; its
manifest is written beside it. A static int8 artifact also runs on (up to
:data:`CALIBRATION_CHECK_MAX` of) its calibration inputs: agreement there, where eager is decided,
tests the quantizer's ranges on the very data they were fitted on (a clipped output shows there
even when the parity inputs' outputs stay below the clip). Every outcome is a RunResult; nothing
here raises for a converter's failure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgebench import __version__
from edgebench.errors import EdgebenchError, ExportError, UnsupportedError
from edgebench.exporters.base import ConvertResult, Exporter, registry
from edgebench.exporters.context import ExportContext, precision_label
from edgebench.exporters.converter_errors import converter_error
from edgebench.exporters import reference
from edgebench.exporters.manifest import SUFFIX as MANIFEST_SUFFIX
from edgebench.exporters.manifest import build_manifest, file_facts, write_manifest
from edgebench.exporters.parity import FP32_MIN_SQNR_DB, compare, degenerate_reference, int8_agreement_warnings
from edgebench.exporters.progress import stage
from edgebench.results.model import ArtifactInfo, ErrorInfo, RunResult, Status
from edgebench.runner import RunnerError
from edgebench.runner.batch import run_batch
from edgebench.spec import ExportSpec, ModelSpec, Variant, spec_hash

EXPORT_TARGET = "export"  # RunResult.target of export rows: no device is involved
# Calibration inputs a static int8 artifact is also run on in the parity check (the first ones; the
# default calibration set is 32). MobileNetV2 int8, parity step with them: TFLite 0.016 -> 0.066 s,
# ONNX Runtime 0.086 -> 0.117 s (one artifact load for parity and calibration inputs)
CALIBRATION_CHECK_MAX = 32


@dataclass
class Cell:
    """One (format, variant) export of one model. ``spec`` names only this format and variant,
    and carries this format's Options (filled with defaults) as its only format options."""

    model_spec: ModelSpec
    spec: ExportSpec
    fmt: str

    @property
    def variant(self) -> Variant:
        """The cell's variant (transform + precision)."""
        return self.spec.variant

    @property
    def options(self) -> Any:
        """This cell's format Options (None for a format without options)."""
        return self.spec.format_options.get(self.fmt)

    @property
    def hash(self) -> str:
        """The cell's identity: a hash of the model spec and this cell's export spec (with its options)."""
        return spec_hash(self.model_spec, self.spec)


def distinct_label(loaded: Any, out_dir: Path) -> Any:
    """``loaded`` with a model label whose folder under ``out_dir`` holds no other source's export:
    two checkpoints both named ``best.pt`` (another folder, other bytes) get ``best`` and
    ``best-<sha256[:8]>``, so neither export overwrites the other. A zoo model, or a checkpoint
    whose bytes match what the folder already holds, keeps its label."""
    sha = (loaded.source or {}).get("sha256")
    if not sha:
        return loaded
    folder = Path(out_dir) / loaded.label
    others = set()
    for path in folder.glob("*" + MANIFEST_SUFFIX) if folder.is_dir() else ():
        try:
            source = (json.loads(path.read_text()) or {}).get("source") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if source.get("sha256"):
            others.add(source["sha256"])
    if not others or others == {sha}:
        return loaded
    return dataclasses.replace(loaded, label=f"{loaded.label}-{sha[:8]}")


def artifact_path(out_dir: Path, model_label: str, variant: Variant, extension: str) -> Path:
    """``<out_dir>/<model>/<model>-<variant><ext>``: where an artifact lands."""
    return Path(out_dir) / model_label / f"{model_label}-{variant.label}{extension}"


def _environment() -> dict[str, Any]:
    return {"host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
            "machine": platform.machine(), "edgebench": __version__}


def row(cell: Cell, label: str, status: Status, *, error: EdgebenchError | None = None,
        detail: str | None = None, **kw: Any) -> RunResult:
    """The RunResult(kind="export") of ``cell`` for model ``label`` with ``status``."""
    err = None
    if error is not None:
        err = ErrorInfo(error.stage, error.message, error.hint, detail)
    return RunResult(model=label, format=cell.fmt, variant=cell.variant.label, target=EXPORT_TARGET,
                     status=status, spec_hash=cell.hash, kind="export", error=err,
                     spec={"model": cell.model_spec.to_dict(), "export": cell.spec.to_dict()},
                     environment=_environment(), **kw)


def _is_script_module(module: Any) -> bool:
    import torch

    return isinstance(module, torch.jit.ScriptModule)


def skip_reason(cell: Cell) -> UnsupportedError | None:
    """Why ``cell`` cannot be exported here at all (converter missing, precision unsupported)."""
    exporter = registry.get(cell.fmt)
    reason = exporter.unavailable_reason()
    if reason is not None:
        return UnsupportedError(f"{cell.fmt} unavailable: {reason}", hint=exporter.install_hint())
    reason = exporter.supports(cell.variant)
    return UnsupportedError(reason) if reason is not None else None


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
    # a directory package cannot be os.replace'd over a non-empty one: park the old copy first
    if dest.is_dir():
        old = _temp_name(".old-", dest)
        os.replace(dest, old)
        os.replace(tmp, dest)
        _remove(old)
    else:
        os.replace(tmp, dest)


def run_cell(cell: Cell, ctx: ExportContext | None, loaded: Any) -> RunResult:
    """Export one cell; every outcome is a RunResult (never raises for a converter's failure).
    ``ctx`` may be None only when :func:`skip_reason` gives a reason."""
    exporter: Exporter = registry.get(cell.fmt)
    label = loaded.label
    skip = skip_reason(cell)
    if skip is not None:
        return row(cell, label, Status.UNSUPPORTED, error=skip)
    assert ctx is not None
    if not exporter.reads_torchscript and _is_script_module(ctx.module):
        return row(cell, label, Status.UNSUPPORTED, error=UnsupportedError(
            f"{cell.fmt} cannot start from a TorchScript checkpoint (its converter needs the Python "
            "nn.Module or a torch.export program)",
            hint="export from a state_dict with --arch or a torch.export .pt2; a TorchScript file "
                 "exports only to formats that read TorchScript"))
    dest = artifact_path(cell.spec.out_dir, label, cell.variant, exporter.extension_for(cell.options))
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(dest.parent)
    # the temp name keeps the extension: some converters pick the container format from it
    tmp = _temp_name(".tmp-", dest)
    t0 = time.perf_counter()
    try:
        try:
            with stage(f"{cell.fmt} {cell.variant.label}: convert"):
                result = exporter.convert(ctx, cell.spec, tmp, cell.options)
        except EdgebenchError:
            raise
        except Exception as exc:  # converters raise anything; it becomes one classified line
            raise converter_error(cell.fmt, exc, exporter.alternatives) from exc
        export_s = time.perf_counter() - t0
        if not tmp.exists():
            raise ExportError(f"{cell.fmt} converter wrote nothing at {tmp.name}")
        return _finish(cell, ctx, exporter, result, tmp, dest, export_s)
    except UnsupportedError as err:
        return row(cell, label, Status.UNSUPPORTED, error=err)
    except EdgebenchError as err:
        detail = traceback.format_exc(limit=-3) if err.__cause__ is not None else None
        return row(cell, label, Status.EXPORT_FAILED, error=err, detail=detail,
                   timings_s={"export": time.perf_counter() - t0})
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def artifact_outputs(exporter: Exporter, path: Path, inputs: list[Any]) -> list[Any]:
    """The first output (float32, batch dim kept) of the artifact at ``path`` for each batch-1
    input array, run by the format's runner runtime in this process (``run_batch``: the same
    bind / invoke / outputs code that ``edgebench run`` times). ExportError (stage ``parity``)
    when the runtime cannot load or run it."""
    try:
        outputs = run_batch(exporter.runtime, path, [[x] for x in inputs])
    except RunnerError as exc:
        raise ExportError(f"the {exporter.runtime} runtime cannot run the {exporter.name} artifact: {exc.message}",
                          stage="parity", hint=exc.hint or "re-export it, or try another format") from None
    return [sample[0] for sample in outputs]


def _parity(exporter: Exporter, ctx: ExportContext, path: Path) -> dict[str, Any]:
    classification = ctx.input_spec.task == "classification"
    image = ctx.input_spec.task == "image-to-image"  # PSNR / SSIM instead of top-1
    n_par = len(ctx.parity_inputs)
    n_cal = min(len(ctx.calibration), len(ctx.calibration_outputs), CALIBRATION_CHECK_MAX)
    # one load of the artifact for both input sets
    both = artifact_outputs(exporter, path, [x.numpy() for x in [*ctx.parity_inputs, *ctx.calibration[:n_cal]]])
    outs, cal_outs = both[:n_par], (both[n_par:] if n_cal else None)
    try:
        vs_eager = compare(ctx.reference_outputs, outs, classification=classification, image=image)
        vs_orig = (None if ctx.untransformed_outputs is None
                   else compare(ctx.untransformed_outputs, outs, classification=classification, image=image))
        # the inputs the int8 ranges were fitted on, against the same (transformed) eager module
        vs_cal = (None if cal_outs is None
                  else compare(ctx.calibration_outputs[:n_cal], cal_outs, classification=classification, image=image))
    except ValueError as exc:
        raise ExportError(f"{exporter.name} artifact outputs do not match the model's: {exc}",
                          stage="parity") from None
    parity = {"vs_eager": vs_eager, "vs_untransformed": vs_orig}
    if vs_cal is not None:
        parity["vs_eager_on_calibration"] = vs_cal
    return parity


def _finish(cell: Cell, ctx: ExportContext, exporter: Exporter, result: ConvertResult, tmp: Path, dest: Path,
            export_s: float) -> RunResult:
    warnings = [*ctx.notes, *result.notes]
    t0 = time.perf_counter()
    status = Status.OK
    error = None
    not_runnable = exporter.runnable_reason()
    if not_runnable is None:
        with stage(f"{cell.fmt} {cell.variant.label}: parity"):
            parity = _parity(exporter, ctx, tmp)
        eager = parity["vs_eager"]
        label = precision_label(cell.variant)
        degenerate = degenerate_reference(ctx.reference_outputs)
        if degenerate:  # SQNR of denormal-scale outputs measures float flushing, not the artifact
            warnings.append(degenerate)
            parity["unjudged"] = degenerate  # follows the artifact into `run` and `compare`
        if label == "fp32" and eager["sqnr_db"] < FP32_MIN_SQNR_DB and not degenerate:
            status = Status.PARITY_FAILED
            error = ExportError(f"fp32 {cell.fmt} artifact reaches {eager['sqnr_db']:.1f} dB SQNR against eager "
                                f"(needs ≥ {FP32_MIN_SQNR_DB:.0f} dB)", stage="parity",
                                hint="the artifact is kept; compare its outputs or try another format/opset")
        if label.startswith("int8") and not degenerate:
            warnings.extend(int8_agreement_warnings(eager, parity.get("vs_eager_on_calibration")))
    else:
        problems = exporter.check(tmp)
        if problems:
            raise ExportError(f"{cell.fmt} artifact fails its structural check: {'; '.join(problems)}")
        parity = {"vs_eager": None, "vs_untransformed": None}
        warnings.append(f"not run here ({not_runnable}): checked structurally, no parity numbers")
    parity_s = time.perf_counter() - t0
    facts = file_facts(tmp)
    _move_into_place(tmp, dest)
    manifest = build_manifest(exporter, cell.spec, cell.options, ctx, result, dest, facts, parity, warnings,
                              status.value, export_s)
    # the eager outputs on the export's inputs: `run --dataset` agreement without the checkpoint
    manifest["reference"] = (reference.write(dest.parent, ctx.loaded.label, ctx.reference_npz)
                             if ctx.reference_npz is not None else None)
    write_manifest(dest, manifest)
    info = ctx.transform_info
    artifact = ArtifactInfo(path=str(dest), format=cell.fmt, variant=cell.variant.label,
                            size_bytes=facts["size_bytes"], gzip_bytes=facts["gzip_bytes"], sha256=facts["sha256"],
                            params=manifest["params"], nonzero_params=manifest["nonzero_params"],
                            macs=manifest["macs"], packed_1bit_bytes=info.get("packed_1bit_bytes"),
                            manifest=manifest)
    return row(cell, ctx.loaded.label, status, error=error, artifact=artifact, parity=parity,
               timings_s={"export": round(export_s, 3), "parity": round(parity_s, 3)},
               warnings=tuple(warnings))
