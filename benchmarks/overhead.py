"""Harness overhead: `edgebench run`'s p50 vs a bare loop over exactly the reference tool's timed
region, per runtime, on fp32 MobileNetV3-Small.

Bare loops (each in its own fresh process, like the runner; no edgebench code):
  litert       `interpreter.invoke()` with the input set once (LiteRT benchmark_model: Invoke())
  onnxruntime  `session.run_with_iobinding()` on a bound input and a pre-allocated bound output
               (onnxruntime_perf_test: Run() on pre-created tensors)
  torch        `module(x)` inside one `torch.inference_mode()` block (speed_benchmark_torch: forward)
  executorch   `method.execute()` with the input set once (executor_runner: Method::execute)
`edgebench run`'s figure comes from the real local target (a `python -m edgebench.runner`
subprocess), same threads, warm-up, run count and minimum time. The two are interleaved (order
alternating every round), ≥ 5 rounds; printed per round with their ratio, then the median ratio.
Goal: 0.98–1.02 for every runtime.

    .venv/bin/python benchmarks/overhead.py [--rounds 5] [--threads 1] [--runs 100] [--min-seconds 2]
        [--out DIR]          (artifacts are exported once into DIR and reused)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOAL = (0.98, 1.02)
SHAPE = (1, 3, 224, 224)
MODEL = "mobilenet_v3_small"
# CPU features that decide which kernels the runtimes pick (x86 AVX / VNNI, Arm dot-product / i8mm)
FEATURE_MARKERS = ("avx", "vnni", "amx", "fma", "f16c", "asimd", "i8mm", "sve", "bf16", "neon")


# --- bare loops: run in a child process (``--bare RUNTIME PATH``); only numpy + the runtime ----------

def _bare_litert(path: str, threads: int, x: np.ndarray):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=threads)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    return interp.invoke, None


def _bare_onnxruntime(path: str, threads: int, x: np.ndarray):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    io = sess.io_binding()
    io.bind_cpu_input(sess.get_inputs()[0].name, x)
    out = sess.get_outputs()[0]
    io.bind_output(out.name)
    sess.run_with_iobinding(io)  # learn the output shape, then bind a pre-allocated output
    shape = io.get_outputs()[0].shape()
    io.clear_binding_outputs()
    io.bind_ortvalue_output(out.name, ort.OrtValue.ortvalue_from_shape_and_type(shape, np.float32))

    def step():
        sess.run_with_iobinding(io)

    return step, None


def _bare_torch(path: str, threads: int, x: np.ndarray):
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    module = torch.jit.load(path, map_location="cpu").eval()
    t = torch.from_numpy(x)
    mode = torch.inference_mode()

    def step():
        module(t)

    return step, mode


def _bare_executorch(path: str, threads: int, x: np.ndarray):
    import torch
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime

    portable_lib._unsafe_reset_threadpool(threads)  # XNNPACK's process-wide pool, before loading
    method = Runtime.get().load_program(path).load_method("forward")._method
    method.set_inputs([torch.from_numpy(x)])  # copied into the program's input buffer once

    def step():
        method.execute()

    return step, None


BARE = {"litert": _bare_litert, "onnxruntime": _bare_onnxruntime, "torch": _bare_torch,
        "executorch": _bare_executorch}


def bare_main(runtime: str, path: str, threads: int, warmup: int, runs: int, min_seconds: float) -> None:
    """Child process: print {"p50_ms": …} of the bare loop."""
    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    step, context = BARE[runtime](path, threads, x)
    clock = time.perf_counter_ns
    if context is not None:
        context.__enter__()
    for _ in range(warmup):
        step()
    times = []
    start = clock()
    while len(times) < runs or clock() - start < min_seconds * 1e9:
        t0 = clock()
        step()
        t1 = clock()
        times.append((t1 - t0) / 1e6)
    print(json.dumps({"p50_ms": statistics.median(times), "n": len(times)}))


def bare(runtime: str, path: Path, a: argparse.Namespace) -> float:
    argv = [sys.executable, __file__, "--bare", runtime, str(path), "--threads", str(a.threads),
            "--warmup", str(a.warmup), "--runs", str(a.runs), "--min-seconds", repr(a.min_seconds)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"bare {runtime} loop failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["p50_ms"]


# --- the harness side ------------------------------------------------------------------------

def runtime_of(fmt: str) -> str:
    """The runner runtime that runs format ``fmt`` (from the exporter plug-in when it says)."""
    from edgebench.exporters import registry

    return registry.get(fmt).runtime


def artifacts(out: Path) -> dict[str, Path]:
    """runtime → fp32 MobileNetV3-Small artifact for every runtime here with a bare loop, exported
    once by edgebench's exporters into ``out`` and reused afterwards."""
    from edgebench.exporters import export, registry
    from edgebench.runner import RUNTIMES
    from edgebench.spec import ExportSpec, ModelSpec, Variant

    wanted = {}
    for fmt in registry.names():
        try:
            runtime = runtime_of(fmt)
        except KeyError:
            continue
        if runtime in BARE and runtime in RUNTIMES and RUNTIMES[runtime].unavailable_reason() is None:
            wanted[fmt] = runtime
    found = {f: next(iter(sorted(out.rglob(f"{MODEL}*-fp32{registry.get(f).extension}"))), None) for f in wanted}
    missing = tuple(f for f, p in found.items() if p is None)
    if missing:
        for r in export(ModelSpec(name=MODEL), ExportSpec(formats=missing, variant=Variant(), out_dir=out)):
            if r.artifact is None:
                raise SystemExit(f"export {r.format} failed: {r.error}")
            found[r.format] = Path(r.artifact.path)
    return {wanted[f]: p for f, p in found.items()}


