"""The runner's command line and its reply, as every runner-based target uses them.

``edgebench/runner/`` runs on the device (``python -m edgebench.runner`` locally, ``python3
runner.pyz`` over SSH, :func:`runner_pyz`); its command line is the contract, built here from a
BenchSpec, and its reply is the RawSamples JSON it writes, read here.
:mod:`edgebench.harness.protocol` re-exports these for the harness and the tests.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Sequence

from edgebench.errors import TargetError
from edgebench.runner import pack
from edgebench.runner.protocol import SCHEMA_VERSION
from edgebench.spec import BenchSpec
from edgebench.targets.transport import RunnerFailed

LOCAL_ENTRY = ("-m", "edgebench.runner")
RAW_SAMPLES_VERSION = SCHEMA_VERSION
STDERR_TAIL_LINES = 20
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


def runner_argv(python: str, entry: str | os.PathLike | Sequence[str], model_path: str, runtime: str, bench: BenchSpec,
                out_json: str, *, fmt_label: str | None = None, inputs_npy: str | None = None,
                outputs_npy: str | None = None, feed: str | None = None) -> list[str]:
    """argv for ``PYTHON ENTRY MODEL --runtime NAME --json OUT …`` (a list, never a shell string).

    ``entry``: ``["-m", "edgebench.runner"]`` locally or the ``runner.pyz`` path on a device;
    ``bench.delegate``: ``--delegate`` (the runtime checks the name); ``fmt_label``: opaque label
    echoed into RawSamples; ``inputs_npy``: a .npy batch whose rows are fed one by one after timing
    (accuracy); ``outputs_npy``: where the runner writes their outputs (with ``feed`` alone: the timed
    loop's outputs, a .npz); ``feed``: a .npz the timed loop feeds.
    """
    entry_args = [entry] if isinstance(entry, (str, os.PathLike)) else list(entry)
    argv = [python, *(str(e) for e in entry_args), model_path, "--runtime", runtime, "--json", out_json,
            "--warmup-runs", str(bench.warmup_runs), "--warmup-seconds", repr(bench.warmup_seconds),
            "--runs", str(bench.runs), "--min-seconds", repr(bench.min_seconds),
            "--max-seconds", repr(bench.max_seconds)]
    if fmt_label:
        argv += ["--format", fmt_label]
    if bench.threads:
        argv += ["--threads", str(bench.threads)]
    if bench.input_shape:
        argv += ["--input-shape", ",".join(str(d) for d in bench.input_shape)]
    if bench.include_io:
        argv.append("--include-io")
    if bench.delegate:
        argv += ["--delegate", bench.delegate]
    if inputs_npy:
        argv += ["--inputs", inputs_npy]
    if outputs_npy:
        argv += ["--outputs", outputs_npy]
    if bench.profile_ops:
        argv.append("--profile-ops")
    if feed:
        argv += ["--feed", feed]
    return argv


def stderr_tail(text: str | bytes | None, lines: int = STDERR_TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of a process's stderr (what a crash report needs)."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    kept = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


def exit_reason(returncode: int) -> str:
    """``exit code N`` or ``killed by SIGNAME`` (a negative code, or 128+N from a shell)."""
    sig = -returncode if returncode < 0 else (returncode - 128 if 128 < returncode < 160 else None)
    if sig:
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"exit code {returncode}"


def read_raw_samples(returncode: int, json_text: str | None, stderr: str | bytes | None) -> dict:
    """The RawSamples dict a runner wrote, or RunnerFailed (crash, segfault, no or broken JSON)
    carrying the stderr tail in ``detail``."""
    tail = stderr_tail(stderr)
    if json_text:
        try:
            data = json.loads(json_text)
        except json.JSONDecodeError as exc:
            raise RunnerFailed(f"runner wrote invalid JSON ({exc}); {exit_reason(returncode)}", detail=tail) from None
        if isinstance(data, dict) and data.get("schema_version") == RAW_SAMPLES_VERSION:
            return data
        raise RunnerFailed("runner output is not RawSamples v1", detail=tail)
    last = tail.splitlines()[-1] if tail else "no stderr"
    raise RunnerFailed(f"runner crashed ({exit_reason(returncode)}): {last}", detail=tail,
                       hint="see the stderr tail in the result's error.detail (edgebench compare -o json)")
