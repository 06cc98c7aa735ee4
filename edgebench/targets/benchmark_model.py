"""Parse the text output of LiteRT's ``benchmark_model`` into a RawSamples dict.

The tool prints aggregates, not every iteration: a warm-up stat line, a run stat line
(``count=… first=… curr=… min=… max=… avg=… std=…`` plus ``p5= median= p95=`` in newer builds), the
summary ``Inference timings in us: Init: …, First inference: …, Warmup (avg): …, Inference (avg): …``
and memory lines. Lines may carry log prefixes (``INFO: ``, ``I tflite  : ``, logcat timestamps).
Real samples the parser is tested against live in ``tests/data/benchmark_model/``.
"""

from __future__ import annotations

import re
from typing import Any

from edgebench.errors import RunError

MB = 1024 * 1024

_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_SUMMARY = re.compile(
    rf"Inference timings in us: Init: (?P<init>{_NUM}), First inference: (?P<first>{_NUM}), "
    rf"Warmup \(avg\): (?P<warmup>{_NUM}|nan|-?inf), Inference \(avg\): (?P<avg>{_NUM})")
_STAT_FIELD = re.compile(rf"\b(count|first|curr|min|max|avg|std|p5|median|p95)=({_NUM})")
_STAT_LINE = re.compile(r"(?:^|\s|:)count=\d")
_PROFILE_STAT = re.compile(r"(Timings \(microseconds\)|Memory \(bytes\)):")
_DELTA = re.compile(rf"(?:Memory footprint delta from the start of the tool|Peak memory footprint) "
                    rf"\(MB\): init=(?P<init>{_NUM}) overall=(?P<overall>{_NUM})")
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: (?P<peak>{_NUM})")
_GRAPH = re.compile(r"Graph: \[(?P<graph>[^\]]*)\]")
_THREADS = re.compile(r"(?:#threads used for CPU inference|Num threads)\s*: \[(?P<n>\d+)\]")
_ERROR = re.compile(r"\b(ERROR|Error|error|Failed|failed|Aborted|Segmentation fault|not found)\b")


def _stat(line: str) -> dict[str, float]:
    return {k: float(v) for k, v in _STAT_FIELD.findall(line)}


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0


def _delegate(text: str) -> str | None:
    if "delegate for GPU" in text or "TfLiteGpuDelegate" in text:
        return "gpu"
    if "NNAPI delegate" in text or "Use NNAPI : [1]" in text or "Use NNAPI: [1]" in text:
        return "nnapi"
    if "XNNPACK delegate" in text or "TfLiteXNNPackDelegate" in text:
        return "xnnpack"
    return None


def parse(text: str, *, model_path: str | None = None, fmt: str = "tflite") -> dict[str, Any]:
    """RawSamples for one ``benchmark_model`` run: init time (``load_ms``), first inference,
    warm-up and run aggregates (``summary``: count / mean / std / min / max / p5 / p50 / p95 in ms)
    and memory footprint in bytes. ``iterations_ms`` is empty because the tool does not print
    individual iterations. Raises RunError (stage ``run``) naming the tool's last error line when
    the output holds no result."""
    lines = text.splitlines()
    summary_at = next((i for i, line in enumerate(lines) if _SUMMARY.search(line)), None)
    if summary_at is None:
        errors = [line.strip() for line in lines if _ERROR.search(line)]
        tail = errors[-1] if errors else (next((ln.strip() for ln in reversed(lines) if ln.strip()), "no output"))
        raise RunError(f"benchmark_model printed no result: {tail[:300]}",
                       hint="check the model path, delegate flags and that the binary matches the device ABI")
    m = _SUMMARY.search(lines[summary_at])
    assert m is not None
    stats = [_stat(line) for line in lines[:summary_at]
             if _STAT_LINE.search(line) and not _PROFILE_STAT.search(line)]
    run = stats[-1] if stats else {}
    warm = stats[-2] if len(stats) >= 2 else {}

    def num(value: str) -> float | None:
        try:
            out = float(value)
        except ValueError:
            return None
        return out if out == out and abs(out) != float("inf") else None

    init_us, first_us, warm_avg_us, avg_us = (num(m["init"]), num(m["first"]), num(m["warmup"]), num(m["avg"]))
    summary: dict[str, float | None] = {
        "count": run.get("count"),
        "mean_ms": _ms(avg_us if avg_us is not None else run.get("avg")),
        "std_ms": _ms(run.get("std")),
        "min_ms": _ms(run.get("min")),
        "max_ms": _ms(run.get("max")),
        "p5_ms": _ms(run.get("p5")),
        "p50_ms": _ms(run.get("median")),
        "p95_ms": _ms(run.get("p95")),
        "first_run_ms": _ms(run.get("first")),
        "warmup_count": warm.get("count"),
        "warmup_mean_ms": _ms(warm_avg_us if warm_avg_us is not None else warm.get("avg")),
        "warmup_std_ms": _ms(warm.get("std")),
        "warmup_min_ms": _ms(warm.get("min", warm.get("curr"))),
        "warmup_max_ms": _ms(warm.get("max", warm.get("curr"))),
    }
    memory: dict[str, Any] | None = None
    delta = next((d for d in map(_DELTA.search, lines) if d), None)
    peak = next((p for p in map(_PEAK.search, lines) if p), None)
    if delta or peak:
        memory = {
            "load_rss_delta_bytes": round(float(delta["init"]) * MB) if delta else None,
            "footprint_bytes": round(float(delta["overall"]) * MB) if delta else None,
            "peak_rss_bytes": round(float(peak["peak"]) * MB) if peak else None,
            "definition": "benchmark_model: footprint = max-RSS delta from the tool's start (init and "
                          "overall); peak = periodic RSS monitoring (--report_peak_memory_footprint)",
        }
    graph = next((g["graph"] for g in map(_GRAPH.search, lines) if g), None)
    threads = next((int(t["n"]) for t in map(_THREADS.search, lines) if t), None)
    return {
        "schema_version": 1,
        "runner": "benchmark_model",
        "status": "ok",
        "error": None,
        "runtime": "benchmark_model",
        "runtime_version": None,
        "format": fmt,
        "model_path": model_path or graph,
        "threads": threads,
        "delegate": _delegate(text),
        "input_shapes": None,
        "load_ms": _ms(init_us),
        "first_inference_ms": _ms(first_us),
        "warmup_ms": [],
        "iterations_ms": [],
        "include_io": False,
        "summary": summary,
        "memory": memory,
        "device_state": None,
        "host": None,
    }
