"""Parse the text output of LiteRT / TFLite ``benchmark_model`` (every era) into a RawSamples dict.

The tool prints aggregates, not every iteration: a warm-up stat line and a run stat line
(``count=… first=… curr=… min=… max=… avg=… std=…``, plus ``p5= median= p95=`` in builds since
2023), one summary line and memory lines. The summary line changed over the years:

* 2018–2019: ``Average inference timings in us: Warmup: …, Init: …, no stats: …`` (``no stats`` is
  the run average; older builds say ``Inference: …``);
* 2020 on: ``Inference timings in us: Init: …, First inference: …, Warmup (avg): …, Inference (avg): …``.

Memory: ``Peak memory footprint (MB): init=… overall=…`` (2020–2021) or ``Memory footprint delta from
the start of the tool (MB): init=… overall=…`` (later), and ``Overall peak memory footprint (MB) via
periodic monitoring: …`` with ``--report_peak_memory_footprint``. With ``--enable_op_profiling``
the tool appends tables (``Run Order``, ``Top by Computation Time``, ``Summary by node type``);
they are parsed as tables into ``op_profile_tables`` and the regular runs' ``Run Order`` table is
mapped to the per-operator rows every runner gives (``op_profile``, :func:`op_rows`). Lines may carry log prefixes (``INFO: ``,
``I tflite  : ``, logcat ``03-14 10:21:07.101  8120  8137 I tflite  : ``). Transcripts of each
era the parser is tested against live in ``tests/data/benchmark_model/``.
"""

from __future__ import annotations

import re
from typing import Any

from edgebench.errors import RunError

MB = 1024 * 1024
RUNNER = "benchmark_model"

_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_VALUE = rf"{_NUM}|[-+]?nan|[-+]?inf"
# logcat threadtime (`03-14 10:21:07.101  8120  8137 I tflite  : `), logcat brief (`I/tflite  ( 8120): `),
# logcat tag form (`I tflite  : `) and the tool's own severity prefixes (`INFO: `, `VERBOSE: ` …)
_PREFIX = re.compile(
    r"^(?:\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+[\w.-]*\s*:\s?"
    r"|[VDIWEF]/[\w.-]+\s*(?:\(\s*\d+\))?\s*:\s?"
    r"|[VDIWEF]\s+[\w.-]+\s*:\s"
    r"|(?:INFO|VERBOSE|WARNING|DEBUG):\s)")
_SUMMARY = re.compile(r"^(?:Average )?[Ii]nference timings in us:\s*(?P<rest>.*)$")
_SUMMARY_FIELD = re.compile(rf"(?P<key>[A-Za-z][A-Za-z ()]*?):\s*(?P<value>{_VALUE})\s*(?:,|$)")
_STAT_FIELD = re.compile(rf"\b(count|first|curr|min|max|avg|std|p5|median|p95)=({_NUM})")
_STAT_LINE = re.compile(r"^count=\d")
_INIT_LINE = re.compile(rf"^Initialized session in (?P<ms>{_NUM}) ?ms")
_DELTA = re.compile(rf"^(?:Memory footprint delta from the start of the tool|Peak memory footprint) "
                    rf"\(MB\): init=(?P<init>{_NUM}) overall=(?P<overall>{_NUM})")
_PEAK = re.compile(rf"^Overall peak memory footprint \(MB\) via periodic monitoring: (?P<peak>{_NUM})")
_GRAPH = re.compile(r"^Graph: \[(?P<graph>[^\]]*)\]")
_THREADS = re.compile(r"^(?:#threads used for CPU inference|Num threads)\s*: \[(?P<n>-?\d+)\]")
_ERROR = re.compile(r"\b(ERROR|Error|error|Failed|failed|Aborted|Segmentation fault|not found)\b")
_SECTION = re.compile(r"^(?P<name>.*Profiling Info.*?):?\s*$")
_TABLE = re.compile(r"^=+ (?P<name>[^=]+?) =+$")

# summary keys of every era → what they mean
_SUMMARY_KEYS = {"init": "init", "first inference": "first", "warmup (avg)": "warmup", "warmup": "warmup",
                 "inference (avg)": "avg", "no stats": "avg", "inference": "avg"}


def strip_prefix(line: str) -> str:
    """``line`` without a logcat or ``INFO:``-style prefix (tabs of op-profiling rows kept)."""
    return _PREFIX.sub("", line.rstrip("\r\n"), count=1)


def _stat(line: str) -> dict[str, float]:
    return {k: float(v) for k, v in _STAT_FIELD.findall(line)}


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0


def _finite(value: str) -> float | None:
    try:
        out = float(value)
    except ValueError:
        return None
    return out if out == out and abs(out) != float("inf") else None


def parse_summary(line: str) -> dict[str, float | None] | None:
    """The summary line of any era as ``{init, first, warmup, avg}`` in µs (None where the build
    did not print the field or printed nan), or None when ``line`` is not a summary line."""
    m = _SUMMARY.match(line.strip())
    if not m:
        return None
    out: dict[str, float | None] = {"init": None, "first": None, "warmup": None, "avg": None}
    for field in _SUMMARY_FIELD.finditer(m["rest"]):
        key = _SUMMARY_KEYS.get(field["key"].strip().lower())
        if key is not None:
            out[key] = _finite(field["value"])
    return out


