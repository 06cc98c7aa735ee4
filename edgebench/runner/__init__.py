"""The runner: measures one model file with one runtime and writes RawSamples JSON; batch mode runs
given inputs through the same runtime code (parity, agreement, accuracy).

A leaf package: it imports nothing else from edgebench — stdlib + numpy + the one runtime library
a model needs (imported lazily by its runtime module) — so it runs as ``python -m edgebench.runner``
here and as one zipapp file (``python3 runner.pyz``, see :mod:`edgebench.runner.pack`) on a device.
"""

from __future__ import annotations

from .batch import run_batch
from .errors import RunnerError
from .protocol import main
from .runtimes import RUNTIMES, Runtime, get_runtime

__all__ = ["RUNTIMES", "Runtime", "RunnerError", "get_runtime", "main", "run_batch"]
