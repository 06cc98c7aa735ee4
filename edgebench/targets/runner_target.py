"""The one deploy/measure skeleton of every target that runs edgebench's own runner.

deploy: check the runtime, make a per-run directory, put the runner (``runner_entry``) and the
model there. measure: cool-down gate, device state before, the runner's command line over the
transport, its RawSamples JSON (and the accuracy outputs) back, device state after, all recorded
the same way (:func:`edgebench.targets.device_state.record`). ``local`` runs it as a subprocess of
this machine (``python -m edgebench.runner``, nothing copied); ``ssh`` copies one ``runner.pyz``
and the model to the device.
"""

from __future__ import annotations

import abc
import json
import math
import tempfile
from pathlib import Path
from typing import Any, Sequence

from edgebench.errors import TargetError
from edgebench.runner import RUNTIMES, paired
from edgebench.spec import BenchSpec
from edgebench.targets import device_state
from edgebench.targets.base import Deployed, Target
from edgebench.targets.runner_command import read_raw_samples, runner_argv
from edgebench.targets.transport import RunnerFailed, Transport, disk_full, model_file_name, tail


def runtime_names() -> tuple[str, ...]:
    """Every runtime the runner knows (``onnxruntime``, ``litert``, ``torch`` …)."""
    return tuple(RUNTIMES)


