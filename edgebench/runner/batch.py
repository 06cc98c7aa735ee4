"""Batch mode: run given inputs through a runtime and return its outputs (parity, top-1
agreement, ``--dataset`` accuracy). It goes through the same ``Runtime.bind`` / ``invoke`` /
``outputs`` that ``edgebench run`` times, so parity checks the code that is measured."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import RunnerError, one_line
from .inputs import fmt_shape, to_float_outputs, to_runtime_dtype
from .runtimes import Runtime, get_runtime


def open_runtime(runtime: str, path, *, threads: int | None = None, input_shape=None) -> Runtime:
    """An instance of runtime ``runtime`` with ``path`` loaded. RunnerError: ``args`` (unknown
    runtime), ``runtime`` / ``unsupported`` (library missing / wrong platform), ``load``."""
    cls = get_runtime(runtime)
    path = str(path)
    if not os.path.exists(path):
        raise RunnerError("load", "model file %s does not exist" % path)
    rt = cls(path, threads, list(input_shape) if input_shape else None)
    try:
        rt.load()
    except RunnerError:
        raise
    except Exception as exc:
        raise RunnerError("load", "cannot load %s with %s: %s" % (os.path.basename(path), runtime, one_line(exc)),
                          "is it a valid model file for %s (not truncated, not another format)?" % runtime)
    return rt


def run_samples(rt: Runtime, samples: list) -> list:
    """Each sample (a list of arrays, one per model input, batch dim included) through ``rt``:
    float data quantized for integer inputs, ``bind`` → ``invoke`` → ``outputs``; every output
    returned as float32, dequantized. RunnerError("input") for a wrong input count,
    RunnerError("run") when the runtime fails."""
    specs = rt.inputs()
    quant = rt.output_quant()
    results = []
    for n, sample in enumerate(samples):
        sample = list(sample)
        if len(sample) != len(specs):
            raise RunnerError("input", "sample %d has %d arrays but the model has %d inputs"
                              % (n, len(sample), len(specs)), "one array per model input, in the model's order")
        feed = [to_runtime_dtype(x, spec) for x, spec in zip(sample, specs)]
        try:
            rt.bind(feed)
            rt.invoke()
            outs = rt.outputs()
        except RunnerError:
            raise
        except Exception as exc:
            raise RunnerError("run", "inference on sample %d (input shapes %s) failed: %s"
                              % (n, ", ".join(fmt_shape(x.shape) for x in feed), one_line(exc)),
                              "feed the model's input shapes and layout")
        results.append(to_float_outputs(outs, quant))
    return results


def run_batch(runtime: str, path, batches: list, *, threads: int | None = None, input_shape=None) -> list:
    """Run every sample of ``batches`` through ``runtime`` on the model file ``path``.

    ``batches``: one entry per sample; each sample is the list of its input arrays (one per model
    input, batch dim as the model takes it, e.g. ``[(1, 3, 224, 224) float32]``), float32 for image
    inputs — quantized here with the runtime's input scale / zero point when the input is int8 /
    uint8 — or already in the input's dtype. ``input_shape`` resolves a dynamic input shape at load
    time (LiteRT resizes) and is the shape of a TorchScript input.

    Returns one entry per sample: the list of every output as a float32 array (dequantized), batch
    dim kept as the model gives it. Raises RunnerError(stage, message, hint): ``args``, ``runtime``,
    ``unsupported``, ``load``, ``input``, ``run``."""
    rt = open_runtime(runtime, path, threads=threads, input_shape=input_shape)
    return run_samples(rt, batches)


def read_inputs(path: str, specs: list) -> list:
    """Samples from ``--inputs``: a ``.npy`` of rows (N, *input_shape[1:]) for a one-input model,
    or a ``.npz`` with one such array per input (keyed by input name, else in order). Each row
    becomes a sample with a batch dim of 1."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise RunnerError("input", "cannot read --inputs %s: %s" % (path, one_line(exc)))
    if isinstance(data, np.ndarray):
        if len(specs) != 1:
            raise RunnerError("input", "--inputs .npy feeds one input but the model has %d" % len(specs),
                              "pass a .npz with one array per input")
        arrays = [data]
    else:
        with data:
            names = [s["name"] for s in specs]
            keys = names if all(n in data.files for n in names) else data.files
            if len(keys) != len(specs):
                raise RunnerError("input", "--inputs %s holds %d arrays but the model has %d inputs"
                                  % (path, len(keys), len(specs)))
            arrays = [data[k] for k in keys]
    counts = {len(a) for a in arrays}
    if len(counts) != 1:
        raise RunnerError("input", "--inputs arrays have different row counts %s" % sorted(counts))
    return [[np.ascontiguousarray(a[i][None]) for a in arrays] for i in range(counts.pop())]


def write_outputs(path: str, results: list) -> None:
    """``--outputs``: a ``.npz`` with ``output_<k>`` arrays stacked over samples, or (any other
    suffix) a ``.npy`` with the first output only; a batch dim of 1 is dropped (rows = samples)."""
    def stacked(k: int) -> np.ndarray:
        outs = [r[k] for r in results]
        outs = [o.reshape(o.shape[1:]) if o.shape[:1] == (1,) else o for o in outs]
        return np.stack(outs) if outs else np.zeros((0,), np.float32)

    try:
        if Path(path).suffix == ".npz":
            count = len(results[0]) if results else 0
            np.savez(path, **{"output_%d" % k: stacked(k) for k in range(count)})
        else:
            with open(path, "wb") as fh:  # np.save(path) would append .npy to another suffix
                np.save(fh, stacked(0) if results else np.zeros((0,), np.float32))
    except OSError as exc:
        raise RunnerError("output", "cannot write --outputs %s: %s" % (path, exc))


def run_files(rt: Runtime, inputs_path: str, outputs_path: str | None, shapes: list) -> int:
    """The runner's ``--inputs`` / ``--outputs`` file mode (after timing, on the loaded runtime):
    returns the number of samples run."""
    if not outputs_path:
        raise RunnerError("args", "--inputs needs --outputs")
    specs = rt.inputs()
    samples = read_inputs(inputs_path, specs)
    if samples:
        for x, shape, spec in zip(samples[0], shapes, specs):
            if list(x.shape[1:]) != list(shape[1:]):
                raise RunnerError("input", "--inputs rows of %r are %s but the model takes %s"
                                  % (spec["name"], fmt_shape(list(x.shape[1:])), fmt_shape(list(shape[1:]))),
                                  "preprocess to the model's input shape and layout")
    write_outputs(outputs_path, run_samples(rt, samples))
    return len(samples)
