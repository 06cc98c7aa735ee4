"""Leave-one-out check of the tier projection against published device latencies.

For every row of ``edgebench/profiles/data/reference/published_latencies.csv`` (copied, with its
source, from the public figures in the project's reference notes): calibrate the projection on
all OTHER rows, project the row's device from THIS machine's measurement of the same model
(random-init weights, exported to TFLite with litert_torch, timed with ai_edge_litert), compare
with the published figure. Prints the share of rows within ±30 % and the Spearman rank
correlation across rows (goals: ≥ 80 %, ≥ 0.9).

Host measurements are cached in ``projection_accuracy_host.json`` next to this script, so a
re-run only measures what is missing (``--remeasure`` forces it). The machine may be shared, so
the artifacts are timed interleaved (round-robin, several rounds) and the minimum over rounds of
each round's median is kept.

    .venv/bin/python benchmarks/projection_accuracy.py            # measure what is missing, then LOO
    .venv/bin/python benchmarks/projection_accuracy.py --write-calibration   # also refresh the
                                                         # shipped calibration (profiles/data/calibration.json)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from edgebench.profiles.calibration import host_precision

HERE = Path(__file__).resolve().parent
CACHE = HERE / "projection_accuracy_host.json"
ARTIFACTS = Path(os.environ.get("EDGEBENCH_PA_ARTIFACTS", Path.home() / ".cache" / "edgebench" / "projection_accuracy"))

# Published model name → how to build an equivalent here (random init) and at which resolution.
BUILDERS = {
    "mobilenet_v1": ("timm", "mobilenetv1_100"),
    "mobilenet_v2": ("torchvision", "mobilenet_v2"),
    "mobilenet_v3_small": ("torchvision", "mobilenet_v3_small"),
    "mobilenet_v3_large": ("torchvision", "mobilenet_v3_large"),
    "resnet18": ("torchvision", "resnet18"),
    "resnet50": ("torchvision", "resnet50"),
    "efficientnet_lite0": ("timm", "efficientnet_lite0"),
    "efficientnet_lite4": ("timm", "efficientnet_lite4"),
    "resnet_v2_101": ("timm", "resnetv2_101"),
}


def build(model: str):
    """The random-init nn.Module standing in for a published model."""
    lib, name = BUILDERS[model]
    if lib == "timm":
        import timm

        return timm.create_model(name, pretrained=False).eval()
    import torchvision

    return getattr(torchvision.models, name)(weights=None).eval()


def artifact_path(model: str, resolution: int, precision: str) -> Path:
    return ARTIFACTS / f"{model}-{resolution}-{precision}.tflite"


def export_one(model: str, resolution: int, precision: str, out: Path) -> None:
    """Export one model to TFLite (fp32, or static int8 via the PT2E quantizer)."""
    import torch

    import litert_torch

    torch.manual_seed(0)
    module = build(model)
    args = (torch.randn(1, 3, resolution, resolution),)
    if precision == "int8":
        from litert_torch.quantize import pt2e_quantizer as pq
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e import quantize_pt2e

        quantizer = pq.PT2EQuantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=True))
        m = torch.export.export(module, args).module()
        m = quantize_pt2e.prepare_pt2e(m, quantizer)
        for _ in range(4):
            m(torch.randn(1, 3, resolution, resolution))
        m = quantize_pt2e.convert_pt2e(m, fold_quantize=False)
        edge = litert_torch.convert(m, args, quant_config=QuantConfig(pt2e_quantizer=quantizer))
    else:
        edge = litert_torch.convert(module, args)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    edge.export(str(tmp))
    tmp.rename(out)


class _Timed:
    """One loaded interpreter, ready to be invoked."""

    def __init__(self, path: Path, threads: int):
        import numpy as np
        from ai_edge_litert.interpreter import Interpreter

        self.interp = Interpreter(model_path=str(path), num_threads=threads)
        self.interp.allocate_tensors()
        inp = self.interp.get_input_details()[0]
        rng = np.random.default_rng(0)
        self.interp.set_tensor(inp["index"], rng.standard_normal(inp["shape"]).astype(inp["dtype"]))

    def once_ms(self) -> float:
        t0 = time.perf_counter()
        self.interp.invoke()
        return (time.perf_counter() - t0) * 1e3


def measure(keys: list[tuple[str, int, str, int]], rounds: int = 7, min_runs: int = 5,
            min_seconds: float = 0.4) -> dict[tuple, dict]:
    """Interleaved timing: each round runs every artifact (≥ min_runs and ≥ min_seconds) and takes
    its median; the result keeps every round's median and their minimum."""
    timed = {k: _Timed(artifact_path(*k[:3]), k[3]) for k in keys}
    for t in timed.values():  # warm-up: first invokes pay for XNNPACK packing
        for _ in range(2):
            t.once_ms()
    medians: dict[tuple, list[float]] = {k: [] for k in keys}
    for r in range(rounds):
        for k, t in timed.items():
            samples, t0 = [], time.perf_counter()
            while len(samples) < min_runs or time.perf_counter() - t0 < min_seconds:
                samples.append(t.once_ms())
            medians[k].append(statistics.median(samples))
        print(f"  round {r + 1}/{rounds} done", flush=True)
    return {k: {"ms": min(v), "round_medians_ms": [round(x, 3) for x in v]} for k, v in medians.items()}


