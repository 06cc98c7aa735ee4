"""Does ``edgebench run --paired`` give an int8-vs-fp32 speed-up that reproduces?

MobileNetV3-Small, its fp32 and static-int8 artifacts of one format (default: the format the
``onnxruntime`` runtime runs, exported with ``edgebench export`` when missing). The benchmark calls
``edgebench run FP32 INT8 --paired`` ``--repeats`` times (fresh processes each time, short runs)
and reads two speed-ups from every invocation's JSON rows:

- **paired**: the median of the per-round ratios fp32 ÷ int8 of the interleaved run (one process,
  one warm session each, rounds of one block per artifact; per-call CPU time of the calling thread with
  ``--threads 1``, wall time otherwise);
- **unpaired**: fp32 p50 ÷ int8 p50 of the two ordinary runs (separate processes, back to back) of
  the same invocation — what a speed-up computed from two separate runs gives.

It prints both per invocation and the coefficient of variation (sample stdev / mean) of each over
the invocations, with the CPU model, its SIMD flags and the load average. Goal: paired CV ≤ 3 %.

    .venv/bin/python benchmarks/paired_speedup.py [--repeats 5] [--rounds 10] [--threads 1]
        [--runs 30] [--min-seconds 1] [--artifacts DIR] [--format NAME] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgebench import exporters  # noqa: E402
from edgebench.harness.artifacts import discover  # noqa: E402
from edgebench.runner.probes import cpu_flags, cpu_model  # noqa: E402

MODEL = "mobilenet_v3_small"
GOAL_CV = 0.03
SIMD = ("sse4", "avx", "fma", "f16c", "vnni", "amx", "asimd", "neon", "sve", "i8mm", "dotprod", "bf16")


def edgebench(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgebench", *args]


def env() -> dict[str, str]:
    paths = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def artifacts(where: Path, fmt: str) -> dict[str, Path]:
    """{variant: path} of MODEL's fp32 and int8 artifacts in ``where`` (exported when missing)."""
    def found() -> dict[str, Path]:
        return {a.variant: a.path for a in discover([where]) if a.format == fmt and a.model == MODEL} \
            if where.exists() else {}

    have = found()
    for variant, flags in (("fp32", []), ("int8", ["--int8"])):
        if variant not in have:
            print(f"exporting {MODEL} {fmt} {variant} into {where} …", flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run(edgebench("--db", f"{tmp}/export.db", "export", "-m", MODEL, "-f", fmt, *flags,
                                         "-o", str(where)), check=True, env=env(), stdout=subprocess.DEVNULL)
    have = found()
    return {"fp32": have["fp32"], "int8": have["int8"]}


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--format", default=next(f for f in exporters.formats() if exporters.runtime_for(f) == "onnxruntime"))
    ap.add_argument("--artifacts", type=Path, default=ROOT / ".edgebench" / "bench-artifacts" / "paired")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    arts = artifacts(args.artifacts, args.format)
    flags = [f for f in cpu_flags() or [] if any(f.startswith(s) or s in f for s in SIMD)]
    print(f"CPU: {cpu_model()} · {os.cpu_count()} CPUs · SIMD flags: {' '.join(flags) or 'unknown'}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    run_args = ["run", str(arts["fp32"]), str(arts["int8"]), "--paired", "--paired-rounds", str(args.rounds),
                "--threads", str(args.threads), "--warmup", "5", "--warmup-seconds", "0.2", "--runs", str(args.runs),
                "--min-seconds", str(args.min_seconds), "-o", "json"]
    print("command ×%d: edgebench --db TMP %s" % (args.repeats, " ".join(run_args)), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgebench-paired-bench-") as tmp:
        for i in range(args.repeats):
            t0 = time.perf_counter()
            proc = subprocess.run(edgebench("--db", f"{tmp}/r{i}.db", *run_args), capture_output=True, text=True,
                                  env=env())
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            by_variant = {r["variant"]: r for r in json.loads(proc.stdout)}
            int8, fp32 = by_variant["int8"], by_variant["fp32"]
            rows.append({"paired": int8["speedup"], "ci": [int8["speedup_ci_low"], int8["speedup_ci_high"]],
                         "unpaired": int8["speedup_unpaired"], "fp32_p50_ms": fp32["p50_ms"],
                         "int8_p50_ms": int8["p50_ms"], "seconds": time.perf_counter() - t0,
                         "load": os.getloadavg()[0]})
            r = rows[-1]
            print(f"  #{i + 1}: paired {r['paired']:.3f}× [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]   unpaired "
                  f"{r['unpaired']:.3f}× (fp32 p50 {r['fp32_p50_ms']:.3f} ms, int8 p50 {r['int8_p50_ms']:.3f} ms)   "
                  f"{r['seconds']:.0f} s, load {r['load']:.1f}", flush=True)
    paired_cv, unpaired_cv = cv([r["paired"] for r in rows]), cv([r["unpaired"] for r in rows])
    timer = "CPU time per call (calling thread)" if args.threads == 1 else "wall time per call"
    print(f"int8-vs-fp32 speed-up over {args.repeats} invocations ({args.format}, {args.threads} thread(s), "
          f"{args.rounds} rounds, paired timer: {timer}):")
    print(f"  paired   mean {statistics.mean(r['paired'] for r in rows):.3f}×  CV {paired_cv:.2%}  "
          f"(goal ≤ {GOAL_CV:.0%}: {'met' if paired_cv <= GOAL_CV else 'NOT met'})")
    print(f"  unpaired mean {statistics.mean(r['unpaired'] for r in rows):.3f}×  CV {unpaired_cv:.2%}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps({"cpu_model": cpu_model(), "cpu_flags": flags, "format": args.format,
                                         "threads": args.threads, "rounds": args.rounds, "timer": timer,
                                         "rows": rows, "paired_cv": paired_cv, "unpaired_cv": unpaired_cv},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
