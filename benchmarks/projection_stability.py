"""Stability and host independence of the anchored projection, on this (shared) machine.

Stability: the same artifact is projected in N separate invocations (each a fresh
``python -m edgebench.runner.paired`` process timing it interleaved with the reference models);
prints the coefficient of variation of every projection across invocations (goal ≤ 5 %) beside
the CV of the host's own p50 of the artifact (what the old, host-efficiency projection inherited).

Host independence: a simulated second host — the paired process pinned to one core with
``taskset -c 0`` and run with a different thread count — projects the same artifact; prints the
largest relative difference to the first host's mean projection (goal ≤ 10 %).

    .venv/bin/python benchmarks/projection_stability.py --format <format plug-in that writes LiteRT files> \\
        [--model efficientnet_b0] [--tiers pixel3,pi4,low,mid,high] [--invocations 5] [--rounds 5]

The reference artifacts (and the model's, as the user's artifact) are exported once into the
reference cache (``~/.cache/edgebench/references``); keep runs short, the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from projection_accuracy import cpu_line

from edgebench import __version__
from edgebench.cli.profiles import reference_exporter
from edgebench.exporters import registry
from edgebench.profiles.anchored import HostRatio, load_anchoring, project_anchored, reference_keys_for
from edgebench.profiles.profiles import host_profile, load_profiles
from edgebench.profiles.references import ZOO_REFERENCES, ensure_reference
from edgebench.profiles.workload import from_model_spec
from edgebench.runner import paired as R
from edgebench.runner.probes import cpu_model, isa_flags
from edgebench.spec import ModelSpec


def paired_once(entries: list[str], threads: int, rounds: int, pin: bool) -> dict:
    """One separate process of paired timing; returns its PairedResult dict."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "paired.json"
        argv = [sys.executable, "-m", "edgebench.runner.paired", "--json", str(out), "--threads", str(threads),
                "--rounds", str(rounds), "--anchor", "user", *entries]
        if pin:
            argv = [shutil.which("taskset") or "taskset", "-c", "0", *argv]
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"paired timing failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        return json.loads(out.read_text())