def load_cache() -> dict:
    if CACHE.exists():
        return json.loads(CACHE.read_text())
    return {"measurements": {}}


def cache_key(model: str, resolution: int, precision: str, threads: int) -> str:
    return f"{model}@{resolution}/{precision}/t{threads}"


def ensure_measured(rows: list[dict], threads: int = 1, remeasure: bool = False) -> dict:
    """Measure (and cache) every (model, resolution, precision) the rows need at ``threads``."""
    cache = load_cache()
    want = sorted({(r["model"], int(r["resolution"]), host_precision(r["precision"])) for r in rows})
    missing = [w for w in want if remeasure or cache_key(*w, threads) not in cache["measurements"]]
    if not missing:
        return cache
    for model, res, prec in missing:
        path = artifact_path(model, res, prec)
        if not path.exists():
            print(f"exporting {model}@{res} {prec} → {path}", flush=True)
            t0 = time.perf_counter()
            # a fresh process per export: the converters keep a lot of memory alive
            proc = subprocess.run([sys.executable, __file__, "--export-one", model, str(res), prec],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                tail = proc.stderr.strip().splitlines()[-3:]
                print(f"  export failed: {' | '.join(tail)}", flush=True)
                cache["measurements"][cache_key(model, res, prec, threads)] = {
                    "error": " | ".join(tail)[-400:]}
                continue
            print(f"  exported in {time.perf_counter() - t0:.0f} s", flush=True)
    keys = [(m, r, p, threads) for m, r, p in missing if artifact_path(m, r, p).exists()]
    print(f"timing {len(keys)} artifacts interleaved, {threads} thread(s)", flush=True)
    from edgebench.runner.probes import cpu_model

    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    load_before = os.getloadavg()[0]
    for k, v in measure(keys).items():
        v.update(measured_at=when, host=platform.node(), cpu=cpu_model(), threads=threads,
                 loadavg_1min_before=round(load_before, 2), method="min over 7 interleaved rounds of per-round medians",
                 artifact_bytes=artifact_path(*k[:3]).stat().st_size)
        cache["measurements"][cache_key(*k)] = v
    CACHE.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
    return cache


def workloads(rows: list[dict], cache: dict) -> dict:
    """Work split of every (model, resolution), computed once and cached beside the measurements."""
    from edgebench.profiles.workload import from_module

    store = cache.setdefault("workloads", {})
    for model, res in sorted({(r["model"], int(r["resolution"])) for r in rows}):
        key = f"{model}@{res}"
        if key not in store:
            import torch

            print(f"splitting the work of {key}", flush=True)
            store[key] = from_module(build(model), torch.randn(1, 3, res, res), model=model).to_dict()
    CACHE.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
    return store


def cal_rows(rows: list[dict], cache: dict, threads: int = 1, int8_from: str = "int8"):
    """Published rows joined with this desktop's measurement and work split (rows not measurable here
    are listed and skipped). ``int8_from``: which host measurement an int8 row's model efficiency
    comes from — "int8" (the method: the same artifact's measurement, as ``edgebench project``
    does) or "fp32" (the model's fp32 measurement; printed for comparison)."""
    from edgebench.profiles.calibration import DEVICE_PROFILES, CalRow, runtime_key
    from edgebench.profiles.workload import Workload

    work = workloads(rows, cache)
    out, skipped = [], []
    for r in rows:
        res, prec = int(r["resolution"]), host_precision(r["precision"])
        hprec = int8_from if prec == "int8" else prec
        m = cache["measurements"].get(cache_key(r["model"], res, hprec, threads), {})
        if "ms" not in m or r["device"] not in DEVICE_PROFILES:
            skipped.append((r, m.get("error", "no profile for the device" if "ms" in m else "not measured")))
            continue
        out.append(CalRow(model=r["model"], resolution=res, precision=prec, device=DEVICE_PROFILES[r["device"]],
                          threads=int(r["threads"]), runtime=runtime_key(r["runtime"]),
                          published_ms=float(r["latency_ms"]), source=r["source"], host_ms=m["ms"],
                          host_threads=threads, work=Workload.from_dict(work[f"{r['model']}@{res}"]),
                          host_precision=hprec))
    return out, skipped


def report(rows: list[dict], cache: dict, write: bool = False) -> None:
    """Leave-one-out over the published table; print every row and the summary."""
    from edgebench.runner.probes import cpu_model
    from edgebench.profiles.calibration import leave_one_out, shipped_calibration, summary
    from edgebench.profiles.profiles import host_profile, load_profiles
    from edgebench.profiles.projection import CALIBRATION_FILE

    profiles = load_profiles()
    host, how = host_profile(profiles, cpu_model(), platform.machine())
    crows, skipped = cal_rows(rows, cache)
    when = sorted({m.get("measured_at", "?") for m in cache["measurements"].values() if "ms" in m})
    print(f"host measurements: {CACHE.name}, measured {', '.join(when)}; {how}")
    for r, why in skipped:
        print(f"  skipped {r['model']} {r['precision']} {r['device']}: {why}")
    t0 = time.perf_counter()
    held = leave_one_out(crows, profiles, host)
    print(f"leave-one-out over {len(crows)} rows ({time.perf_counter() - t0:.1f} s)")
    print(f"{'model':20} {'res':>4} {'prec':5} {'device':7} {'thr':>3} {'runtime':15} {'host ms':>12} "
          f"{'published':>9} {'projected':>9} {'error':>7}")
    for h in held:
        r = h.row
        mark = "" if abs(h.ratio - 1) <= 0.30 else "  ✗"
        print(f"{r.model:20} {r.resolution:>4} {r.precision:5} {r.device:7} {r.threads:>3} {r.runtime or 'tflite':15} "
              f"{r.host_ms:7.2f} {r.host_precision:4} {r.published_ms:9.1f} {h.projected_ms:9.1f} "
              f"{100 * (h.ratio - 1):+6.0f}%{mark}")
    s = summary(held)
    print(f"within ±30 %: {100 * s['within']:.0f} % of {s['rows']} rows (goal ≥ 80 %)   "
          f"Spearman: {s['spearman']:.3f} (goal ≥ 0.9)   median |error|: {100 * s['median_abs_error']:.0f} %   "
          f"RMS log error: {s['rms_log']:.3f}")
    print(f"  published value inside the projected 80 % interval (each fold's own residual band): "
          f"{100 * s['interval_coverage']:.0f} % of rows")
    alt, _ = cal_rows(rows, cache, int8_from="fp32")
    a = summary(leave_one_out(alt, profiles, host))
    print(f"  (for comparison, int8 rows projected from the fp32 host measurement of the model: within ±30 % "
          f"{100 * a['within']:.0f} %, Spearman {a['spearman']:.3f})")
    print("  host timing: 1 thread, min over 7 interleaved rounds of per-round medians (machine shared)")
    if write:
        data = shipped_calibration(crows, profiles, host, held, {
            "written_by": "benchmarks/projection_accuracy.py --write-calibration",
            "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "host_measured_at": when, "host_cpu": cpu_model(),
            "published_table": "edgebench/profiles/data/reference/published_latencies.csv"})
        CALIBRATION_FILE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"wrote {CALIBRATION_FILE} (params {data['calibration']['params']})")


