"""The compare table: one row per measured artifact (model × format × variant × target × the
artifact's sha256 × input shape × delegate: :func:`artifact_key`).

``compare_rows`` picks the latest measured run of each artifact (or every run), counts the older
runs it hides, labels artifacts that share a model name apart (folder, shape or short sha), and adds
the speed-up against the one fp32 baseline of the same model, format, target and input shape: the
paired one (per-round ratios from an interleaved run, with its CI; ``samples["paired"]``,
:mod:`edgebench.harness.paired`) when the run has it, else the ratio of the two runs' medians (no CI).
``top_ops`` gives a run's slowest operators (``samples["op_profile"]``).
Rows are plain dicts of numbers (units in the keys) so every output format
(:mod:`edgebench.results.render`) shows the same values.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Iterable

from edgebench.results.checks import low_agreement
from edgebench.results.model import RunResult, Status

BASELINE_VARIANT = "fp32"
MB = 1024 * 1024
LOW_MARK = " ⚠ low"  # the quality cell of an int8 row far below its fp32 model (results.checks)


# a run that measured something (its timings are real); the latest of these per artifact is shown
MEASURED = (Status.OK, Status.PARITY_FAILED)


QDQ_OPS = ("QUANTIZE", "DEQUANTIZE", "QuantizeLinear", "DequantizeLinear")


def _cell(r: RunResult) -> tuple[str, str, str, str, str | None]:
    return (r.model, r.format, r.variant, r.target, delegate_of(r))


# the delegate a runner runtime uses without --delegate (its ``Runtime.default_delegate``; a test keeps
# the two in step): rows stored before names were normalised still read as one identity
DEFAULT_DELEGATES = {"onnxruntime": "cpu", "litert": "xnnpack", "coreml": "cpu_only"}
_PROVIDER_SUFFIX = "executionprovider"  # ONNX Runtime's full provider names: CPUExecutionProvider = cpu


def canonical_delegate(name: Any) -> str | None:
    """A delegate name as stored (any case, an execution provider's full name) → its canonical
    lower-case name (``CPUExecutionProvider`` → ``cpu``); None for None / empty."""
    if not name:
        return None
    name = str(name).strip().lower()
    return name[:-len(_PROVIDER_SUFFIX)] if name.endswith(_PROVIDER_SUFFIX) and name != _PROVIDER_SUFFIX else name


def _runtime_of(r: RunResult) -> str | None:
    return (r.samples or {}).get("runtime")


def delegate_of(r: RunResult) -> str | None:
    """The delegate / execution provider a run used, canonical (:func:`canonical_delegate`): as the
    runtime named it in its coverage report (``xnnpack``, ``none``, ``cpu``…), else the one asked
    for (``--delegate``), else the runner's own ``delegate`` field, else the runtime's default
    (no flag); None when nothing says. Part of a row's identity."""
    raw = r.samples or {}
    d = raw.get("delegation") or {}
    name = canonical_delegate(d.get("delegate") or asked_delegate(r) or raw.get("delegate"))
    return name or DEFAULT_DELEGATES.get(_runtime_of(r))


def delegation_text(r: RunResult) -> str | None:
    """``delegated 148/150`` (+ ``in 20 partitions`` when split), or None without coverage figures."""
    d = (r.samples or {}).get("delegation") or {}
    if d.get("total_nodes") is None or d.get("delegated_nodes") is None:
        return None
    text = f"delegated {d['delegated_nodes']}/{d['total_nodes']}"
    if d.get("partitions") and d["partitions"] > 1:
        text += f" in {d['partitions']} partitions"
    return text


def _top_ops(raw: dict[str, Any], n: int = 3) -> list[str]:
    """The ``n`` op types with the most time per inference: from the run's per-operator profile
    (``op_profile`` rows: ``--profile-ops``, benchmark_model's op profiling), else from ONNX Runtime's
    coverage profile (``delegation.op_ms``: one profiled run, said so)."""
    per_type: dict[str, float] = {}
    for o in raw.get("op_profile") or []:
        if isinstance(o, dict) and isinstance(o.get("mean_ms"), (int, float)):
            key = str(o.get("op_type") or o.get("name") or "?")
            per_type[key] = per_type.get(key, 0.0) + o["mean_ms"]
    if per_type:
        top = sorted(per_type.items(), key=lambda kv: -kv[1])[:n]
        return [f"{op} {ms:.2f} ms per inference" for op, ms in top]
    op_ms = (raw.get("delegation") or {}).get("op_ms") or {}
    top = sorted(op_ms.items(), key=lambda kv: -kv[1])[:n]
    return [f"{op} {ms:.2f} ms in one profiled run" for op, ms in top]


# a runtime library this large in the measuring process dwarfs a mobile model (torch, imported by
# executorch.runtime and TorchScript's runner, is ~0.3-0.9 GB; onnxruntime / LiteRT are ~0.05-0.1 GB)
BIG_BASELINE_BYTES = 256 * MB


def memory_note(r: RunResult) -> str | None:
    """A note when the peak RSS is mostly the runtime's own library, loaded before the model:
    baseline RSS (after importing the runtime) ≥ 256 MB and ≥ half the peak. None otherwise."""
    mem = r.memory or {}
    peak, base = mem.get("peak_rss_bytes"), mem.get("baseline_rss_bytes")
    if peak is None or base is None or base < BIG_BASELINE_BYTES or base * 2 < peak:
        return None
    runtime = (r.samples or {}).get("runtime") or "the runtime"
    return (f"peak RSS {peak / MB:.0f} MB is mostly {runtime}'s Python library ({base / MB:.0f} MB before the "
            f"model loaded); the model adds {(peak - base) / MB:.0f} MB (peak − baseline). A device's C++ "
            f"runtime is far smaller: compare models by that figure, not by peak MB")


# int8 dot-product instructions (as /proc/cpuinfo names them): VNNI / AMX on x86, SDOT/UDOT
# (``asimddp``) and I8MM on Arm; the runner records them in RawSamples ``host.isa_flags``
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


def no_int8_dot_product(host: dict) -> str | None:
    """The cause to name when the measuring CPU has no int8 dot-product instruction (x86 without
    VNNI / AMX, Arm without SDOT/UDOT): int8 kernels then multiply-accumulate in several steps
    (``vpmaddubsw`` + ``vpmaddwd`` + add on AVX2 / AVX-512, where VNNI's ``vpdpbusd`` is one), so
    int8 gains little over fp32 or loses. None when the CPU has one or its flags were not recorded."""
    flags = host.get("isa_flags")
    if not flags or any(f in flags for f in INT8_DOT_FLAGS):
        return None
    arch = str(host.get("arch") or "")
    if arch in ("x86_64", "AMD64", "i686"):
        missing = "VNNI (avx512_vnni / avx_vnni) or AMX"
    elif arch in ("aarch64", "arm64") or arch.startswith("armv"):
        missing = "the dot-product extension (asimddp: SDOT / UDOT) or I8MM"
    else:
        return None
    return (f"this CPU ({host.get('cpu_model') or arch}) has no int8 dot-product instructions ({missing}): "
            "its int8 kernels multiply-accumulate in several steps, so int8 can lose to fp32 here")


def slower_note(r: RunResult, ms: float | None, base_ms: float | None, speedup: float) -> str:
    """Why an int8 row is slower than its fp32 sibling, from what the run recorded: delegate
    partitions and CPU-fallback ops, quantize/dequantize op count, the top ops of a profile."""
    raw = r.samples or {}
    d = raw.get("delegation") or {}
    why = []
    if d.get("partitions") and d["partitions"] > 1:
        why.append(f"{d['partitions']} delegate partitions")
    fallback = d.get("fallback_ops") or {}
    if fallback and d.get("delegate") not in ("none", "cpu", None):
        why.append("on the CPU fallback: " + ", ".join(f"{op} ×{k}" for op, k in
                                                        sorted(fallback.items(), key=lambda kv: -kv[1])))
    qdq = sum(k for op, k in (d.get("ops") or {}).items() if op in QDQ_OPS)
    if qdq:
        why.append(f"{qdq} quantize/dequantize ops")
    top = _top_ops(raw)
    if top:
        why.append("top ops: " + ", ".join(top))
    # the runner's own host record, else what the target read over its shell (benchmark_model runs)
    no_dot = no_int8_dot_product(raw.get("host") or (raw.get("device_state") or {}).get("before") or {})
    if no_dot:
        why.append(no_dot)
    if ms and base_ms:
        text = f"{r.variant} is slower than its fp32 sibling ({ms:.3g} ms vs {base_ms:.3g} ms, {speedup:.2f}×)"
    else:  # only the paired rounds say so (no separate fp32 run to quote)
        text = f"{r.variant} is slower than its fp32 sibling (paired speed-up {speedup:.2f}×)"
    return text + (": " + "; ".join(why) if why else ": no coverage or profile recorded to say why")


def input_shape_of(r: RunResult) -> tuple[int, ...] | None:
    """The input shape the run asked for (``--input-shape`` / a sweep's resolution), None = the file's own."""
    shape = ((r.spec or {}).get("bench") or {}).get("input_shape")
    return tuple(shape) if shape else None


def asked_delegate(r: RunResult) -> str | None:
    """The delegate / execution provider the run asked for (``--delegate``, a sweep's axis),
    canonical; None when it asked for none or for its runtime's default by name (the same run)."""
    name = canonical_delegate(((r.spec or {}).get("bench") or {}).get("delegate") or (r.spec or {}).get("delegate"))
    return None if name == DEFAULT_DELEGATES.get(_runtime_of(r)) else name


def artifact_key(r: RunResult) -> tuple:
    """A row's identity: the cell (model, format, variant, target) plus the artifact's sha256, the
    input shape asked for and the delegate asked for, so two different files that share a name (two
    third-party ``model.onnx``, two ``best.pt`` exports) or one model at 160² and 224² stay apart."""
    sha = r.artifact.sha256 if r.artifact is not None else None
    return (*_cell(r), sha, input_shape_of(r), asked_delegate(r))


def _folder(r: RunResult) -> tuple[str, ...]:
    path = r.artifact.path if r.artifact is not None and r.artifact.path else None
    return PurePath(path).parent.parts if path else ()


def labels(results: Iterable[RunResult]) -> dict[tuple, str]:
    """A display label per artifact identity: the model name, plus — only where several artifacts
    share a cell (model, format, variant, target) — what tells them apart: the shortest distinct tail
    of their folder, the input shape, the delegate, else the sha256's first 8 hex digits."""
    groups: dict[tuple, dict[tuple, RunResult]] = {}
    for r in results:
        groups.setdefault(_cell(r), {})[artifact_key(r)] = r
    out: dict[tuple, str] = {}
    for cell, members in groups.items():
        if len(members) == 1:
            out.update({k: cell[0] for k in members})
            continue
        keys = list(members)
        folders = {k: _folder(members[k]) for k in keys}
        depth = max((len(f) for f in folders.values()), default=0)
        folder_text = {k: "" for k in keys}
        for n in range(1, depth + 1):
            tails = {k: "/".join(folders[k][-n:]) for k in keys}
            if len({tails[k] for k in keys}) == len({folders[k] for k in keys}):
                folder_text = tails
                break
        # artifact_key = (model, format, variant, target, delegate, sha256, input shape, asked delegate)
        parts_of = [
            folder_text,
            {k: "x".join(map(str, k[6])) if k[6] else "" for k in keys},
            {k: k[7] or "" for k in keys},
            {k: f"sha {k[5][:8]}" if k[5] else "" for k in keys},
        ]
        chosen: list[dict] = []
        for part in parts_of:
            if len({part[k] for k in keys}) > 1:
                chosen.append(part)
            if len({tuple(p[k] for p in chosen) for k in keys}) == len(keys):
                break
        for k in keys:
            extra = ", ".join(p[k] for p in chosen if p[k])
            out[k] = f"{cell[0]} ({extra})" if extra else cell[0]
    return out


def select(results: Iterable[RunResult], *, model: str | None = None, fmt: str | None = None,
           variant: str | None = None, target: str | None = None, latest: bool = True) -> list[RunResult]:
    """Measured (kind "run") results matching the filters; with ``latest`` one per artifact (see
    :func:`artifact_key`): its latest run that measured something (OK, PARITY_FAILED), else its
    latest run. ``results`` are expected oldest first (as :meth:`Store.results` returns them)."""
    return select_counted(results, model=model, fmt=fmt, variant=variant, target=target, latest=latest)[0]


def select_counted(results: Iterable[RunResult], *, model: str | None = None, fmt: str | None = None,
                   variant: str | None = None, target: str | None = None,
                   latest: bool = True) -> tuple[list[RunResult], dict[str, int]]:
    """:func:`select` and, per chosen run id, how many other runs of the same artifact it hides."""
    picked = [r for r in results if r.kind == "run"
              and (model is None or r.model == model) and (fmt is None or r.format == fmt)
              and (variant is None or r.variant == variant) and (target is None or r.target == target)]
    hidden: dict[str, int] = {}
    if latest:
        by_key: dict[tuple, list[RunResult]] = {}
        for r in picked:
            by_key.setdefault(artifact_key(r), []).append(r)
        picked = []
        for runs in by_key.values():
            good = [r for r in runs if r.status in MEASURED]
            best = (good or runs)[-1]
            picked.append(best)
            hidden[best.run_id] = len(runs) - 1
    ordered = sorted(picked, key=lambda r: (r.model, r.target, r.format, r.variant != BASELINE_VARIANT, r.variant,
                                            str(artifact_key(r)[4:])))
    return ordered, hidden


def quality(r: RunResult) -> dict[str, Any]:
    """Accuracy (labelled dataset), agreement with eager (unlabelled) or export parity, as numbers."""
    acc = r.accuracy or {}
    if acc.get("psnr_db") is not None:  # an image-to-image model: PSNR / SSIM, no class metrics
        return {"psnr_db": acc.get("psnr_db"), "ssim": acc.get("ssim"), "n": acc.get("n"),
                "reference": acc.get("reference")}
    if acc.get("kind") == "labelled":
        return {"accuracy": acc.get("accuracy"), "macro_f1": acc.get("macro_f1"), "n": acc.get("n")}
    if acc.get("kind") == "agreement":
        return {"top1_agreement": acc.get("top1_agreement"), "n": acc.get("n"), "reference": "fp32 eager"}
    vs = (r.parity or {}).get("vs_eager") or {}
    if vs:
        return {"sqnr_db": vs.get("sqnr_db"), "top1_agreement": vs.get("top1_agreement"), "n": vs.get("n"),
                "reference": "export parity vs eager",
                **({"psnr_db": vs["psnr_db"], "ssim": vs.get("ssim")} if vs.get("psnr_db") is not None else {})}
    return {}


def quality_text(q: dict[str, Any]) -> str:
    """One short cell: ``acc 71.2% F1 0.70``, ``top-1 agr 98% (n=64)`` or ``SQNR 72 dB, top-1 100%``."""
    if q.get("accuracy") is not None:
        return f"acc {q['accuracy']:.1%} F1 {q['macro_f1']:.2f} (n={q['n']})"
    parts = []
    if q.get("psnr_db") is not None:
        ssim = f" SSIM {q['ssim']:.3f}" if q.get("ssim") is not None else ""
        vs = "vs clean " if q.get("reference") and "clean" in str(q["reference"]) else ""
        parts.append(f"PSNR {vs}{q['psnr_db']:.1f} dB{ssim}")
    if q.get("sqnr_db") is not None:
        parts.append(f"SQNR {q['sqnr_db']:.0f} dB")
    if q.get("top1_agreement") is not None:
        parts.append(f"top-1 {'agr ' if q.get('reference') == 'fp32 eager' else ''}{q['top1_agreement']:.0%}")
    return ", ".join(parts) or "—"


def typical_ms(lat: Any) -> tuple[float | None, str | None]:
    """(milliseconds, kind) a row shows as its typical latency: the median (``"p50"``), or for a
    runner that printed only an average (old benchmark_model builds) the mean, kind ``"mean"``."""
    if lat is None:
        return None, None
    if lat.p50_ms is not None:
        return lat.p50_ms, "p50"
    if lat.mean_ms is not None:
        return lat.mean_ms, "mean"
    return None, None


def includes_io(r: RunResult) -> bool:
    """Whether ``r``'s timed iterations include pre/post-processing and copies (--include-io)."""
    return bool(r.timed_region and r.timed_region.endswith("+io"))


def top_ops(r: RunResult, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` operators of ``r``'s per-operator profile by total time (empty without one)."""
    ops = (r.samples or {}).get("op_profile") or []
    return sorted(ops, key=lambda o: -(o.get("total_ms") or 0))[:top]


def paired_speedup(r: RunResult) -> dict[str, Any] | None:
    """``{speedup, ci_low, ci_high, rounds, timer}`` of ``r``'s paired run against its fp32 sibling,
    or None when it has none."""
    p = (r.samples or {}).get("paired") or {}
    if p.get("speedup") is None:
        return None
    return {k: p.get(k) for k in ("speedup", "ci_low", "ci_high", "rounds", "timer")}


def transform_facts(a: Any) -> dict[str, Any]:
    """``sparsity`` (zero share of the weight matrices, attention Q/K/V included),
    ``sparsity_whole_model`` (of every parameter) and ``packed_1bit_mb`` (what a 1-bit packing of a
    binarized model would take) from an artifact's manifest; None where its transform has none
    (untransformed rows keep None: they were not pruned, whatever zeros they hold)."""
    t = ((a.manifest or {}).get("transform") or {}) if a is not None else {}
    pruned = str(t.get("kind") or "").startswith("prune")
    packed = a.packed_1bit_bytes if a is not None and a.packed_1bit_bytes else t.get("packed_1bit_bytes")
    return {"sparsity": t.get("sparsity") if pruned else None,
            "sparsity_whole_model": t.get("sparsity_whole_model") if pruned else None,
            "packed_1bit_mb": packed / MB if packed else None}


def compare_rows(results: Iterable[RunResult], **filters: Any) -> list[dict[str, Any]]:
    """The compare table as dicts: identity (with the delegate), size, counts, sparsity / packed 1-bit
    size of pruned / binarized artifacts (:func:`transform_facts`), quality, latency,
    memory, speed-up, delegate coverage (``delegation``: "delegated 148/150"), status. ``notes``: an
    int8 row slower than its fp32 sibling (same model, format, target, delegate) says so and why.
    ``p50_ms`` is a median only; a run with only an average has ``p50_ms`` None and ``mean_ms`` with
    ``latency_kind`` ``"mean"`` (the table shows it labelled). ``peak_mb`` falls back to the tool's
    own footprint figure when no peak RSS was sampled (``peak_source`` says which). ``speedup`` is
    the paired speed-up when the run has one (``speedup_kind`` ``"paired"``, CI in
    ``speedup_ci_low`` / ``speedup_ci_high``), else the ratio of medians (``"unpaired"``, no CI);
    ``speedup_unpaired`` always holds the latter."""
    chosen, hidden = select_counted(results, **filters)
    names = labels(chosen)
    # a speed-up compares like with like: the same timed region (--include-io or not), median with
    # median, the same input shape and delegate; and only against one fp32 artifact (several: none)
    candidates: dict[tuple, dict[tuple, RunResult]] = {}
    for r in chosen:
        if r.variant == BASELINE_VARIANT and typical_ms(r.latency)[0] and r.status in MEASURED:
            candidates.setdefault(_baseline_key(r), {})[artifact_key(r)] = r
    rows = []
    for r in chosen:
        a, lat, mem = r.artifact, r.latency, r.memory or {}
        p50 = lat.p50_ms if lat else None
        typical, kind = typical_ms(lat)
        base, base_kind = _baseline(r, candidates)
        unpaired = base / typical if base and typical and base_kind == kind else None
        pair = paired_speedup(r)
        speedup = pair["speedup"] if pair else unpaired  # paired rounds, when measured so, are the better figure
        q = quality(r)
        low = low_agreement(r.variant, r.accuracy, r.parity)
        notes = [low] if low else []
        if speedup is not None and speedup < 1.0 and "int8" in r.variant:
            notes.append(slower_note(r, typical, base, speedup))
        heavy = memory_note(r)
        if heavy:
            notes.append(heavy)
        peak, peak_source = mem.get("peak_rss_bytes"), "peak_rss"
        if peak is None and mem.get("footprint_bytes") is not None:
            peak, peak_source = mem["footprint_bytes"], "footprint"
        rows.append({
            "model": names.get(artifact_key(r), r.model), "format": r.format, "variant": r.variant,
            "target": r.target, "delegate": delegate_of(r), "delegation": delegation_text(r),
            "status": r.status.value,
            "size_mb": a.size_bytes / MB if a and a.size_bytes is not None else None,
            "gzip_mb": a.gzip_bytes / MB if a and a.gzip_bytes is not None else None,
            "params": a.params if a else None, "nonzero_params": a.nonzero_params if a else None,
            "macs": a.macs if a else None, **transform_facts(a),
            "quality": quality_text(q) + (LOW_MARK if low else ""), **{f"quality_{k}": v for k, v in q.items()},
            "hidden_runs": hidden.get(r.run_id, 0),
            "sha256": a.sha256 if a else None, "input_shape": list(input_shape_of(r) or []) or None,
            "timed_region": r.timed_region, "include_io": includes_io(r),
            "p50_ms": p50, "mean_ms": lat.mean_ms if lat else None, "latency_kind": kind,
            "ci_low_ms": lat.median_ci_low_ms if lat else None,
            "ci_high_ms": lat.median_ci_high_ms if lat else None, "p90_ms": lat.p90_ms if lat else None,
            "cv": lat.cv if lat else None, "n": lat.n if lat else None,
            "peak_mb": peak / MB if peak is not None else None,
            "peak_source": peak_source if peak is not None else None,
            "model_peak_mb": (peak - mem["baseline_rss_bytes"]) / MB
            if peak_source == "peak_rss" and mem.get("baseline_rss_bytes") is not None else None,
            "speedup": speedup,
            "speedup_kind": "paired" if pair else "unpaired" if unpaired is not None else None,
            "speedup_ci_low": pair["ci_low"] if pair else None, "speedup_ci_high": pair["ci_high"] if pair else None,
            "speedup_unpaired": unpaired,
            "error": str(r.error.message) if r.error else None,
            "warnings": len(r.warnings) + len(notes), "notes": notes,
            "run_id": r.run_id, "created_at": r.created_at,
        })
    return rows


def _baseline_key(r: RunResult) -> tuple:
    return (r.model, r.format, r.target, includes_io(r), input_shape_of(r), delegate_of(r))


def _baseline(r: RunResult, candidates: dict[tuple, dict[tuple, RunResult]]) -> tuple[float | None, str | None]:
    """The typical latency of ``r``'s fp32 sibling: the one fp32 artifact of the same model, format,
    target, timed region, input shape and delegate; among several, the one in ``r``'s folder; else none."""
    found = list(candidates.get(_baseline_key(r), {}).values())
    if len(found) > 1:
        found = [b for b in found if _folder(b) == _folder(r)]
    return typical_ms(found[0].latency) if len(found) == 1 else (None, None)
