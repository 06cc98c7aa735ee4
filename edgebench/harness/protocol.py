"""The runner protocol as the harness and tests see it: the runner's command line, its RawSamples
reply and the schema. The targets build and read them (:mod:`edgebench.targets.runner_command`,
below the harness in the layers); this module names them for everything above.

The runner (:mod:`edgebench.runner`) runs as ``python -m edgebench.runner`` in a local subprocess
and as ``python3 runner.pyz`` (one zipapp file, :func:`runner_pyz`) on a device over SSH.
"""

from __future__ import annotations

from pathlib import Path

from edgebench.runner import pack
from edgebench.targets.runner_command import (
    LOCAL_ENTRY, PYZ_CACHE, RAW_SAMPLES_VERSION, STDERR_TAIL_LINES, read_raw_samples, runner_argv, runner_pyz,
    stderr_tail,
)
from edgebench.targets.transport import RunnerFailed, RunnerTimeout

SCHEMA_PATH = Path(pack.PACKAGE_DIR) / "raw_samples.schema.json"

__all__ = ["LOCAL_ENTRY", "PYZ_CACHE", "RAW_SAMPLES_VERSION", "SCHEMA_PATH", "STDERR_TAIL_LINES", "RunnerFailed",
           "RunnerTimeout", "read_raw_samples", "runner_argv", "runner_pyz", "stderr_tail"]

