"""The runner's command line and the RawSamples JSON it writes (schema: raw_samples.schema.json).

    python -m edgebench.runner MODEL --runtime NAME --json OUT [--format LABEL] [--threads N]
        [--warmup-runs N] [--warmup-seconds S] [--runs N] [--min-seconds S] [--max-seconds S]
        [--input-shape 1,3,224,224] [--include-io] [--inputs X.npy|X.npz] [--outputs Y.npy|Y.npz]
        [--profile-ops]
        [--delegate NAME]
        [--feed F.npz]
    python3 runner.pyz MODEL --runtime NAME …          (the same, shipped as one zipapp file)
    python -m edgebench.runner --paired --json OUT NAME=RUNTIME:PATH …   (:mod:`edgebench.runner.paired`)

Protocol: import the runtime (``import_ms``); load the model (``load_ms``); make inputs and bind
them outside the timed region; time the first inference alone (``first_inference_ms``); warm up
until both ``--warmup-runs`` runs and ``--warmup-seconds`` have passed; then time iterations until
both ``--runs`` runs and ``--min-seconds`` have passed, stopping early at ``--max-seconds`` (warm-up
and timing each get that cap). Every iteration is kept raw (``time.perf_counter_ns``, ms).

Timed region (``timed_region``): by default ``"invoke"`` — the runtime's inference call alone, its
inputs already bound, as the runtime's own benchmark tool times it (``timed_call`` names the call:
LiteRT ``invoke``, ONNX Runtime ``run_with_iobinding``, TorchScript ``forward``, Core ML
``predict``). Outputs are read once after the loop. ``--include-io`` makes it ``"invoke+io"``: per
iteration also a uint8 HWC image → normalised float in the model's layout (quantized for integer
inputs), the copy-in, the copy-out and the dequantized arg-max.

``--delegate`` picks the runtime's delegate / execution provider (each runtime says which names it
takes; an unknown one fails at stage "args" listing them). After timing, ``delegation`` records
what the runtime itself says it delegated: ``{delegate, delegated_nodes, total_nodes, partitions,
fallback_ops}`` (None where the runtime cannot tell).

Inputs of the timed loop: ``--feed`` arrays as given, else synthetic data valid for each dtype
(``synthetic_inputs`` in the RawSamples says how each input was filled and whether the runner had
to guess a value range: integer ids / counts, bools).

With ``--inputs`` the samples of that file are run one by one after timing (batch mode, the same
bind / invoke / outputs) and their outputs saved to ``--outputs``.

``--profile-ops``: last of all (after the timed loop, the outputs and the memory figures), a
profiling session of its own runs the same inputs (:meth:`Runtime.profile_ops`); its per-operator
rows go to ``op_profile`` (:mod:`edgebench.runner.ops`), or why there are none to
``op_profile_error`` — the timed figures never include profiling overhead.

``--paired`` as the first argument hands the rest of the command line to
:func:`edgebench.runner.paired.main` (several artifacts timed interleaved in one process).

Exit code 0 with status "ok"; 1 with status "error" and the failing ``stage`` (args, runtime,
unsupported, load, input, run, output). A crash leaves no JSON: the harness reports the stderr tail.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

import numpy as np

from . import batch, ops, paired, probes
from .errors import RunnerError, one_line
from .inputs import (IO, check_feedable, index_bound, read_feed, resolve_shape, synthetic_feed, synthetic_how,
                     to_runtime_dtype)
from .loop import timed_loop
from .runtimes import RUNTIMES, get_runtime

SCHEMA_VERSION = 1
RUNNER = "edgebench.runner"
REGION = "invoke"
REGION_IO = "invoke+io"


def measure(args: argparse.Namespace) -> dict:
    """Load, time and (with ``args.inputs``) run a file of samples; the RawSamples dict (status ok).
    Raises RunnerError with the failing stage."""
    result = _base(args)
    result["device_state"] = {"before": probes.device_state(), "after": None}
    t0 = time.perf_counter_ns()
    rt = get_runtime(args.runtime)(args.model, args.threads, args.input_shape)
    result["import_ms"] = (time.perf_counter_ns() - t0) / 1e6
    rt.select_delegate(args.delegate)
    result["runtime"] = rt.name
    result["runtime_version"] = rt.version
    result["delegate"] = rt.delegate
    result["host"]["libraries"] = {rt.name: rt.version, "numpy": np.__version__}
    baseline = probes.current_rss()
    t0 = time.perf_counter_ns()
    try:
        rt.load()
    except RunnerError:
        raise
    except Exception as exc:
        text = one_line(exc)
        low = text.lower()
        if "external data" in low:
            hint = ("the model keeps its weights in a separate external-data file that is missing or unreadable: "
                    "copy it beside the model under the name the model records")
        elif "not_implemented" in low or "could not find an implementation" in low:
            hint = ("%s %s has no kernel for an operator / type in the model: the file may be valid, this runtime "
                    "cannot run it" % (rt.name, rt.version or ""))
        elif "custom op" in low:
            hint = ("the model needs a custom operator that the application it came from registers itself; "
                    "%s's standard operator set does not have it" % rt.name)
        else:
            hint = "is it a valid model file for %s (not truncated, not another format)?" % rt.name
        raise RunnerError("load", "cannot load %s with %s: %s" % (os.path.basename(args.model), rt.name, text), hint)
    result["load_ms"] = (time.perf_counter_ns() - t0) / 1e6
    result["delegate"] = rt.delegate

    inputs = rt.inputs()
    if args.input_shape and len(inputs) > 1:
        raise RunnerError("input", "--input-shape sets one input but the model has %d" % len(inputs),
                          "models with several inputs must have fixed shapes")
    for i in inputs:
        check_feedable(i)
    if args.feed:  # the user's own data: the timed loop runs on it as given
        given = read_feed(args.feed, inputs)
        shapes = [resolve_shape(i, list(x.shape)) for i, x in zip(inputs, given)]
        feed = [to_runtime_dtype(x, i) for x, i in zip(given, inputs)]
        result["synthetic_inputs"] = []
        result["feed"] = args.feed
    else:
        shapes = [resolve_shape(i, args.input_shape) for i in inputs]
        bound = index_bound(shapes)
        feed = [synthetic_feed(i, s, seed=k, bound=bound) for k, (i, s) in enumerate(zip(inputs, shapes))]
        result["synthetic_inputs"] = [synthetic_how(i, s, bound) for i, s in zip(inputs, shapes)]
    result["input_shapes"] = shapes
    result["inputs"] = [dict(i, shape=s) for i, s in zip(inputs, shapes)]
    try:
        rt.bind(feed)
    except RunnerError:
        raise
    except Exception as exc:
        raise RunnerError("input", "cannot bind inputs %s: %s" % (shapes, one_line(exc)),
                          "check --input-shape against the model's input")
    io = IO(inputs, shapes, rt.output_quant(), given=feed if args.feed else None) if args.include_io else None
    after_load = probes.current_rss()

    if io is None:
        step = rt.invoke  # the timed region: the inference call and nothing else
    else:
        def step():
            rt.bind(io.pre())
            rt.invoke()
            io.post(rt.outputs())

    try:
        t0 = time.perf_counter_ns()
        step()
        result["first_inference_ms"] = (time.perf_counter_ns() - t0) / 1e6
    except Exception as exc:
        raise RunnerError("run", "first inference failed: %s" % one_line(exc),
                          "check --input-shape against the model's input")
    result["warmup_ms"] = timed_loop(step, args.warmup_runs, args.warmup_seconds, args.max_seconds)
    result["iterations_ms"] = timed_loop(step, max(1, args.runs), args.min_seconds, args.max_seconds)

    try:
        outs = rt.outputs()  # read once, after the loop
    except Exception as exc:
        raise RunnerError("output", "cannot read the outputs: %s" % one_line(exc))
    result["output_shapes"] = [list(np.shape(o)) for o in outs]
    result["outputs_finite"] = bool(all(np.isfinite(np.asarray(o, dtype=np.float64)).all() for o in outs))

    if args.inputs:
        batch.run_files(rt, args.inputs, args.outputs, shapes)
    elif args.feed and args.outputs:
        _save_outputs(args.outputs, outs)
    result["delegation"] = _delegation(rt)

    result["memory"] = {
        "peak_rss_bytes": probes.peak_rss(), "baseline_rss_bytes": baseline,
        "load_rss_delta_bytes": (after_load - baseline) if after_load is not None and baseline is not None else None,
        "pss_bytes": probes.pss(), "footprint_bytes": None, "definition": probes.MEMORY_DEFINITION,
    }
    result["device_state"]["after"] = probes.device_state()
    if args.profile_ops:
        _profile_ops(rt, feed, args, result)
    result["status"] = "ok"
    return result


def _profile_ops(rt, feed: list, args: argparse.Namespace, result: dict) -> None:
    """Per-operator rows into ``result["op_profile"]``; a runtime that cannot profile (or fails to)
    leaves the measurement intact and says why in ``result["op_profile_error"]``."""
    runs = max(1, min(ops.PROFILE_RUNS, args.runs))
    try:
        result["op_profile"] = rt.profile_ops(feed, runs)
        result["op_profile_runs"] = runs
    except RunnerError as err:
        result["op_profile_error"] = err.message
    except Exception as exc:  # the library's own profiler failing is not the measurement failing
        result["op_profile_error"] = "%s profiling failed: %s" % (rt.name, one_line(exc))


def _delegation(rt) -> dict | None:
    # after timing and outside it: coverage is a report, a failure to read it is not a failed run
    try:
        return rt.delegation()
    except Exception as exc:  # a private / changed runtime API: say so instead of failing the run
        return {"delegate": rt.delegate_name, "error": one_line(exc)}


def _save_outputs(path: str, outs: list) -> None:
    """``--feed`` with ``--outputs``: the timed loop's last outputs as a ``.npz`` of ``output_<k>``
    arrays, in the runtime's own dtypes and shapes (what an expected-output check compares)."""
    try:
        with open(path, "wb") as fh:  # np.savez(path) would append .npz to another suffix
            np.savez(fh, **{"output_%d" % k: np.asarray(o) for k, o in enumerate(outs)})
    except OSError as exc:
        raise RunnerError("output", "cannot write --outputs %s: %s" % (path, exc))


