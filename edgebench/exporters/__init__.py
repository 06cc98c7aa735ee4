"""Format plug-ins: one file per format, each registering an :class:`Exporter` instance by name.

``export(model_spec, export_spec, store=...)`` is the one entry point (CLI and sweeps call it).
Everything about a format is data on its plug-in; other modules derive their lists from here:

- ``registry`` — every plug-in; ``formats()`` — their names;
- ``for_suffix(path)`` — the plug-in for a file (None if no format knows its suffix);
- ``runtime_for(fmt)`` — the ``edgebench.runner`` runtime that runs a format;
- ``all_libraries()`` — every pip distribution a format versions;
- ``format_option_fields()`` — one CLI flag per field of every format's ``Options``.
"""

from __future__ import annotations

import sys

from edgebench.exporters.base import (
    ConvertResult, Exporter, all_libraries, for_suffix, format_option_fields, formats, register, registry,
    runtime_for,
)
from edgebench.exporters.context import ExportContext, precision_label
from edgebench.exporters.pipeline import MATRIX_VARIANTS, check_format_options, export
from edgebench.plugins import discover

__all__ = ["ConvertResult", "ExportContext", "Exporter", "MATRIX_VARIANTS", "all_libraries",
           "check_format_options", "export", "for_suffix", "format_option_fields", "formats",
           "precision_label", "register", "registry", "runtime_for"]

# every module here that is not a format plug-in
_NOT_PLUGINS = ("base", "cells", "context", "converter_errors", "manifest", "options", "parity", "pipeline",
                "workers")
discover(sys.modules[__name__], skip=_NOT_PLUGINS)
