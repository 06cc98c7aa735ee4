"""Exporters: one file per format, each registering an Exporter instance by name.

``export(model_spec, export_spec, store=...)`` is the one entry point (CLI and sweeps call it);
``registry`` holds every exporter; :mod:`~edgebench.exporters.manifest` reads and writes the JSON
beside each artifact.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from edgebench.exporters.base import (
    ConvertResult, ExportContext, Exporter, precision_label, register, registry,
)
from edgebench.plugins import discover

if TYPE_CHECKING:
    from edgebench.results import RunResult, Store
    from edgebench.spec import ExportSpec, ModelSpec

__all__ = ["ConvertResult", "ExportContext", "Exporter", "export", "precision_label", "register",
           "registry"]


def export(model_spec: "ModelSpec", export_spec: "ExportSpec", *, store: "Store | None" = None,
           **options: Any) -> "list[RunResult]":
    """Export ``model_spec`` to every format in ``export_spec``: one RunResult(kind="export") per
    format (OK / PARITY_FAILED / UNSUPPORTED / EXPORT_FAILED / LOAD_FAILED), each written to
    ``store`` the moment it exists. Artifacts and manifests land under ``export_spec.out_dir``."""
    from edgebench.exporters.pipeline import export as _export

    return _export(model_spec, export_spec, store=store, **options)


discover(sys.modules[__name__], skip=("base", "manifest", "parity", "pipeline", "matrix", "workers"))
