"""Wall time of the full export matrix against the sum of bare single-converter calls.

    .venv/bin/python benchmarks/export_matrix.py [--model mobilenet_v3_small] [--jobs 2] [--formats onnx,tflite]

Bare calls: for every (format, variant) cell the exporter converts alone from a fresh context
(its own trace / torch.export / fp32 intermediate, no parity, no manifest), one after another in
this process; transformed modules and calibration inputs are prepared beforehand and not timed.
The matrix: ``edgebench.exporters.export`` over every format × the ``--all`` variants, with
parity and manifests, sharing work across precisions and running (format, transform) groups in
``--jobs`` processes. Goal: matrix ≤ 0.75 × the sum of the bare calls.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path


def bare_calls(model_spec, formats, variants, out: Path) -> dict[tuple[str, str], float]:
    from edgebench.exporters import registry
    from edgebench.exporters.context import ContextBuilder
    from edgebench.models import load
    from edgebench.spec import ExportSpec

    spec = ExportSpec(formats=tuple(formats), parity_samples=1)
    builder = ContextBuilder(load(model_spec), spec)
    times = {}
    for v in variants:
        for fmt in formats:
            exporter = registry.get(fmt)
            if exporter.unavailable_reason() or exporter.supports(v):
                continue
            ctx = dataclasses.replace(builder.context(v), shared={})  # nothing shared with other cells
            cell_spec = dataclasses.replace(spec, formats=(fmt,), variant=v)
            options = exporter.options_for(cell_spec)
            dest = out / f"bare-{fmt}-{v.label}{exporter.extension_for(options)}"
            t0 = time.perf_counter()
            exporter.convert(ctx, cell_spec, dest, options)
            times[(fmt, v.label)] = time.perf_counter() - t0
            print(f"  bare {fmt:12} {v.label:16} {times[(fmt, v.label)]:7.1f} s", flush=True)
    return times


def main() -> None:
    from edgebench.exporters import MATRIX_VARIANTS, export, registry
    from edgebench.spec import ExportSpec, ModelSpec

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="mobilenet_v3_small")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--formats", default=",".join(registry.names()))
    args = ap.parse_args()
    formats = args.formats.split(",")
    model = ModelSpec(args.model)
    with tempfile.TemporaryDirectory(prefix="edgebench-matrix-") as tmp:
        print(f"bare single-converter calls ({args.model}):", flush=True)
        bare = bare_calls(model, formats, MATRIX_VARIANTS, Path(tmp))
        t0 = time.perf_counter()
        rows = export(model, ExportSpec(formats=tuple(formats), out_dir=Path(tmp) / "matrix"),
                      variants=MATRIX_VARIANTS, workers=args.jobs)
        wall = time.perf_counter() - t0
    total = sum(bare.values())
    print(f"\nmatrix: {len(rows)} cells ({sum(r.status.value == 'OK' for r in rows)} OK, "
          f"{sum(r.status.value == 'UNSUPPORTED' for r in rows)} unsupported, "
          f"{sum(r.status.value not in ('OK', 'UNSUPPORTED') for r in rows)} failed), --jobs {args.jobs}")
    for r in rows:
        if r.status.value not in ("OK", "UNSUPPORTED"):
            print(f"  {r.format} {r.variant}: {r.status.value} {r.error.message if r.error else ''}")
    print(f"sum of {len(bare)} bare converter calls: {total:7.1f} s")
    print(f"full matrix wall time (with parity):   {wall:7.1f} s")
    print(f"ratio: {wall / total:.2f} (goal ≤ 0.75)")


if __name__ == "__main__":
    main()
