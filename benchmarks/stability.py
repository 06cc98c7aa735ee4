"""Run-to-run stability: coefficient of variation of the median across 5 `edgebench run` invocations.

Each invocation is the real command line (a fresh `edgebench run` process, which itself starts a fresh
runner) on the same MobileNetV3-Small fp32 artifact. Goal: CV ≤ 3 %.

    .venv/bin/python benchmarks/stability.py [--format onnx|tflite] [--n 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from overhead import ROOT, artifacts

GOAL = 0.03


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", default="onnx", choices=("onnx", "tflite"))
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--out", type=Path, default=ROOT / ".edgebench" / "bench-artifacts")
    a = p.parse_args()
    path = artifacts(a.out, (a.format,))[a.format]
    exe = str(Path(sys.executable).with_name("edgebench"))
    medians = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.n):
            proc = subprocess.run([exe, "--db", f"{tmp}/r.db", "run", str(path), "--threads", str(a.threads),
                                   "--runs", str(a.runs), "--min-seconds", str(a.min_seconds), "-o", "json"],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(proc.stderr)
            medians.append(json.loads(proc.stdout)[0]["p50_ms"])
    cv = statistics.stdev(medians) / statistics.mean(medians)
    print(f"stability: MobileNetV3-Small fp32 {a.format}, threads={a.threads}, {a.n} × `edgebench run`")
    print(f"  medians {[round(m, 3) for m in medians]} ms")
    print(f"  CV of the median {cv:.2%}: {'meets' if cv <= GOAL else 'misses'} the goal ≤ {GOAL:.0%}")


if __name__ == "__main__":
    main()
