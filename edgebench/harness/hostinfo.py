"""The harness machine's environment for a RunResult: host, library versions, edgebench version.

The host facts come from the runner's own probes (:func:`edgebench.runner.probes.host_info`), so
the machine that measures and the machine that records are described the same way.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
from typing import Any

from edgebench import __version__
from edgebench.exporters import all_libraries
from edgebench.runner import probes

# the core stack, every format's libraries (converters and runtimes), and the statistics stack
LIBRARIES = tuple(dict.fromkeys(("torch", "torchvision", "numpy", *all_libraries(), "scipy", "scikit-learn")))


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that shape a measurement (None when missing)."""
    out: dict[str, str | None] = {}
    for dist in LIBRARIES:
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


def environment() -> dict[str, Any]:
    """edgebench version, Python, the harness host (CPU, cores, governors, affinity) and libraries."""
    return {"edgebench": __version__, "python": platform.python_version(), "host": probes.host_info(),
            "libraries": library_versions()}
