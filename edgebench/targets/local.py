"""The ``local`` target: runs ``python -m edgebench.runner`` in a fresh subprocess per artifact.

A fresh process per measurement keeps the harness's own memory, threads and imported libraries out
of the figures. The subprocess uses this interpreter (the venv's python); the parent waits without
polling.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import edgebench
from edgebench.harness.protocol import (
    LOCAL_ENTRY, RunnerFailed, RunnerTimeout, read_raw_samples, runner_argv, runtime_for_module, stderr_tail,
)
from edgebench.runner.probes import cpu_model, host_info
from edgebench.spec import BenchSpec
from edgebench.targets.base import Deployed, DeviceInfo, Target, register

# format → (python module the runner imports, pip extra that installs it)
RUNTIME_MODULES = {
    "onnx": ("onnxruntime", "onnx"),
    "tflite": ("ai_edge_litert", "tflite"),
    "torchscript": ("torch", None),
    "coreml": ("coremltools", "coreml"),
}


def _child_env() -> dict[str, str]:
    """The environment with this edgebench's root appended to PYTHONPATH: ``-m edgebench.runner``
    runs the same runner as the harness even under another interpreter or a replaced PYTHONPATH."""
    root = str(Path(edgebench.__file__).resolve().parents[1])
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths + ([root] if root not in paths else []))}


@register("local")
class LocalTarget(Target):
    """This machine, measured through a fresh runner subprocess per artifact."""

    formats = ("torchscript", "onnx", "tflite", "coreml")

    def __init__(self, uri: str = "local", **options: Any):
        super().__init__(uri, **options)
        self.python = options.get("python") or sys.executable

    def supports(self, fmt: str) -> str | None:
        """None when ``fmt`` runs here; else why not (CoreML off macOS, a missing runtime)."""
        reason = super().supports(fmt)
        if reason:
            return reason
        if fmt == "coreml" and sys.platform != "darwin":
            return "unsupported here: CoreML needs macOS"
        module, extra = RUNTIME_MODULES[fmt]
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: install edgebench[{extra}]" if extra else f"{module} is not installed"
        return None

    def describe(self) -> DeviceInfo:
        """This machine's CPU, cores, arch and OS."""
        return DeviceInfo(name=platform.node() or "local", kind="local", arch=platform.machine(),
                          cpu=cpu_model(), cores=os.cpu_count(), os=platform.platform(), details=host_info())

    def deploy(self, artifact: Path, fmt: str) -> Deployed:
        """Nothing to copy: the runner reads the artifact where it is; a temp dir holds its output."""
        work = tempfile.mkdtemp(prefix="edgebench-run-")
        return Deployed(target=self.uri, artifact=Path(artifact), format=fmt, remote_dir=work,
                        model_path=str(Path(artifact).resolve()))

    def measure(self, deployed: Deployed, bench: BenchSpec, *, inputs_npy: Path | None = None,
                outputs_npy: Path | None = None) -> dict[str, Any]:
        """Run the runner once and return its RawSamples; RunnerFailed (stderr tail) if it crashed,
        RunnerTimeout after ``bench.timeout_seconds``."""
        out_json = Path(deployed.remote_dir) / "samples.json"
        runtime = runtime_for_module(RUNTIME_MODULES[deployed.format][0])
        argv = runner_argv(self.python, LOCAL_ENTRY, deployed.model_path, runtime, bench, str(out_json),
                           fmt_label=deployed.format, inputs_npy=str(inputs_npy) if inputs_npy else None,
                           outputs_npy=str(outputs_npy) if outputs_npy else None)
        try:
            # cwd: the run's temp dir, so nothing in the user's directory shadows an import
            proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=deployed.remote_dir,
                                  env=_child_env(), timeout=bench.timeout_seconds, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RunnerTimeout(f"runner did not finish within {bench.timeout_seconds:g} s",
                                detail=stderr_tail(exc.stderr),
                                hint="raise the timeout or lower --max-seconds") from None
        except OSError as exc:
            raise RunnerFailed(f"cannot start {self.python}: {exc}") from None
        text = out_json.read_text() if out_json.exists() else None
        return read_raw_samples(proc.returncode, text, proc.stderr)

    def cleanup(self, deployed: Deployed) -> None:
        """Remove the run's temp dir (the artifact itself stays)."""
        shutil.rmtree(deployed.remote_dir, ignore_errors=True)