class RunnerTarget(Target):
    """A target that runs the runner with a Python of its own, over :attr:`transport`."""

    transport: Transport
    python: str
    workdir: str

    @abc.abstractmethod
    def runner_entry(self, deployed_dir: str) -> Sequence[str]:
        """What follows the interpreter on the runner's command line, after putting the runner in
        ``deployed_dir`` if it has to be copied (``-m edgebench.runner`` or the ``runner.pyz`` path)."""

    def free_bytes(self) -> int | None:
        """Free bytes in :attr:`workdir` on the device, None when unknown."""
        return None

    def why_not(self, runtime: str) -> str:
        if runtime not in RUNTIMES:
            return f"the runner has no runtime {runtime!r} (it has {', '.join(RUNTIMES)})"
        return super().why_not(runtime)

    def delegate_name(self, runtime: str, name: str | None) -> str | None:
        cls = RUNTIMES.get(runtime)
        if cls is None or not name:
            return super().delegate_name(runtime, name)
        canonical = cls.canonical_delegate(name)
        return None if canonical == cls.default_delegate else canonical

    # -- deploy -------------------------------------------------------------------------------------
    def deploy(self, artifact: Path, runtime: str, *, label: str | None = None) -> Deployed:
        artifact = self.check_artifact(artifact, runtime)
        free = self.free_bytes()
        size = sum(p.stat().st_size for p in artifact.rglob("*") if p.is_file()) if artifact.is_dir() \
            else artifact.stat().st_size
        need = (size if self.transport.copies else 0) + 8 * 2**20  # + runner, result and outputs
        if free is not None and free < need:
            raise TargetError(f"device storage full on {self.transport.where}: {free / 2**20:.1f} MiB free in "
                              f"{self.workdir}, need {need / 2**20:.1f} MiB", stage="deploy",
                              hint="free space on the device or set the target's workdir to a bigger disk")
        remote_dir = self.transport.make_run_dir(self.workdir)
        deployed = Deployed(target=self.uri, artifact=artifact, runtime=runtime, remote_dir=remote_dir,
                            model_path=f"{remote_dir}/{model_file_name(artifact)}", label=label)
        try:
            deployed.extra["entry"] = list(self.runner_entry(remote_dir))
            model = self.transport.push(artifact, deployed.model_path)
        except BaseException:
            self.cleanup(deployed)
            raise
        return Deployed(target=self.uri, artifact=artifact, runtime=runtime, remote_dir=remote_dir,
                        model_path=model, label=label, extra=deployed.extra)

    # -- measure ------------------------------------------------------------------------------------
    def measure(self, deployed: Deployed, bench: BenchSpec, *, inputs_npy: Path | None = None,
                outputs_npy: Path | None = None) -> dict[str, Any]:
        """Run the runner once on the device and return its RawSamples with device state before
        and after. RunnerFailed (stderr tail in ``detail``) when it crashed or the link died,
        RunnerTimeout after ``bench.timeout_seconds``."""
        t, d = self.transport, deployed.remote_dir
        cool = device_state.gate(self.options, t)
        before = device_state.collect_or_none(t)
        remote_in = t.push(Path(inputs_npy), f"{d}/inputs.npy", stage="run") if inputs_npy else None
        # bench.inputs: the timed loop's own data (.npz); its outputs come back when no dataset runs
        feed = t.push(Path(bench.inputs), f"{d}/feed.npz", stage="run") if bench.inputs else None
        remote_out = (f"{d}/outputs.npy" if inputs_npy and outputs_npy else
                      f"{d}/outputs.npz" if feed and outputs_npy else None)
        out_json = f"{d}/result.json"
        argv = runner_argv(self.python, deployed.extra["entry"], deployed.model_path, deployed.runtime, bench,
                           out_json, fmt_label=deployed.label, inputs_npy=remote_in, outputs_npy=remote_out,
                           feed=feed)
        try:
            # in the run's own directory: nothing in the user's directory shadows an import
            proc = t.run(argv, timeout=bench.timeout_seconds, stage="run", cwd=d)
        except TargetError as err:  # the link died under a running measurement: a run failure
            raise RunnerFailed(err.message, hint=err.hint, stage="run") from None
        with tempfile.TemporaryDirectory(prefix="edgebench-result-") as tmp:
            local_json = Path(tmp) / "result.json"
            json_text = None
            try:
                t.pull(out_json, local_json, stage="run")
                json_text = local_json.read_text()
            except TargetError as err:
                said = proc.stderr + proc.stdout
                if disk_full(said):
                    raise RunnerFailed(f"device storage full on {t.where}", detail=tail(said),
                                       hint="free space on the device or set the target's workdir to a "
                                            "bigger disk") from None
                if "No such file" not in err.message:
                    raise RunnerFailed(err.message, hint=err.hint, stage="run") from None
            raw = read_raw_samples(proc.returncode, json_text, proc.stderr)
        if remote_out and raw.get("status") == "ok":
            t.pull(remote_out, Path(outputs_npy), stage="run")
        after = device_state.collect_or_none(t)
        raw.setdefault("host", None)
        return device_state.record(raw, before, after, cool)

    def measure_paired(self, deployed: list[Deployed], bench: BenchSpec, *, timer: str = "cpu") -> dict[str, Any]:
        """One runner process (``ENTRY --paired``) times every deployed artifact interleaved in
        ``bench.paired_rounds`` rounds: per round at least ``bench.runs / rounds`` calls and
        ``bench.min_seconds / rounds`` seconds of each, after ``bench.warmup_runs`` warm-up calls;
        ``timer`` "cpu" or "wall" (what a call's time is). Returns the PairedResult dict (entries
        ``"0"``, ``"1"`` … in ``deployed`` order). RunnerFailed with the stderr tail when it wrote
        no result, RunnerTimeout after ``bench.timeout_seconds``."""
        t, d = self.transport, deployed[0].remote_dir
        rounds = bench.paired_rounds
        out_json = f"{d}/paired.json"
        entries = [(str(i), dep.runtime, dep.model_path) for i, dep in enumerate(deployed)]
        argv = [self.python, *paired.command(
            deployed[0].extra["entry"], entries, out_json, threads=bench.threads, rounds=rounds,
            min_runs=max(1, math.ceil(bench.runs / rounds)), min_seconds=bench.min_seconds / rounds,
            warmup_runs=bench.warmup_runs, input_shape=bench.input_shape, timer=timer,
            shapes={str(i): dep.extra["input_shape"] for i, dep in enumerate(deployed) if dep.extra.get("input_shape")})]
        try:
            proc = t.run(argv, timeout=bench.timeout_seconds, stage="run", cwd=d)
        except TargetError as err:
            raise RunnerFailed(err.message, hint=err.hint, stage="run") from None
        with tempfile.TemporaryDirectory(prefix="edgebench-paired-") as tmp:
            local_json = Path(tmp) / "paired.json"
            try:
                t.pull(out_json, local_json, stage="run")
                return json.loads(local_json.read_text())
            except (TargetError, ValueError):
                said = tail(proc.stderr + proc.stdout)
                raise RunnerFailed(f"paired runner wrote no result (exit {proc.returncode}): {said or 'no output'}",
                                   detail=said, stage="run") from None

    def cleanup(self, deployed: Deployed) -> None:
        self.transport.remove_run_dir(deployed.remote_dir, self.workdir)
