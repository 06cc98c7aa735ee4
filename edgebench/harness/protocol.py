"""The runner protocol shared by every target: how a BenchSpec becomes runner.py's command line.

``runner.py`` is copied as-is to wherever it runs (a local subprocess, a Raspberry Pi over SSH),
so its command line is the contract. Local and SSH targets both build it here.
"""

from __future__ import annotations

from pathlib import Path

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