def host_peaks(repeats: int = 15) -> dict:
    """One core's achieved fp32 GEMM rate (torch.mm, 1 thread) and copy bandwidth: the best of
    ``repeats`` tries, since on a shared machine the best is the least disturbed."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    gemm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        gemm.append(2 * 1024 ** 3 / (time.perf_counter() - t0) / 1e9)
    src = np.ones(64 * 1024 * 1024 // 4, dtype=np.float32)  # 64 MB: far beyond the caches
    dst = np.empty_like(src)
    bw = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        bw.append(2 * src.nbytes / (time.perf_counter() - t0) / 1e9)  # read + write
    return {"fp32_gemm_gflops_1thread": round(max(gemm), 1), "copy_gbs_1thread": round(max(bw), 1),
            "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "loadavg_1min": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export-one", nargs=3, metavar=("MODEL", "RES", "PREC"), help=argparse.SUPPRESS)
    ap.add_argument("--measure-only", action="store_true", help="measure what is missing and stop")
    ap.add_argument("--remeasure", action="store_true", help="ignore the cache and measure again")
    ap.add_argument("--write-calibration", action="store_true",
                    help="refit on every row and write edgebench/profiles/data/calibration.json")
    ap.add_argument("--host-peaks", action="store_true", help="measure this core's GEMM rate and bandwidth")
    args = ap.parse_args()
    if args.host_peaks:
        print(json.dumps(host_peaks()))
        return
    if args.export_one:
        model, res, prec = args.export_one
        export_one(model, int(res), prec, artifact_path(model, int(res), prec))
        return
    from edgebench.profiles.calibration import reference_rows

    rows = reference_rows()
    cache = ensure_measured(rows, remeasure=args.remeasure)
    if args.measure_only:
        return
    report(rows, cache, write=args.write_calibration)


if __name__ == "__main__":
    main()
