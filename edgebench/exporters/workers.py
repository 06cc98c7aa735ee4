"""Parallel export: (format, transform) groups of cells in separate worker processes.

Workers are *spawned*, not forked: a fork after torch has used its OpenMP pool hangs the child's
first parallel kernel. Each group gets its contexts pickled (module, inputs, reference outputs);
the cells of one group share one trace / ``torch.export`` / fp32 intermediate, as in-process.
Each worker writes its rows to the results database itself, the moment each exists.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any, Callable

from edgebench.errors import ConfigError, EdgebenchError, ExportError, UnsupportedError
from edgebench.results.model import RunResult, Status

# Rough relative conversion cost per cell, so the longest groups start first.
_COST = {"tflite": 6.0, "onnx": 3.0, "coreml": 2.0, "torchscript": 1.0}


def _group_key(cell: Any) -> tuple:
    v = cell.variant
    return (cell.fmt, v.transform, v.amount, v.binarize_activations)


def run_parallel(builder: Any, cells: list, workers: int, emit: Callable[..., None],
                 store_path: Any = None) -> None:
    """Export ``cells`` with up to ``workers`` processes; ``emit(row, stored=...)`` each row (workers
    write their rows to ``store_path`` themselves)."""
    from edgebench.exporters.base import registry
    from edgebench.exporters.pipeline import _row, run_cell

    groups: dict[tuple, list] = {}
    for cell in cells:
        exporter = registry.get(cell.fmt)
        if exporter.unavailable_reason() is not None or exporter.supports(cell.variant) is not None:
            emit(run_cell(cell, None, builder.loaded))  # a reason row needs no work
            continue
        groups.setdefault(_group_key(cell), []).append(cell)
    jobs = []
    for key, group in groups.items():
        payload = []
        for cell in group:
            try:
                ctx = builder.context(cell.variant)
            except ConfigError:
                raise
            except UnsupportedError as err:
                emit(_row(cell, builder.loaded.label, Status.UNSUPPORTED, error=err))
                continue
            except EdgebenchError as err:
                emit(_row(cell, builder.loaded.label, Status.EXPORT_FAILED, error=err))
                continue
            payload.append((cell, ctx))
        if payload:
            jobs.append((_COST.get(key[0], 2.0) * len(payload), payload))
    if not jobs:
        return
    jobs.sort(key=lambda j: -j[0])
    threads = max(1, (os.cpu_count() or 1) // min(workers, len(jobs)))
    ctx_mp = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx_mp) as pool:
        futures = {pool.submit(_work, _pack(payload), store_path, threads): payload for _, payload in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                try:
                    rows = fut.result()
                except BrokenProcessPool as exc:  # a converter crashed its process (e.g. a segfault)
                    err = ExportError(f"the export worker died: {exc}", hint="re-run with --jobs 1 to see the error")
                    for cell, _ctx in futures[fut]:
                        emit(_row(cell, builder.loaded.label, Status.EXPORT_FAILED, error=err))
                    continue
                for row in rows:
                    emit(row, stored=store_path is not None)


def _pack(payload: list) -> bytes:
    # one pickle per group: contexts of one transform keep sharing their module and cache dict
    slim = []
    for cell, ctx in payload:
        loaded = replace(ctx.loaded, module=None) if ctx.loaded.module is not ctx.module else ctx.loaded
        slim.append((cell, replace(ctx, loaded=loaded, shared={})))
    shared: dict = {}
    for _, ctx in slim:
        ctx.shared = shared
    return pickle.dumps(slim)


def _work(blob: bytes, store_path: Any, threads: int) -> list[RunResult]:
    """Worker process: run one group's cells, storing each row as it exists."""
    import torch

    import edgebench.exporters  # noqa: F401  (registers the exporters in this process)
    from edgebench.exporters.pipeline import run_cell

    torch.set_num_threads(threads)
    store = None
    if store_path is not None:
        from edgebench.results import Store

        store = Store(store_path)
    rows = []
    try:
        for cell, ctx in pickle.loads(blob):
            row = run_cell(cell, ctx, ctx.loaded)
            if store is not None:
                store.add(row)
            rows.append(row)
    finally:
        if store is not None:
            store.close()
    return rows