_REPLACING = re.compile(r"Replacing (?P<n>\d+) out of (?P<m>\d+) node\(s\) with delegate \((?P<name>[^)]*)\) node, "
                        r"yielding (?P<parts>\d+) partitions?")
_DELEGATE_NAMES = {"TfLiteXNNPackDelegate": "xnnpack", "TfLiteGpuDelegateV2": "gpu", "TfLiteGpuDelegate": "gpu",
                   "TfLiteNnapiDelegate": "nnapi"}


def delegation(text: str) -> dict | None:
    """Coverage from the tool's "Replacing N out of M node(s) with delegate (NAME) node, yielding K
    partitions" line (the last one when several delegates applied): ``{delegate, delegated_nodes,
    total_nodes, partitions, fallback_ops}``; ``fallback_ops`` is None (the line does not name
    them). None when the output has no such line (no delegate, or an old build)."""
    found = list(_REPLACING.finditer(text))
    if not found:
        return None
    m = found[-1]
    return {"delegate": _DELEGATE_NAMES.get(m["name"], m["name"]), "delegated_nodes": int(m["n"]),
            "total_nodes": int(m["m"]), "partitions": int(m["parts"]), "fallback_ops": None}


def _delegate(text: str) -> str | None:
    if "delegate for GPU" in text or "TfLiteGpuDelegate" in text:
        return "gpu"
    if "NNAPI delegate" in text or re.search(r"Use NNAPI ?: \[1\]", text, re.I):
        return "nnapi"
    if "XNNPACK delegate" in text or "TfLiteXNNPackDelegate" in text:
        return "xnnpack"
    return None


def _column(header: str) -> str:
    key = header.strip().strip("[]").strip().lower().replace("%", " pct")
    return re.sub(r"[^a-z0-9]+", "_", key).strip("_")


def _cell(text: str) -> Any:
    text = text.strip()
    number = text[:-1] if text.endswith("%") else text
    if re.fullmatch(r"[-+]?\d+", number):
        return int(number)
    if re.fullmatch(_NUM, number):
        return float(number)
    return text


def parse_op_profile(lines: list[str]) -> list[dict[str, Any]]:
    """The op-profiling tables (``--enable_op_profiling``): one dict per table with ``section``
    (e.g. ``Operator-wise Profiling Info for Regular Benchmark Runs``), ``table`` (``Run Order``,
    ``Top by Computation Time``, ``Summary by node type``), ``columns`` (snake_case: ``node_type``,
    ``start``, ``first``, ``avg_ms``, ``pct``, ``cdf_pct``, ``mem_kb``, ``times_called``, ``name``)
    and ``rows`` (numbers as numbers; percentages without the ``%``). Empty when there are none."""
    tables: list[dict[str, Any]] = []
    section: str | None = None
    current: dict[str, Any] | None = None
    for raw in lines:
        line = strip_prefix(raw)
        stripped = line.strip()
        sec = _SECTION.match(stripped)
        if sec and not stripped.startswith("="):
            section, current = sec["name"], None
            continue
        tab = _TABLE.match(stripped)
        if tab:
            current = {"section": section, "table": tab["name"].strip(), "columns": [], "rows": []}
            tables.append(current)
            continue
        if current is None:
            continue
        cells = [c for c in re.split(r"\t+", line) if c.strip()] if "\t" in line else []
        if not cells:
            if stripped:  # "Number of nodes executed", "Timings (microseconds): …": the table ended
                current = None
            continue
        if not current["columns"] and all(c.strip().startswith("[") for c in cells):
            current["columns"] = [_column(c) for c in cells]
        elif current["columns"] and len(cells) == len(current["columns"]):
            current["rows"].append(dict(zip(current["columns"], map(_cell, cells))))
        # a row that does not fit the header is not ours to guess at: skip it
    return [t for t in tables if t["columns"]]


def op_rows(tables: list[dict[str, Any]], runs: int | None = None) -> list[dict[str, Any]]:
    """The per-operator rows of :mod:`edgebench.runner.ops` (op_type, name, total_ms, mean_ms,
    calls, share, delegated, provider), slowest first, from the ``Run Order`` table of the regular
    benchmark runs (never the initialization section's: AllocateTensors is no inference op). ``mean_ms`` is the tool's
    ``avg ms`` per run; ``total_ms`` = ``mean_ms`` × ``runs`` (the run count; ``mean_ms`` when
    unknown); ``delegated``: the node is a delegate kernel (``TfLiteXNNPackDelegate``, …). Empty
    when there is no such table."""
    order = [t for t in tables if t["table"] == "Run Order" and "node_type" in t["columns"]
             and "avg_ms" in t["columns"]]
    regular = [t for t in order if "Regular" in str(t.get("section"))] or \
        [t for t in order if "Initialization" not in str(t.get("section"))]
    if not regular:
        return []
    n = runs if runs and runs > 0 else 1
    rows = [r for r in regular[-1]["rows"] if isinstance(r.get("avg_ms"), (int, float))]
    total = sum(r["avg_ms"] for r in rows)
    out = []
    for r in rows:
        node = str(r["node_type"])
        out.append({"op_type": node, "name": str(r.get("name", node)), "total_ms": r["avg_ms"] * n,
                    "mean_ms": float(r["avg_ms"]), "calls": int(r.get("times_called") or 1) * n,
                    "share": r["avg_ms"] / total if total > 0 else 0.0,
                    "delegated": "delegate" in node.lower(), "provider": node if "delegate" in node.lower() else None})
    out.sort(key=lambda o: -o["total_ms"])
    return out


