"""The runner protocol shared by every target: how a BenchSpec becomes the runner's command line.

The runner (:mod:`edgebench.runner`) runs as ``python -m edgebench.runner`` in a local subprocess
and as ``python3 runner.pyz`` (one zipapp file, :func:`runner_pyz`) on a Raspberry Pi over SSH, so
its command line is the contract. Local and SSH targets both build it here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from edgebench.errors import RunError, TargetError
from edgebench.runner import RUNTIMES, pack
from edgebench.runner.protocol import SCHEMA_VERSION
from edgebench.spec import BenchSpec

LOCAL_ENTRY = ("-m", "edgebench.runner")
SCHEMA_PATH = Path(pack.PACKAGE_DIR) / "raw_samples.schema.json"
RAW_SAMPLES_VERSION = SCHEMA_VERSION
PYZ_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgebench" / "runner"


def runner_pyz(cache_dir: Path | None = None) -> Path:
    """The runner as one zipapp file (built once per runner content into ``cache_dir``, default
    ``$XDG_CACHE_HOME/edgebench/runner``); what the SSH target copies to a device. TargetError
    (stage deploy) when the cache directory cannot be written."""
    where = cache_dir or PYZ_CACHE
    try:
        return pack.build_zipapp(where)
    except OSError as exc:
        raise TargetError(f"cannot build runner.pyz in {where}: {exc}", stage="deploy",
                          hint="make that directory writable or set XDG_CACHE_HOME to one that is") from None


def runtime_for_module(module: str) -> str:
    """The runner runtime that imports ``module`` (e.g. ``ai_edge_litert`` → ``litert``);
    KeyError when no runtime does."""
    for name, cls in RUNTIMES.items():
        if cls.module == module:
            return name
    raise KeyError(module)


def runner_argv(
    python: str,
    entry: Sequence[str] | str,
    model: str,
    runtime: str,
    bench: BenchSpec,
    out_json: str,
    *,
    fmt_label: str | None = None,
    inputs_npy: str | None = None,
    outputs_npy: str | None = None,
) -> list[str]:
    """argv for ``python ENTRY MODEL --runtime NAME --json OUT …`` (a list: never a shell string).

    ``entry``: ``LOCAL_ENTRY`` (``["-m", "edgebench.runner"]``) locally, or the path of
    ``runner.pyz`` on the device. ``fmt_label``: the artifact's format, echoed into the RawSamples.
    ``inputs_npy``: a .npy (one input) / .npz batch whose rows are fed one by one after timing
    (accuracy); ``outputs_npy``: where the runner writes the outputs for those rows.
    """
    entry_args = [entry] if isinstance(entry, (str, os.PathLike)) else list(entry)
    argv = [python, *(str(e) for e in entry_args), model, "--runtime", runtime, "--json", out_json,
            "--warmup-runs", str(bench.warmup_runs), "--warmup-seconds", repr(bench.warmup_seconds),
            "--runs", str(bench.runs), "--min-seconds", repr(bench.min_seconds),
            "--max-seconds", repr(bench.max_seconds)]
    if bench.threads:
        argv += ["--threads", str(bench.threads)]
    if bench.input_shape:
        argv += ["--input-shape", ",".join(str(d) for d in bench.input_shape)]
    if bench.include_io:
        argv.append("--include-io")
    if fmt_label:
        argv += ["--format", fmt_label]
    if inputs_npy:
        argv += ["--inputs", inputs_npy]
    if outputs_npy:
        argv += ["--outputs", outputs_npy]
    return argv


STDERR_TAIL_LINES = 20


class RunnerFailed(RunError):
    """The runner process died or wrote no usable result; ``detail`` holds its stderr tail."""

    def __init__(self, message: str, *, detail: str | None = None, hint: str | None = None,
                 stage: str | None = None):
        super().__init__(message, hint=hint, stage=stage)
        self.detail = detail


class RunnerTimeout(RunnerFailed):
    """The runner did not finish within BenchSpec.timeout_seconds."""

    stage = "timeout"


def stderr_tail(text: str | bytes | None, lines: int = STDERR_TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of a process's stderr (what a crash report needs)."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    kept = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


def _exit_reason(returncode: int) -> str:
    import signal

    sig = -returncode if returncode < 0 else (returncode - 128 if 128 < returncode < 160 else None)
    if sig:
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"exit code {returncode}"


def read_raw_samples(returncode: int, json_text: str | None, stderr: str | bytes | None) -> dict:
    """The RawSamples dict a runner wrote, or RunnerFailed (crash, segfault, no or broken JSON)
    carrying the stderr tail. Shared by every target that runs the runner."""
    import json

    tail = stderr_tail(stderr)
    if json_text:
        try:
            data = json.loads(json_text)
        except json.JSONDecodeError as exc:
            raise RunnerFailed(f"runner wrote invalid JSON ({exc}); {_exit_reason(returncode)}", detail=tail) from None
        if isinstance(data, dict) and data.get("schema_version") == RAW_SAMPLES_VERSION:
            return data
        raise RunnerFailed("runner output is not RawSamples v1", detail=tail)
    last = tail.splitlines()[-1] if tail else "no stderr"
    raise RunnerFailed(f"runner crashed ({_exit_reason(returncode)}): {last}", detail=tail,
                       hint="see the stderr tail in the result's error.detail (edgebench compare -o json)")
