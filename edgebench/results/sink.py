"""A store-like sink: every record goes to the results store first, then to each listener.

Code that writes results takes "a store" (anything with ``add``); wrapping the store in a
:class:`Sink` adds side outputs (MLflow, :mod:`edgebench.results.mlflow_log`) and a sweep name
without touching that code. Reads (``results``, ``find_spec``, ``path`` …) go to the store.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable

from edgebench.results.model import RunResult
from edgebench.results.store import Store


class Sink:
    """Wraps ``store``: ``add(record)`` stores the record (with ``spec["sweep"] = sweep`` on new
    run/export records when ``sweep`` is given), then calls each listener with it. A listener's
    error propagates after the record is safely stored."""

    def __init__(self, store: Store, listeners: Iterable[Callable[[Any], Any]] = (), *, sweep: str | None = None):
        self.store = store
        self.listeners = tuple(listeners)
        self.sweep = sweep

    def add(self, record: Any) -> None:
        if self.sweep and isinstance(record, RunResult) and (record.spec or {}).get("sweep") != self.sweep:
            record = dataclasses.replace(record, spec={**(record.spec or {}), "sweep": self.sweep})
        self.store.add(record)
        for listener in self.listeners:
            listener(record)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()