def parse(text: str, *, model_path: str | None = None, fmt: str | None = None) -> dict[str, Any]:
    """RawSamples for one ``benchmark_model`` run of any era: init time (``load_ms``), first
    inference, warm-up and run aggregates (``summary``: count / mean / std / min / max / p5 / p50 /
    p95 in ms; p5 / p50 / p95 None when the build printed no percentiles, so a mean is never
    passed off as a median), memory footprint in bytes and ``op_profile`` tables. ``iterations_ms``
    is empty because the tool does not print individual iterations. ``fmt`` is the opaque format
    label echoed into the result. Raises RunError (stage ``run``) naming the tool's last error line
    when the output holds no result."""
    raw_lines = text.splitlines()
    lines = [strip_prefix(line).strip() for line in raw_lines]
    summary_at = next((i for i, line in enumerate(lines) if parse_summary(line) is not None), None)
    if summary_at is None:
        errors = [line for line in lines if _ERROR.search(line)]
        tail = errors[-1] if errors else next((ln for ln in reversed(lines) if ln), "no output")
        raise RunError(f"benchmark_model printed no result: {tail[:300]}",
                       hint="check the model path, delegate flags and that the binary matches the device ABI")
    found = parse_summary(lines[summary_at]) or {}
    stats = [_stat(line) for line in lines[:summary_at] if _STAT_LINE.match(line)]
    run = stats[-1] if stats else {}
    warm = stats[-2] if len(stats) >= 2 else {}
    init_us = found.get("init")
    if init_us is None:
        init_line = next((m for m in map(_INIT_LINE.match, lines) if m), None)
        init_us = float(init_line["ms"]) * 1000.0 if init_line else None
    avg_us = found.get("avg") if found.get("avg") is not None else run.get("avg")
    warm_avg_us = found.get("warmup") if found.get("warmup") is not None else warm.get("avg")
    # the first inference of the whole run is the first warm-up run (builds before 2020 print no field)
    first_us = found.get("first") if found.get("first") is not None else warm.get("first", warm.get("curr"))
    summary: dict[str, float | None] = {
        "count": run.get("count"),
        "mean_ms": _ms(avg_us),
        "std_ms": _ms(run.get("std")),
        "min_ms": _ms(run.get("min")),
        "max_ms": _ms(run.get("max")),
        "p5_ms": _ms(run.get("p5")),
        "p50_ms": _ms(run.get("median")),
        "p95_ms": _ms(run.get("p95")),
        "first_run_ms": _ms(run.get("first")),
        "warmup_count": warm.get("count"),
        "warmup_mean_ms": _ms(warm_avg_us),
        "warmup_std_ms": _ms(warm.get("std")),
        "warmup_min_ms": _ms(warm.get("min", warm.get("curr"))),
        "warmup_max_ms": _ms(warm.get("max", warm.get("curr"))),
    }
    memory: dict[str, Any] | None = None
    delta = next((d for d in map(_DELTA.match, lines) if d), None)
    peak = next((p for p in map(_PEAK.match, lines) if p), None)
    if delta or peak:
        memory = {
            "load_rss_delta_bytes": round(float(delta["init"]) * MB) if delta else None,
            "footprint_bytes": round(float(delta["overall"]) * MB) if delta else None,
            "peak_rss_bytes": round(float(peak["peak"]) * MB) if peak else None,
            "definition": "benchmark_model: footprint = max-RSS delta from the tool's start (init and "
                          "overall); peak = periodic RSS monitoring (--report_peak_memory_footprint)",
        }
    graph = next((g["graph"] for g in map(_GRAPH.match, lines) if g), None)
    threads = next((int(t["n"]) for t in map(_THREADS.match, lines) if t and int(t["n"]) > 0), None)
    out = {
        "schema_version": 1,
        "runner": RUNNER,
        "status": "ok",
        "error": None,
        "runtime": RUNNER,
        "runtime_version": None,
        "format": fmt or "",
        "model_path": model_path or graph,
        "threads": threads,
        "delegate": _delegate(text),
        "delegation": delegation(text),
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
    profile = parse_op_profile(raw_lines[summary_at:])
    if profile:
        out["op_profile_tables"] = profile
        count = summary.get("count")
        out["op_profile"] = op_rows(profile, int(count) if count else None)
    return out
