"""Measure one artifact on one target: deploy → runner → statistics → RunResult → store.

Every outcome is a RunResult written to the store the moment it exists: OK, an ``UNSUPPORTED``
row naming why, or a failure classified by stage (``LOAD_FAILED``, ``DEPLOY_FAILED``,
``RUN_FAILED`` with the runner's stderr tail, ``TIMEOUT``, ``INTERRUPTED``). Targets know runtimes,
not formats: the artifact's format is mapped to its runner runtime here (the format plug-in says
which), and a target that cannot run that runtime gives an UNSUPPORTED row before anything is deployed.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgebench import exporters
from edgebench.errors import ConfigError, EdgebenchError, LoadError, TargetError, UnsupportedError
from edgebench.harness import accuracy, feeds, memory, stats
from edgebench.harness.artifacts import Artifact, file_input_shape
from edgebench.harness.hostinfo import environment
from edgebench.results.checks import low_agreement
from edgebench.results.model import ErrorInfo, LatencyStats, RunResult, Status
from edgebench.spec import BenchSpec, spec_hash
from edgebench.targets import Target
from edgebench.targets.transport import RunnerTimeout

# the runner's error stage → the cell's status
_STAGE_STATUS = {"unsupported": Status.UNSUPPORTED, "runtime": Status.LOAD_FAILED, "load": Status.LOAD_FAILED}


@functools.lru_cache(maxsize=1)
def _environment() -> dict[str, Any]:
    return environment()


def run_spec_hash(sha256: str | None, fmt: str, target: str, bench: BenchSpec) -> str:
    """Identity of a plain ``edgebench run`` cell: the artifact's bytes, the target and the protocol."""
    return spec_hash("run", sha256, fmt, target, bench)


def _status_of(err: EdgebenchError) -> Status:
    if isinstance(err, RunnerTimeout):
        return Status.TIMEOUT
    if isinstance(err, UnsupportedError):
        return Status.UNSUPPORTED
    if isinstance(err, LoadError):
        return Status.LOAD_FAILED
    if isinstance(err, TargetError):
        return Status.DEPLOY_FAILED
    return Status.RUN_FAILED


def runtime_of(fmt: str) -> str:
    """The runner runtime that runs artifacts of format ``fmt`` (the format plug-in's ``runtime``)."""
    return exporters.runtime_for(fmt)


def latency_from_summary(summary: dict[str, Any]) -> LatencyStats:
    """LatencyStats from a runner that reports aggregates only (benchmark_model); unknowns stay None:
    a build that printed no percentiles has ``p50_ms`` None and its average in ``mean_ms``."""
    get = summary.get
    mean, std = get("mean_ms"), get("std_ms")
    return LatencyStats(n=int(get("count") or 0), mean_ms=mean, std_ms=std, min_ms=get("min_ms"),
                        p50_ms=get("p50_ms"), p90_ms=get("p90_ms"), p99_ms=get("p99_ms"), max_ms=get("max_ms"),
                        iqr_ms=None, cv=(std / mean) if mean and std is not None else None,
                        median_ci_low_ms=None, median_ci_high_ms=None, outliers=None)


def named_delegate(bench: BenchSpec, target: Target, fmt: str) -> BenchSpec:
    """``bench`` with its delegate as the row records it (:meth:`Target.delegate_name`): the
    canonical name, None for the runtime's default, so ``--delegate CPU``, ``--delegate cpu`` and no
    flag are one identity (same spec hash, same compare row)."""
    if not bench.delegate:
        return bench
    try:
        runtime = runtime_of(fmt)
    except EdgebenchError:
        return bench  # measure_artifact turns it into the row's own status
    return dataclasses.replace(bench, delegate=target.delegate_name(runtime, bench.delegate))