def projections(data: dict, keys: list[str], user_work, targets, runtime: str, host, anchoring, profiles) -> dict:
    """{(profile, threads setting): projected ms} from one paired session."""
    med = data["round_medians_ms"]
    threads = R.PairedResult.from_dict(data).effective_threads  # taskset -c 0 with 2 threads runs 1 at a time
    ratios = {k: HostRatio(k, statistics.median(u / r for u, r in zip(med["user"], med[k])), "fp32", threads,
                           reference_ms=statistics.median(med[k])) for k in keys}
    out = {}
    for p in targets:
        for setting in ("1-big", "all-big"):
            e = project_anchored(user_work, ratios, p, "fp32", p.threads(setting), runtime, host, anchoring, profiles)
            if e is not None:
                out[(p.name, setting)] = (e.point_ms, e.path)
    return out


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", required=True, help="format plug-in name that writes artifacts for --runtime")
    ap.add_argument("--runtime", default="litert")
    ap.add_argument("--model", default="efficientnet_b0", help="zoo model standing in for the user's artifact")
    ap.add_argument("--tiers", default="pixel3,pi4,low,mid,high")
    ap.add_argument("--invocations", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--second-host-threads", type=int, default=2)
    args = ap.parse_args()

    everything = load_profiles()
    devices = {n: p for n, p in everything.items() if p.tier != "host"}
    targets = [devices[t] for t in args.tiers.split(",")]
    keys = reference_keys_for(args.runtime, "fp32", devices.values(), [f"{m}@{r}" for m, r in ZOO_REFERENCES.items()])
    export = reference_exporter(args.format)
    suffix = registry.get(args.format).extension
    paths = {k: ensure_reference(k, __version__, args.runtime, "fp32", suffix, export) for k in keys}
    user = ensure_reference(f"{args.model}@224", __version__, args.runtime, "fp32", suffix, export)
    entries = [f"user={args.runtime}:{user}"] + [f"{k}={args.runtime}:{p}" for k, p in paths.items()]
    work = from_model_spec(ModelSpec(name=args.model))
    host, _ = host_profile(everything, cpu_model(), platform.machine(), isa_flags())
    anchoring = load_anchoring()
    print(f"{args.model} ({user.name}) vs references {', '.join(keys)}; {args.runtime}, {args.rounds} rounds, "
          f"{args.threads} thread(s)")

    runs, p50s, walls, runs_raw = [], [], [], []
    for i in range(args.invocations):
        t0 = time.perf_counter()
        data = paired_once(entries, args.threads, args.rounds, pin=False)
        runs_raw.append(data)
        runs.append(projections(data, keys, work, targets, args.runtime, host, anchoring, devices))
        p50s.append(statistics.median(data["round_medians_ms"]["user"]))
        walls.append(statistics.median(data["wall_round_medians_ms"]["user"]))
        print(f"  invocation {i + 1}: host p50 {p50s[-1]:.2f} ms CPU / {walls[-1]:.2f} ms wall, "
              + ", ".join(f"{n}/{s} {v[0]:.1f}" for (n, s), v in runs[-1].items())
              + f"  ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    cvs = {k: cv([r[k][0] for r in runs]) for k in runs[0]}
    print(f"\n== stability over {args.invocations} separate invocations ({cpu_line()}) ==")
    for (n, s), c in cvs.items():
        print(f"  {n:8} {s:8} mean {statistics.mean(r[(n, s)][0] for r in runs):8.2f} ms  CV {100 * c:4.1f} %  "
              f"({runs[0][(n, s)][1]})")
    print(f"projection CV: max {100 * max(cvs.values()):.1f} %, median {100 * statistics.median(cvs.values()):.1f} % "
          f"(goal ≤ 5 %)")
    print(f"host p50 of the artifact across invocations: CV {100 * cv(walls):.1f} % wall-clock (what a projection "
          f"from the host's own p50 inherits: {', '.join(f'{x:.2f}' for x in walls)} ms), CV {100 * cv(p50s):.1f} % "
          f"CPU time ({', '.join(f'{x:.2f}' for x in p50s)} ms)")

    second = []
    for i in range(2):
        data = paired_once(entries, args.second_host_threads, args.rounds, pin=True)
        second.append(projections(data, keys, work, targets, args.runtime, host, anchoring, devices))
        p50 = statistics.median(data["round_medians_ms"]["user"])
        print(f"  simulated host invocation {i + 1}: host p50 {p50:.2f} ms",
              flush=True)
    print(f"\n== host independence: taskset -c 0, {args.second_host_threads} threads vs {args.threads} thread(s) "
          f"unpinned ({cpu_line()}) ==")
    worst = 0.0
    for k in runs[0]:
        a = statistics.mean(r[k][0] for r in runs)
        b = statistics.mean(r[k][0] for r in second)
        worst = max(worst, abs(b / a - 1))
        print(f"  {k[0]:8} {k[1]:8} first host {a:8.2f} ms   simulated second host {b:8.2f} ms   "
              f"{100 * (b / a - 1):+5.1f} %")
    print(f"largest difference: {100 * worst:.1f} % (goal ≤ 10 %)")
    other_host(runs_raw, keys, targets, args.runtime, host, anchoring, devices)


def other_host(sessions: list[dict], keys: list[str], targets, runtime: str, host, anchoring, profiles) -> None:
    """A real second x86 host: the reference models projected as if each were the user's model, from
    this machine's sessions and from the host measurements cached by projection_accuracy.py (another
    machine, another day); prints both and the largest difference."""
    from projection_accuracy import CACHE, load_cache, timer_of, workloads

    from edgebench.profiles.calibration import reference_rows
    from edgebench.profiles.workload import Workload

    cache = load_cache()
    theirs = {k.rsplit("/", 2)[0]: v for k, v in cache["measurements"].items()
              if k.endswith("/fp32/t1") and "round_medians_ms" in v}
    common = [k for k in keys if k in theirs]
    if len(common) < 2:
        print(f"(no second host: {CACHE.name} lacks these references)")
        return
    cpus = sorted({v.get("cpu", "?") for v in theirs.values()})
    dates = sorted({v.get("measured_at", "?") for v in theirs.values()})
    work = {k: Workload.from_dict(w) for k, w in workloads(reference_rows(), cache).items()}
    print(f"\n== two real hosts: this one ({cpu_line()}) vs {CACHE.name} ({', '.join(cpus)}, {', '.join(dates)}, "
          f"flags not recorded, timer {timer_of(cache)}) ==")
    # before / after: the host side of the op-class differential from the generic host profile, or
    # fitted on each host's own reference timings (an AVX-512 host does MACs relatively faster)
    variants = {"profile": replace(anchoring, host_model="profile"), "fitted": replace(anchoring, host_model="fitted")}
    worst = {v: 0.0 for v in variants}
    for user in common:
        mine = {r: HostRatio(r, statistics.median(statistics.median(a / b for a, b in zip(
            s["round_medians_ms"][user], s["round_medians_ms"][r])) for s in sessions), "fp32", 1,
            reference_ms=statistics.median(statistics.median(s["round_medians_ms"][r]) for s in sessions))
                for r in common if r != user}
        other = {r: HostRatio(r, statistics.median(a / b for a, b in zip(theirs[user]["round_medians_ms"],
                                                                           theirs[r]["round_medians_ms"])), "fp32", 1,
                              reference_ms=statistics.median(theirs[r]["round_medians_ms"]))
                 for r in common if r != user}
        for p in targets:
            for setting in ("1-big", "all-big"):
                line = f"  {user:24} → {p.name:7} {setting:8}"
                for name, anc in variants.items():
                    a = project_anchored(work[user], mine, p, "fp32", p.threads(setting), runtime, host, anc,
                                         profiles)
                    b = project_anchored(work[user], other, p, "fp32", p.threads(setting), runtime, host, anc,
                                         profiles)
                    if a is None or b is None:
                        continue
                    worst[name] = max(worst[name], abs(a.point_ms / b.point_ms - 1))
                    line += (f"   host side {name}: this {a.point_ms:7.2f} ms, other {b.point_ms:7.2f} ms "
                             f"{100 * (a.point_ms / b.point_ms - 1):+5.1f} %")
                print(line)
    for name in variants:
        print(f"largest difference between the two hosts, host side of the differential {name!r}: "
              f"{100 * worst[name]:.1f} % (goal ≤ 10 %)")


if __name__ == "__main__":
    main()
