"""The ``benchmark_model`` Android runner: LiteRT's native benchmark tool, pushed to the device.

The binary for android_arm64 comes from ``benchmark_binary`` (CLI ``--benchmark-binary PATH``).
Prebuilt nightly binaries are linked from https://ai.google.dev/edge/litert/models/measurement
("Native benchmark binary"). Its text output, of any LiteRT / TFLite era, is parsed by
:mod:`edgebench.targets.benchmark_model`.
"""

from __future__ import annotations

from typing import Any

from edgebench.errors import RunError, TargetError
from edgebench.spec import BenchSpec
from edgebench.targets.adb_runner import AndroidRunner, expand, register
from edgebench.targets.base import Deployed
from edgebench.targets.benchmark_model import parse
from edgebench.targets.transport import RunnerFailed, tail

DOCS = "https://ai.google.dev/edge/litert/models/measurement"
# the target's `delegate` option → the tool's flags
DELEGATE_FLAGS = {"cpu": (), "xnnpack": ("--use_xnnpack=true",), "gpu": ("--use_gpu=true",),
                  "nnapi": ("--use_nnapi=true",)}


@register("benchmark_model")
class BenchmarkModelRunner(AndroidRunner):
    """LiteRT's ``benchmark_model`` run in the per-run directory; its output parsed."""

    delegates = tuple(DELEGATE_FLAGS)

    def doctor(self) -> list[tuple[str, bool, str]]:
        binary = expand(self.options.benchmark_binary)
        ok = binary is not None and binary.is_file()
        return [("benchmark_model", ok, str(binary) if ok else
                 f"pass --benchmark-binary PATH (android_aarch64_benchmark_model from {DOCS})")]

    def check(self) -> None:
        binary = expand(self.options.benchmark_binary)
        if binary is None or not binary.is_file():
            raise TargetError(f"no benchmark_model binary{f' at {binary}' if binary else ''}", stage="deploy",
                              hint=f"download android_aarch64_benchmark_model ({DOCS}) and pass "
                                   "--benchmark-binary PATH, or use runner = \"app\"")

    def deploy(self, deployed: Deployed) -> None:
        binary = expand(self.options.benchmark_binary)
        assert binary is not None  # check() ran first
        deployed.extra["binary"] = f"{deployed.remote_dir}/benchmark_model"
        self.transport.push(binary, deployed.extra["binary"])
        self.transport.run(["chmod", "755", deployed.extra["binary"]], timeout=60, check=True, stage="deploy")

    def delegate(self, bench: BenchSpec) -> str:
        """The delegate of this run: the bench's (``run --delegate``, a sweep's axis), else the
        target's option, else ``cpu``. RunError naming the tool's delegates for any other name."""
        name = bench.delegate or self.options.delegate or "cpu"
        if name not in DELEGATE_FLAGS:
            raise RunError(f"unknown delegate {name!r} for benchmark_model",
                           hint=f"available: {', '.join(DELEGATE_FLAGS)}")
        return name

    def argv(self, deployed: Deployed, bench: BenchSpec) -> list[str]:
        """The tool's command line for ``bench`` (threads, warm-up runs and seconds, runs, min /
        max seconds, peak-memory monitoring, the delegate's flags, ``--enable_op_profiling`` with
        ``bench.profile_ops``, then ``benchmark_args``)."""
        return [deployed.extra["binary"], f"--graph={deployed.model_path}",
                f"--num_threads={bench.threads or -1}", f"--warmup_runs={bench.warmup_runs}",
                f"--warmup_min_secs={bench.warmup_seconds}", f"--num_runs={bench.runs}",
                f"--min_secs={bench.min_seconds}", f"--max_secs={bench.max_seconds}",
                "--report_peak_memory_footprint=true", *DELEGATE_FLAGS[self.delegate(bench)],
                *(["--enable_op_profiling=true"] if bench.profile_ops else []),
                *map(str, self.options.benchmark_args)]

    def measure(self, deployed: Deployed, bench: BenchSpec) -> dict[str, Any]:
        try:
            proc = self.transport.run(self.argv(deployed, bench), timeout=bench.timeout_seconds, stage="run")
        except TargetError as err:  # the device went away under a running measurement
            raise RunnerFailed(err.message, hint=err.hint, stage="run") from None
        text = proc.stdout + "\n" + proc.stderr
        try:
            raw = parse(text, model_path=deployed.model_path, fmt=deployed.label)
        except RunError:
            # a stream cut short by a vanished device looks like a tool failure: ask adb which it was
            if not self.transport.online():
                raise RunnerFailed(f"device {self.transport.where} disconnected during the run "
                                   f"(exit {proc.returncode})", detail=tail(text), stage="run",
                                   hint="check the cable / adb connect; the cell can be re-run") from None
            raise
        if bench.threads:
            raw["threads"] = bench.threads
        if raw.get("delegate") is None and self.delegate(bench) != "cpu":
            raw["delegate"] = self.delegate(bench)
        if raw.get("delegation") and raw["delegation"].get("delegate") is None:
            raw["delegation"]["delegate"] = raw.get("delegate") or self.delegate(bench)
        if bench.profile_ops and not raw.get("op_profile"):
            raw["op_profile_error"] = "benchmark_model printed no op-profiling table (--enable_op_profiling=true)"
        return raw