def measure_artifact(artifact: Artifact, target: Target, bench: BenchSpec, *, store=None,
                     cell_hash: str | None = None, spec: dict[str, Any] | None = None,
                     model: str | None = None, variant: str | None = None,
                     extra_samples: dict[str, Any] | None = None) -> RunResult:
    """Measure ``artifact`` on ``target`` with ``bench`` and return (and store) its RunResult.

    ``cell_hash`` / ``spec`` / ``model`` / ``variant`` let a sweep name the cell; a plain run
    derives them from the artifact. ``extra_samples`` (e.g. ``{"paired": …}`` from
    :mod:`edgebench.harness.paired`) are stored with the runner's samples."""
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    info = artifact.info()
    bench = named_delegate(bench, target, artifact.format)
    bench_eff = bench if bench.input_shape else dataclasses.replace(bench, input_shape=artifact.input_shape)
    base = dict(
        model=model or artifact.model, format=artifact.format, variant=variant or artifact.variant,
        target=target.uri, spec_hash=cell_hash or run_spec_hash(info.sha256, artifact.format, target.uri, bench),
        spec=spec or {"artifact": str(artifact.path), "bench": bench.to_dict()}, artifact=info,
        parity=(artifact.manifest or {}).get("parity"),
    )

    def finish(status: Status, **fields: Any) -> RunResult:
        timings["total"] = time.perf_counter() - t_start
        fields["warnings"] = (*artifact.warnings, *fields.get("warnings", ()))
        result = RunResult(status=status, timings_s=dict(timings), environment=_environment(), **base, **fields)
        if store is not None:
            store.add(result)
        return result

    def failed(err: EdgebenchError, **fields: Any) -> RunResult:
        detail = getattr(err, "detail", None)
        return finish(_status_of(err), error=ErrorInfo(err.stage, err.message, err.hint, detail), **fields)

    try:
        runtime = runtime_of(artifact.format)
        reason = target.supports(runtime)  # may ask the device (ssh: which runtimes import there)
    except EdgebenchError as err:
        return failed(err if isinstance(err, (TargetError, UnsupportedError, ConfigError))
                      else TargetError(err.message, hint=err.hint))
    if reason:
        return finish(Status.UNSUPPORTED, error=ErrorInfo("unsupported", reason))

    deployed = work = None
    try:
        inputs_npy = outputs_npy = None
        dataset = reference = None
        if bench.dataset:
            t0 = time.perf_counter()
            work = Path(tempfile.mkdtemp(prefix="edgebench-acc-"))
            try:
                inputs_npy, outputs_npy = work / "inputs.npy", work / "outputs.npy"
                shape = bench_eff.input_shape or file_input_shape(artifact.path, artifact.format)
                if shape is None:
                    raise ConfigError(f"--dataset needs the input shape of {artifact.path.name} to preprocess "
                                      "the images", hint="pass --input-shape, e.g. 1,3,224,224")
                dataset = accuracy.load_dataset(bench.dataset, artifact.input_spec(shape, bench.preprocess, bench.labels))
                accuracy.prepare_inputs(dataset, dataset.input_spec, inputs_npy)
                if dataset.kind == "flat":
                    reference = accuracy.eager_outputs(artifact.manifest, np.load(inputs_npy), artifact.path)
            except EdgebenchError as err:
                return failed(err)
            timings["prepare_dataset"] = time.perf_counter() - t0
        feed = feed_outputs = None
        try:
            work = work or Path(tempfile.mkdtemp(prefix="edgebench-feed-"))
            feed = feeds.prepare(bench.inputs, artifact.path, artifact.format, work)
        except EdgebenchError as err:
            return failed(err)
        if feed is not None:
            bench_eff = dataclasses.replace(bench_eff, inputs=feed.path)
            if outputs_npy is None:
                feed_outputs = outputs_npy = work / "feed_outputs.npz"
        t0 = time.perf_counter()
        try:
            deployed = target.deploy(artifact.path, runtime, label=artifact.format)
        except EdgebenchError as err:
            return failed(err if isinstance(err, (TargetError, UnsupportedError))
                          else TargetError(err.message, hint=err.hint))
        timings["deploy"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            raw = target.measure(deployed, bench_eff, inputs_npy=inputs_npy, outputs_npy=outputs_npy)
        except EdgebenchError as err:  # RunnerFailed / RunnerTimeout carry the stderr tail
            return failed(err)
        timings["measure"] = time.perf_counter() - t0
        if extra_samples:
            raw = {**raw, **extra_samples}
        extra = _feed_checks(raw, feed, feed_outputs)
        return _result(raw, finish, dataset, reference, None if feed_outputs else outputs_npy,
                       (artifact.manifest or {}).get("status"), extra, variant or artifact.variant,
                       (artifact.manifest or {}).get("parity"))
    except KeyboardInterrupt:
        finish(Status.INTERRUPTED, error=ErrorInfo("run", "interrupted by the user"))
        raise
    finally:
        if deployed is not None:
            target.cleanup(deployed)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _feed_checks(raw: dict[str, Any], feed: "feeds.Feed | None", outputs: Path | None) -> tuple[str, ...]:
    """Warnings about the timed loop's inputs: made-up values the runner could not know, given
    inputs a runner did not take, outputs that differ from the expected ones shipped with them
    (the comparison goes into ``raw["expected_outputs"]``)."""
    warnings = []
    if raw.get("status") != "ok":
        return ()
    guessed = [i for i in raw.get("synthetic_inputs") or () if i.get("guessed")]
    if guessed:
        what = ", ".join(f"{i['name']} ({i['dtype']}: {i['how']})" for i in guessed)
        warnings.append(f"synthetic inputs {what}: edgebench cannot know valid values for them, so the timing may "
                        "not reflect real work; pass real ones with --inputs FILE.npz")
    if feed is not None and raw.get("feed"):
        raw["feed_source"] = str(feed.source)  # what the user gave (the runner saw a converted .npz)
    if feed is not None and not raw.get("feed"):
        warnings.append(f"this target's runner does not take given inputs: timed on its own data, not {feed.source}")
    elif feed is not None and feed.expected and outputs is not None and Path(outputs).exists():
        check = feeds.check_outputs(outputs, feed.expected)
        raw["expected_outputs"] = {"source": str(feed.source), **check}
        if not check["match"]:
            warnings.append(f"outputs differ from the expected outputs in {feed.source} ({check['mismatch']}, max "
                            f"abs err {check['max_abs_err']:.3g}): the runtime computes something else")
    return tuple(warnings)


def _result(raw: dict[str, Any], finish, dataset, reference, outputs_npy: Path | None,
            manifest_status: str | None, extra: tuple[str, ...] = (), variant: str | None = None,
            parity: dict[str, Any] | None = None) -> RunResult:
    if raw.get("status") != "ok":
        err = raw.get("error") or {}
        stage = err.get("stage", "run")
        return finish(_STAGE_STATUS.get(stage, Status.RUN_FAILED), samples=raw,
                      error=ErrorInfo(stage, err.get("message", "runner failed"), err.get("hint")))
    iterations = raw.get("iterations_ms") or []
    first = raw.get("first_inference_ms")
    if iterations:
        summary = stats.summarize(iterations, first)
        latency, warnings = summary.latency, summary.warnings
    elif raw.get("summary"):
        latency = latency_from_summary(raw["summary"])
        warnings = ("the runner reported aggregates only: no per-iteration samples, no confidence interval",)
        if latency.p50_ms is None and latency.mean_ms is not None:
            warnings = (*warnings, "the runner printed an average only (no percentiles): the table shows "
                                   "that mean in the p50 column, labelled as a mean")
        elif latency.mean_ms is None and latency.p50_ms is None:
            return finish(Status.RUN_FAILED, samples=raw, error=ErrorInfo("run", "the runner reported no timings"))
    else:
        return finish(Status.RUN_FAILED, samples=raw, error=ErrorInfo("run", "the runner reported no timings"))
    acc = None
    if dataset is not None:
        if outputs_npy is None or not Path(outputs_npy).exists():
            return finish(Status.RUN_FAILED, samples=raw, latency=latency,
                          error=ErrorInfo("accuracy", "the runner returned no outputs for the dataset"))
        outputs = np.load(outputs_npy)
        acc = accuracy.evaluate(outputs, dataset, reference)
        acc["dataset"] = str(dataset.root)
    if raw.get("op_profile_error"):
        warnings = (*warnings, f"no per-operator profile: {raw['op_profile_error']}")
    if (raw.get("paired") or {}).get("error"):
        warnings = (*warnings, f"no paired speed-up: {raw['paired']['error']}")
    split = delegation_warning(raw.get("delegation"))
    if split:
        warnings = (*warnings, split)
    status = Status.OK
    warnings = (*warnings, *extra)
    if (raw.get("expected_outputs") or {}).get("match") is False:
        status = Status.PARITY_FAILED
    low = low_agreement(variant, acc, parity)
    if low:
        warnings = (*warnings, low)
    if (parity or {}).get("unjudged"):
        warnings = (*warnings, f"export parity: {parity['unjudged']}")
    if manifest_status == Status.PARITY_FAILED.value:
        status = Status.PARITY_FAILED
        warnings = (*warnings, "the export's parity check failed: this artifact's outputs differ from the "
                    "eager model (see parity); its timings are real, its answers are not trustworthy")
    return finish(status, samples=raw, latency=latency, first_inference_ms=first, load_ms=raw.get("load_ms"),
                  timed_region=timed_region(raw), memory=memory.summarize(raw.get("memory")), accuracy=acc,
                  warnings=tuple(warnings))


NO_DELEGATE = (None, "none", "cpu", "CPUExecutionProvider")


def delegation_warning(d: dict[str, Any] | None) -> str | None:
    """A warning when a delegate / execution provider split the graph (more than one partition) or
    left nodes on the CPU fallback, naming those ops (most frequent first); None otherwise, and for
    runs without a delegate (``none`` / ``cpu``) or without coverage figures."""
    if not d or d.get("delegate") in NO_DELEGATE or not d.get("total_nodes"):
        return None
    parts, fallback = d.get("partitions"), d.get("fallback_ops") or {}
    left = d["total_nodes"] - (d.get("delegated_nodes") or 0)
    if not fallback and not left and (parts or 0) <= 1:
        return None
    ops = ", ".join(f"{op} ×{n}" for op, n in sorted(fallback.items(), key=lambda kv: (-kv[1], kv[0])))
    where = f" in {parts} partitions" if parts and parts > 1 else ""
    text = f"the {d['delegate']} delegate took {d.get('delegated_nodes')}/{d['total_nodes']} nodes{where}"
    if left:
        text += f"; {left} on the CPU fallback" + (f": {ops}" if ops else "")
    return text


def timed_region(raw: dict[str, Any]) -> str | None:
    """The RawSamples' ``timed_region``; for a runner that does not say (the Android app,
    benchmark_model), "invoke+io" when it reports ``include_io``, else None (not stated)."""
    if raw.get("timed_region"):
        return str(raw["timed_region"])
    return "invoke+io" if raw.get("include_io") else None
