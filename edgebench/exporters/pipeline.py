"""The export pipeline: check the request, load the model once, then every (variant, format) cell.

:func:`export` validates everything before any work (formats, their options, calibration), loads
the model, builds one context per variant (:mod:`.context`) and runs each cell (:mod:`.cells`) in
this process, or (format, transform) groups in parallel worker processes (:mod:`.workers`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from edgebench.errors import ConfigError, EdgebenchError, LoadError, UnsupportedError
from edgebench.exporters.base import Exporter, registry
# is_temp_name: artifact discovery asks here which names are unfinished exports
from edgebench.exporters.cells import Cell, distinct_label, is_temp_name, row, run_cell, skip_reason  # noqa: F401
from edgebench.exporters.context import ContextBuilder
from edgebench.exporters.variants.calibration import image_files
from edgebench.exporters.workers import run_parallel
from edgebench.models import load
from edgebench.results.model import RunResult, Status
from edgebench.spec import ExportSpec, ModelSpec, Variant

# The ``--all`` matrix: every precision of the untouched model, then the torch-level variants.
MATRIX_VARIANTS: tuple[Variant, ...] = (
    Variant("fp32"), Variant("fp16"), Variant("int8"), Variant("int8", int8_mode="dynamic"),
    Variant("fp32", transform="prune", amount=0.5),
    Variant("fp32", transform="prune_structured", amount=0.5),
    Variant("fp32", transform="binarize"),
)


def validate(formats: Iterable[str], spec: ExportSpec) -> dict[str, Any]:
    """Each format's checked Options (format → Options or None); ConfigError for an unknown format,
    options of an unknown format, a bad option value (options of formats not in ``formats`` are
    checked too, then unused: the CLI and sweep files refuse them before they get here), or a bad
    calibration request — before any work."""
    formats = list(formats)
    if not formats:
        raise ConfigError("no format given", hint=f"--format one of {', '.join(registry.names())}")
    if spec.calibration_samples < 1:
        raise ConfigError(f"--calibration-samples {spec.calibration_samples} must be at least 1")
    if spec.parity_samples < 1:
        raise ConfigError(f"parity samples {spec.parity_samples} must be at least 1")
    if spec.calibration_dir is not None:
        image_files(spec.calibration_dir)  # a missing / empty folder fails before any work
    exporters: list[Exporter] = [registry.get(f) for f in formats]
    check_format_options(spec.format_options)  # also options of formats not exported this time
    options = {e.name: e.options_for(spec) for e in exporters}
    try:  # a read-only or full disk fails before the model is even loaded
        Path(spec.out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --out {spec.out_dir}: {exc.strerror}",
                          hint="pass --out on a writable disk") from None
    if not os.access(spec.out_dir, os.W_OK):
        raise ConfigError(f"--out {spec.out_dir} is not writable", hint="pass --out on a writable disk")
    return options


def check_format_options(format_options: dict[str, Any]) -> None:
    """ConfigError when a ``format → options`` mapping (a sweep file's ``[format_options.*]``
    tables) names an unknown format or holds an option its format cannot take."""
    for fmt, values in format_options.items():
        registry.get(fmt).options(values)


def cells(model_spec: ModelSpec, spec: ExportSpec, variants: Sequence[Variant],
          options: dict[str, Any]) -> list[Cell]:
    """One cell per (variant, format); each cell's spec holds only its own format's options."""
    return [Cell(model_spec, dataclasses.replace(spec, formats=(fmt,), variant=v,
                                                 format_options={} if options[fmt] is None else {fmt: options[fmt]}),
                 fmt)
            for v in variants for fmt in spec.formats]


def export(model_spec: ModelSpec, export_spec: ExportSpec, *, store: Any = None,
           variants: Sequence[Variant] | None = None, workers: int = 1,
           on_result: Callable[[RunResult], None] | None = None) -> list[RunResult]:
    """Export ``model_spec`` to every format of ``export_spec`` for each of ``variants`` (default:
    ``export_spec.variant``). One RunResult per (variant, format), written to ``store`` and passed
    to ``on_result`` as it exists. ``workers`` > 1 runs (format, transform) groups in parallel
    worker processes. Bad options raise ConfigError before any work; a model that cannot be
    loaded gives LOAD_FAILED rows."""
    variants = list(variants or [export_spec.variant])
    options = validate(export_spec.formats, export_spec)
    todo = cells(model_spec, export_spec, variants, options)
    results: list[RunResult] = []

    def emit(result: RunResult, stored: bool = False) -> None:
        results.append(result)
        if store is not None and not stored:
            store.add(result)
        if on_result is not None:
            on_result(result)

    try:
        loaded = load(model_spec)
    except LoadError as err:
        for cell in todo:
            emit(row(cell, model_spec.label, Status.LOAD_FAILED, error=err))
        return results

    loaded = distinct_label(loaded, export_spec.out_dir)  # best.pt from another folder: its own path
    builder = ContextBuilder(loaded, export_spec)
    if workers > 1 and len(todo) > 1:
        run_parallel(builder, todo, workers, emit, store.path if store is not None else None)
        return results
    for cell in todo:
        emit(_run(builder, cell))
    return results


def _run(builder: ContextBuilder, cell: Cell) -> RunResult:
    """One cell in this process: context (transform errors become rows), then :func:`run_cell`."""
    if skip_reason(cell) is not None:
        return run_cell(cell, None, builder.loaded)
    try:
        ctx = builder.context(cell.variant)
    except UnsupportedError as err:
        return row(cell, builder.loaded.label, Status.UNSUPPORTED, error=err)
    except ConfigError:
        raise
    except EdgebenchError as err:
        return row(cell, builder.loaded.label, Status.EXPORT_FAILED, error=err)
    return run_cell(cell, ctx, builder.loaded)