def harness(path: Path, a: argparse.Namespace) -> float:
    """p50 ms that `edgebench run` reports: the local target's fresh runner subprocess."""
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.spec import BenchSpec
    from edgebench.targets import resolve

    bench = BenchSpec(warmup_runs=a.warmup, warmup_seconds=0.0, runs=a.runs, min_seconds=a.min_seconds,
                      threads=a.threads, input_shape=SHAPE)
    r = measure_artifact(from_path(path), resolve("local"), bench)
    if r.latency is None:
        raise SystemExit(f"edgebench run failed: {r.error}")
    if r.timed_region != "invoke":
        raise SystemExit(f"edgebench run timed {r.timed_region!r}, not the inference call")
    return r.latency.p50_ms


def cpu_line() -> str:
    from edgebench.runner.probes import cpu_flags, cpu_model, host_info

    flags = [f for f in cpu_flags() or [] if any(m in f for m in FEATURE_MARKERS)]
    host = host_info()
    return (f"CPU: {cpu_model() or '?'} ({host['cores']} cores, {host['arch']}); "
            f"features: {' '.join(flags) or 'none reported'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--out", type=Path, default=ROOT / ".edgebench" / "bench-artifacts")
    p.add_argument("--bare", nargs=2, metavar=("RUNTIME", "PATH"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.bare:
        bare_main(a.bare[0], a.bare[1], a.threads, a.warmup, a.runs, a.min_seconds)
        return
    if a.rounds < 5:
        p.error("--rounds must be at least 5")
    sys.path.insert(0, str(ROOT))
    paths = artifacts(a.out)
    print(cpu_line())
    print(f"overhead: {MODEL} fp32, threads={a.threads}, warm-up {a.warmup}, ≥{a.runs} runs and ≥{a.min_seconds} s, "
          f"{a.rounds} interleaved rounds; ratio = edgebench run p50 / bare-loop p50")
    ours: dict[str, list[float]] = {rt: [] for rt in paths}
    base: dict[str, list[float]] = {rt: [] for rt in paths}
    for k in range(a.rounds):
        for runtime, path in paths.items():
            order = ("harness", "bare") if k % 2 == 0 else ("bare", "harness")
            for who in order:
                if who == "harness":
                    ours[runtime].append(harness(path, a))
                else:
                    base[runtime].append(bare(runtime, path, a))
            o, b = ours[runtime][-1], base[runtime][-1]
            print(f"  round {k + 1} {runtime:12s} edgebench {o:8.3f} ms | bare {b:8.3f} ms | ratio {o / b:.3f}",
                  flush=True)
    ok = True
    for runtime in paths:
        ratios = [o / b for o, b in zip(ours[runtime], base[runtime])]
        med = statistics.median(ratios)
        meets = GOAL[0] <= med <= GOAL[1]
        ok &= meets
        print(f"{runtime:12s} per-round ratios {' '.join(f'{r:.3f}' for r in ratios)} | median ratio {med:.3f} "
              f"({'meets' if meets else 'misses'} {GOAL[0]}–{GOAL[1]}) | p50 edgebench "
              f"{statistics.median(ours[runtime]):.3f} ms, bare {statistics.median(base[runtime]):.3f} ms")
    print(f"{'every runtime meets' if ok else 'not every runtime meets'} the goal {GOAL[0]}–{GOAL[1]}")


if __name__ == "__main__":
    main()
