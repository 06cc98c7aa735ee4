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
from edgebench.exporters.base import registry
from edgebench.exporters.cells import Cell, row, run_cell, skip_reason
from edgebench.results.model import RunResult, Status
from edgebench.results.store import Store


def _group_key(cell: Cell) -> tuple:
    v = cell.variant
    return (cell.fmt, v.transform, v.amount, v.binarize_activations)


def run_parallel(builder: Any, cells: list, workers: int, emit: Callable[..., None],
                 store_path: Any = None) -> None:
    """Export ``cells`` with up to ``workers`` processes; ``emit(row, stored=...)`` each row (workers
    write their rows to ``store_path`` themselves). Groups start longest first, by the formats'
    relative ``cost``."""
    groups: dict[tuple, list] = {}
    for cell in cells:
        if skip_reason(cell) is not None:
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
                emit(row(cell, builder.loaded.label, Status.UNSUPPORTED, error=err))
                continue
            except EdgebenchError as err:
                emit(row(cell, builder.loaded.label, Status.EXPORT_FAILED, error=err))
                continue
            payload.append((cell, ctx))
        if payload:
            jobs.append((registry.get(key[0]).cost * len(payload), payload))
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
                        emit(row(cell, builder.loaded.label, Status.EXPORT_FAILED, error=err))
                    continue
                for result in rows:
                    emit(result, stored=store_path is not None)


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
    """Worker process: run one group's cells, storing each row as it exists. (Unpickling the cells
    imports ``edgebench.exporters``, which registers every format in this process.)"""
    import torch  # heavy: only the worker process needs it here

    torch.set_num_threads(threads)
    store = Store(store_path) if store_path is not None else None
    rows = []
    try:
        for cell, ctx in pickle.loads(blob):
            result = run_cell(cell, ctx, ctx.loaded)
            if store is not None:
                store.add(result)
            rows.append(result)
    finally:
        if store is not None:
            store.close()
    return rows