def _base(args: argparse.Namespace) -> dict:
    cls = RUNTIMES.get(args.runtime)
    return {
        "schema_version": SCHEMA_VERSION, "runner": RUNNER, "status": "error", "error": None,
        "runtime": args.runtime or "unknown", "runtime_version": None,
        "format": args.format or "unknown", "model_path": args.model, "threads": args.threads, "delegate": None,
        "delegation": None,
        "input_shapes": None, "load_ms": None, "first_inference_ms": None, "warmup_ms": [],
        "iterations_ms": [], "include_io": bool(args.include_io),
        "timed_region": REGION_IO if args.include_io else REGION,
        "timed_call": cls.timed_region if cls is not None else None,
        "summary": None, "feed": None, "memory": None, "device_state": None, "host": probes.host_info(),
        "outputs": None,
        "protocol": {"warmup_runs": args.warmup_runs, "warmup_seconds": args.warmup_seconds, "runs": args.runs,
                     "min_seconds": args.min_seconds, "max_seconds": args.max_seconds},
    }


def _shape(text: str) -> list:
    try:
        dims = [int(d) for d in text.replace("x", ",").split(",") if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers like 1,3,224,224, got %r" % text)
    if not dims or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError("every dim must be a positive integer, got %r" % text)
    return dims


def parser() -> argparse.ArgumentParser:
    """The runner's argparse parser (``--runtime`` choices come from the runtime registry)."""
    p = argparse.ArgumentParser(prog="edgebench.runner", description="Measure one model; write RawSamples JSON.")
    p.add_argument("model")
    p.add_argument("--runtime", required=True, choices=sorted(RUNTIMES))
    p.add_argument("--json", required=True, help="where to write the RawSamples JSON")
    p.add_argument("--format", default=None, help="a label echoed into the RawSamples (the artifact's format)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--warmup-runs", type=int, default=10)
    p.add_argument("--warmup-seconds", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--input-shape", type=_shape, default=None)
    p.add_argument("--include-io", action="store_true",
                   help="time pre-processing, copy-in, copy-out and post-processing with each inference")
    p.add_argument("--inputs", default=None, help=".npy (one input) or .npz (one array per input) of samples, "
                                                  "run one by one after timing")
    p.add_argument("--feed", default=None, help=".npz with one array per input name (or .npy for one input): "
                                                "the timed loop feeds these instead of synthetic data")
    p.add_argument("--outputs", default=None, help=".npy (first output) or .npz (every output) for --inputs; "
                                                   "with --feed alone, a .npz of the timed loop's outputs")
    p.add_argument("--profile-ops", action="store_true",
                   help="after timing, profile each operator in a separate session (op_profile)")
    p.add_argument("--delegate", default=None, help="delegate / execution provider (litert: xnnpack, none; "
                                                    "onnxruntime: cpu or another available provider)")
    return p


def die_with_parent() -> None:
    """Linux: get SIGKILL when the parent (the harness, or the remote shell) dies, so a killed
    sweep leaves no orphan runner loading the CPU while the next measurement runs."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list | None = None) -> int:
    """Entry point: writes the RawSamples JSON to ``--json``; returns 0 with status ok, 1 with
    status error (the JSON says which stage). Bad flags exit 2 with argparse's usage line.
    ``--paired`` as the first argument runs :func:`edgebench.runner.paired.main` on the rest."""
    rest = sys.argv[1:] if argv is None else list(argv)
    if rest[:1] == ["--paired"]:
        die_with_parent()
        return paired.main(rest[1:])
    args = parser().parse_args(argv)
    die_with_parent()
    try:
        if not os.path.exists(args.model):
            raise RunnerError("load", "model file %s does not exist" % args.model)
        result = measure(args)
        code = 0
    except RunnerError as err:
        result = _base(args)
        result["error"] = {"stage": err.stage, "message": err.message, "hint": err.hint}
        code = 1
    except MemoryError:
        result = _base(args)
        result["error"] = {"stage": "run", "message": "out of memory", "hint": "a smaller model or input"}
        code = 1
    except Exception as exc:  # anything unexpected still becomes a result the harness can show
        result = _base(args)
        result["error"] = {"stage": "run", "message": "%s: %s" % (type(exc).__name__, one_line(exc)),
                           "hint": None}
        traceback.print_exc()
        code = 1
    tmp = args.json + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, args.json)  # a half-written file never looks like a result
    return code
