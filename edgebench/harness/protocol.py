"""The runner protocol shared by every target: how a BenchSpec becomes runner.py's command line.

``runner.py`` is copied as-is to wherever it runs (a local subprocess, a Raspberry Pi over SSH),
so its command line is the contract. Local and SSH targets both build it here.
"""

from __future__ import annotations

from pathlib import Path

from edgebench.errors import RunError
from edgebench.spec import BenchSpec

RUNNER_PATH = Path(__file__).with_name("runner.py")
SCHEMA_PATH = Path(__file__).with_name("raw_samples.schema.json")
RAW_SAMPLES_VERSION = 1


def runner_argv(
    python: str,
    runner: str,
    model_path: str,
    fmt: str,
    bench: BenchSpec,
    out_json: str,
    *,
    inputs_npy: str | None = None,
    outputs_npy: str | None = None,
) -> list[str]:
    """argv for ``python runner.py MODEL --format F … --json OUT`` (a list: never a shell string).

    ``inputs_npy``: a .npy batch whose rows are fed one by one after timing (accuracy);
    ``outputs_npy``: where the runner writes the outputs for those rows.
    """
    argv = [python, runner, model_path, "--format", fmt, "--json", out_json,
            "--warmup-runs", str(bench.warmup_runs), "--warmup-seconds", repr(bench.warmup_seconds),
            "--runs", str(bench.runs), "--min-seconds", repr(bench.min_seconds),
            "--max-seconds", repr(bench.max_seconds)]
    if bench.threads:
        argv += ["--threads", str(bench.threads)]
    if bench.input_shape:
        argv += ["--input-shape", ",".join(str(d) for d in bench.input_shape)]
    if bench.include_io:
        argv.append("--include-io")
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
    carrying the stderr tail. Shared by every target that runs runner.py."""
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
