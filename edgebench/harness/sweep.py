"""Sweeps: models × formats × variants × targets in one call, resumable.

Each cell's identity is the hash of (model spec, variant, format, target URI, bench spec). A cell
whose hash already has a finished result in the store (OK, PARITY_FAILED, UNSUPPORTED) is skipped,
so a sweep killed half-way resumes where it stopped; ``force`` re-runs everything. Exports go
through :func:`edgebench.exporters.export` once per model × variant with all the formats still
needed, so exporters share work across formats. Every result is stored the moment it exists.
"""

from __future__ import annotations

import dataclasses

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgebench import exporters
from edgebench.errors import EdgebenchError
from edgebench.harness.artifacts import from_path
from edgebench.harness.locks import Locks
from edgebench.harness.measure import measure_artifact
from edgebench.harness.paired import measure_together
from edgebench.results.model import ErrorInfo, RunResult, Status
from edgebench.spec import ExportSpec, ModelSpec, SweepSpec, Variant, spec_hash
from edgebench.targets import resolve

_EXPORT_OK = (Status.OK, Status.PARITY_FAILED)
HOST_TARGET = "local"  # exports run on this host: they load it like a local measurement does


@dataclass(frozen=True)
class Cell:
    """One model × variant × format × target of a sweep."""

    model: ModelSpec
    variant: Variant
    format: str
    target: str
    hash: str
    delegate: str | None = None  # the sweep's delegate axis (None: bench.delegate)

    @property
    def label(self) -> str:
        via = f" via {self.delegate}" if self.delegate else ""
        return f"{self.model.label} {self.format} {self.variant.label} @ {self.target}{via}"

    def bench(self, bench: Any) -> Any:
        """``bench`` with this cell's delegate."""
        return dataclasses.replace(bench, delegate=self.delegate) if self.delegate else bench

    def spec(self, bench: Any) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "variant": self.variant.to_dict(), "format": self.format,
                "target": self.target, "bench": self.bench(bench).to_dict()}


class Listener:
    """Progress hooks (the CLI draws a progress bar with them). Every method is optional."""

    def started(self, total: int, done: int) -> None:
        """``total`` cells, ``done`` of them already in the store."""

    def exporting(self, model: ModelSpec, variant: Variant, formats: tuple[str, ...]) -> None:
        """About to export one model × variant to ``formats``."""

    def measuring(self, cell: Cell) -> None:
        """About to measure one cell."""

    def finished(self, cell: Cell, result: RunResult, skipped: bool) -> None:
        """A cell has its result (``skipped``: it came from the store)."""


def cells(spec: SweepSpec) -> list[Cell]:
    """Every cell of the sweep, grouped by model then variant (the export order)."""
    out = []
    for model in spec.models:
        for variant in spec.variants:
            for fmt in spec.formats:
                for target in spec.targets:
                    # a format's [format_options.<fmt>] table is part of its cells' identity (absent:
                    # the hash stays what it was before format options existed, so old sweeps resume)
                    options = [dict(spec.format_options[fmt])] if spec.format_options.get(fmt) else []
                    for delegate in spec.delegates or (None,):
                        bench = dataclasses.replace(spec.bench, delegate=delegate) if delegate else spec.bench
                        h = spec_hash("sweep-cell", model, variant, fmt, target, bench, *options)
                        out.append(Cell(model, variant, fmt, target, h, delegate))
    return out


def _carry(cell: Cell, bench: Any, export: RunResult | None, store) -> RunResult:
    """A run row for a cell whose export did not give an artifact (its status and error carried over)."""
    if export is None:
        status, error = Status.EXPORT_FAILED, ErrorInfo("export", f"the exporters returned no {cell.format} result")
    else:
        status = export.status if export.status not in _EXPORT_OK else Status.EXPORT_FAILED
        error = export.error or ErrorInfo("export", f"export finished {export.status.value} without an artifact")
    result = RunResult(model=cell.model.label, format=cell.format, variant=cell.variant.label, target=cell.target,
                       status=status, spec_hash=cell.hash, spec=cell.spec(bench), error=error,
                       artifact=export.artifact if export else None, parity=export.parity if export else None)
    store.add(result)
    return result


def _export_failed(model: ModelSpec, variant: Variant, formats: tuple[str, ...], status: Status,
                   error: ErrorInfo) -> list[RunResult]:
    return [RunResult(model=model.label, format=f, variant=variant.label, target="", status=status, kind="export",
                      error=error) for f in formats]


