"""Harness overhead: the median `edgebench run` reports vs a bare in-process loop of the same runtime.

For MobileNetV3-Small fp32 ONNX and TFLite artifacts, interleaved in one process run (harness,
bare, bare, harness, …), same threads, same warm-up and run count. Goal: ratio ≤ 1.02.

    .venv/bin/python benchmarks/overhead.py [--rounds 5] [--threads 1] [--runs 100] [--out DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL = 1.02
SHAPE = (1, 3, 224, 224)


def artifacts(out: Path, formats=("onnx", "tflite")) -> dict[str, Path]:
    """fp32 MobileNetV3-Small artifacts in ``out`` (exported once, reused afterwards), made by
    edgebench's exporters."""
    from edgebench.exporters import export
    from edgebench.spec import ExportSpec, ModelSpec, Variant

    found = {f: next(iter(sorted(out.rglob(f"*-fp32.{f}"))), None) for f in formats}
    missing = tuple(f for f, p in found.items() if p is None)
    if missing:
        results = export(ModelSpec(name="mobilenet_v3_small"),
                         ExportSpec(formats=missing, variant=Variant(), out_dir=out))
        for r in results:
            if r.artifact is None:
                raise SystemExit(f"export {r.format} failed: {r.error}")
            found[r.format] = Path(r.artifact.path)
    return found


def bare_loop(path: Path, fmt: str, threads: int, warmup: int, runs: int, min_seconds: float) -> float:
    """Median ms of a plain loop over the runtime's inference call (no edgebench code)."""
    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    if fmt == "onnx":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x}

        def step():
            sess.run(None, feed)
    else:
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_path=str(path), num_threads=threads)
        interp.allocate_tensors()
        i, o = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]

        def step():
            interp.set_tensor(i, x)
            interp.invoke()
            interp.get_tensor(o)
    for _ in range(warmup):
        step()
    times, start = [], time.perf_counter_ns()
    while len(times) < runs or time.perf_counter_ns() - start < min_seconds * 1e9:
        t0 = time.perf_counter_ns()
        step()
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(times)


def harness(path: Path, threads: int, warmup: int, runs: int, min_seconds: float) -> float:
    """Median ms that `edgebench run` reports (same library call: fresh runner subprocess)."""
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.spec import BenchSpec
    from edgebench.targets import resolve

    bench = BenchSpec(warmup_runs=warmup, warmup_seconds=0.0, runs=runs, min_seconds=min_seconds, threads=threads)
    r = measure_artifact(from_path(path), resolve("local"), bench)
    if r.latency is None:
        raise SystemExit(f"edgebench run failed: {r.error}")
    return r.latency.p50_ms


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--out", type=Path, default=ROOT / ".edgebench" / "bench-artifacts")
    a = p.parse_args()
    paths = artifacts(a.out)
    print(f"overhead: MobileNetV3-Small fp32, threads={a.threads}, warm-up {a.warmup}, ≥{a.runs} runs and "
          f"≥{a.min_seconds} s, {a.rounds} interleaved rounds")
    worst = 0.0
    for fmt, path in paths.items():
        ours, bare = [], []
        for k in range(a.rounds):
            order = ("harness", "bare") if k % 2 == 0 else ("bare", "harness")
            for who in order:
                if who == "harness":
                    ours.append(harness(path, a.threads, a.warmup, a.runs, a.min_seconds))
                else:
                    bare.append(bare_loop(path, fmt, a.threads, a.warmup, a.runs, a.min_seconds))
        ratio = statistics.median(ours) / statistics.median(bare)
        worst = max(worst, ratio)
        print(f"  {fmt:7s} edgebench run p50 {[round(v, 3) for v in ours]} ms | bare loop p50 "
              f"{[round(v, 3) for v in bare]} ms | ratio {ratio:.3f} (goal ≤ {GOAL})")
    print(f"worst ratio {worst:.3f}: {'meets' if worst <= GOAL else 'misses'} the goal ≤ {GOAL}")


if __name__ == "__main__":
    main()