def run_sweep(spec: SweepSpec, *, store, force: bool = False, listener: Listener | None = None,
              devices_file: Path | None = None) -> list[RunResult]:
    """Run every cell not yet in ``store`` (all of them with ``force``); return each cell's result
    (stored ones for skipped cells) in cell order. ``devices_file`` resolves target aliases."""
    listener = listener or Listener()
    # a bad format or target URI fails before any work
    for fmt in spec.formats:
        exporters.registry.get(fmt)
    targets = {uri: resolve(uri, devices_file=devices_file) for uri in spec.targets}
    exporters.check_format_options(spec.format_options)  # and so does a bad [format_options.*] table
    all_cells = cells(spec)
    results: dict[str, RunResult] = {}
    pending: list[Cell] = []
    for cell in all_cells:
        found = None if force else store.find_spec(cell.hash)
        if found is not None:
            results[cell.hash] = found
        else:
            pending.append(cell)
    listener.started(len(all_cells), len(all_cells) - len(pending))
    for cell in all_cells:
        if cell.hash in results:
            listener.finished(cell, results[cell.hash], True)

    groups: dict[tuple[ModelSpec, Variant], list[Cell]] = {}
    for cell in pending:
        groups.setdefault((cell.model, cell.variant), []).append(cell)
    # Another sweep on this database: a model × variant is exported and measured by one sweep at a
    # time (the other then finds its cells stored), and nothing is measured on a target while the
    # other sweep measures there or exports on this host.
    locks = Locks(store.path)
    wait = getattr(listener, "waiting", None)
    # paired = true: every artifact is exported first, then the cells of one model on one target are
    # measured together, interleaved in rounds (edgebench.harness.paired)
    together: dict[tuple[ModelSpec, str, str | None], list[tuple[Cell, Any, dict[str, Any]]]] = {}
    for (model, variant), group in groups.items():
        with locks.hold(f"cells {spec_hash(model, variant)}",
                        f"exporting and measuring {model.label} {variant.label}", wait):
            if not force:
                group = _claim(group, store, results, listener)
            if group:
                _run_group(spec, model, variant, group, store, targets, results, listener, locks, wait, together)
    for (_, uri, _), members in together.items():
        for cell, _, _ in members:
            listener.measuring(cell)
        target = targets[uri]
        bench = members[0][0].bench(spec.bench)  # one delegate per group
        with locks.hold(_target_lock(getattr(target, "uri", uri)), f"measuring {len(members)} artifacts paired", wait):
            measured = measure_together([(art, kw) for _, art, kw in members], target, bench, store=store)
        for (cell, _, _), result in zip(members, measured):
            results[cell.hash] = result
            listener.finished(cell, result, False)
    return [results[c.hash] for c in all_cells if c.hash in results]


def _claim(group: list[Cell], store, results: dict[str, RunResult], listener) -> list[Cell]:
    """The cells of ``group`` still to run (another sweep may have stored some while we waited)."""
    todo = []
    for cell in group:
        found = store.find_spec(cell.hash)
        if found is None:
            todo.append(cell)
        else:
            results[cell.hash] = found
            listener.finished(cell, found, True)
    return todo


def _run_group(spec: SweepSpec, model: ModelSpec, variant: Variant, group: list[Cell], store, targets: dict,
               results: dict[str, RunResult], listener, locks: Locks, wait,
               together: dict[tuple[ModelSpec, str, str | None], list[tuple[Cell, Any, dict[str, Any]]]]) -> None:
    formats = tuple(dict.fromkeys(c.format for c in group))
    listener.exporting(model, variant, formats)
    t0 = time.perf_counter()
    try:
        with locks.hold(_target_lock(HOST_TARGET), f"exporting {model.label} {variant.label} on this host", wait):
            t0 = time.perf_counter()  # the wait for the host is not export time
            exported = exporters.export(model, ExportSpec(formats=formats, variant=variant,
                                                          out_dir=spec.out_dir,
                                                          calibration_samples=spec.calibration_samples,
                                                          format_options=spec.format_options),
                                        store=store)
    except EdgebenchError as err:  # the model itself failed (e.g. a bad checkpoint): every cell says so
        status = Status.LOAD_FAILED if err.stage == "load" else Status.EXPORT_FAILED
        exported = _export_failed(model, variant, formats, status, ErrorInfo(err.stage, err.message, err.hint))
    except Exception as exc:  # a converter bug: recorded as EXPORT_FAILED with its traceback; the sweep goes on
        tail = "\n".join(traceback.format_exc().strip().splitlines()[-20:])
        exported = _export_failed(model, variant, formats, Status.EXPORT_FAILED,
                                  ErrorInfo("export", f"{type(exc).__name__}: {exc}".split("\n")[0],
                                            "a converter failed unexpectedly; see error.detail", tail))
    export_s = time.perf_counter() - t0
    by_format = {r.format: r for r in exported}
    for cell in group:
        export = by_format.get(cell.format)
        if export is None or export.status not in _EXPORT_OK or export.artifact is None:
            result = _carry(cell, spec.bench, export, store)
        else:
            artifact = from_path(Path(export.artifact.path))
            kw = dict(cell_hash=cell.hash, spec={**cell.spec(spec.bench), "export_s": export_s},
                      model=cell.model.label, variant=cell.variant.label)
            if spec.bench.paired:  # measured later, with the other cells of its model and target
                together.setdefault((cell.model, cell.target, cell.delegate), []).append((cell, artifact, kw))
                continue
            listener.measuring(cell)
            target = targets[cell.target]
            with locks.hold(_target_lock(getattr(target, "uri", cell.target)), f"measuring {cell.label}", wait):
                result = measure_artifact(artifact, target, cell.bench(spec.bench), store=store, **kw)
        results[cell.hash] = result
        listener.finished(cell, result, False)


def _target_lock(uri: str) -> str:
    return f"target {uri}"
