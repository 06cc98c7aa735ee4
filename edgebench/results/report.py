"""``edgebench report``: one self-contained HTML file from the results store.

Everything is inline (CSS, matplotlib SVG plots, one small script), so the file opens offline and
can be attached to a PR or a thesis. Sections, top to bottom:

- **what to ship** (:mod:`edgebench.results.recommend`): one sentence per model × place, then the table;
- **quality vs latency**, one scatter per model × target (measured p50 with its 95 % CI) and per
  model × projected tier (point estimate with its interval), one marker per format, one colour per
  variant, the Pareto front (nothing both faster and at least as accurate) drawn as a line; the
  quality axis is labelled-folder accuracy when every point has it, else top-1 agreement with fp32,
  else SQNR against eager;
- **size** (file, gzip, packed 1-bit where the manifest has it), **speed-up vs fp32** and **peak
  memory** bars;
- **per-operator profiles**, only when a run carries one (``samples["op_profile"]``: a list of
  ``{op_type, name, total_ms, mean_ms, share, delegated}``), top-N by total time;
- **every run**: the compare columns, its warnings, and its provenance (host, runtime and library
  versions, threads, manifest sha256) in a collapsible ``<details>``.

The script at the end writes what the browser rendered (plot sizes, table rows, script errors)
into ``<pre id="eb-selfcheck">``, so a headless browser's ``--dump-dom`` can verify the file.
"""

from __future__ import annotations

import html
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from edgebench.results.compare import BASELINE_VARIANT, asked_delegate, compare_rows, select, top_ops
from edgebench.results.model import Projection, RunResult, now_iso
from edgebench.results.recommend import idents, recommend, table as recommend_table
from edgebench.results.render import speedup_text

MB = 1024 * 1024
TOP_OPS = 10
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
# colour-blind-safe (Okabe–Ito), fp32 first
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
_MEASURED = ("OK", "PARITY_FAILED")


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: lower x (latency) and higher y (quality) are
    better; a point is on the front when every point at least as fast is strictly less accurate.
    Returned fastest first. Ties in both coordinates keep the first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1], i))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


@dataclass(frozen=True)
class Axis:
    """The quality axis of a scatter: which measure, its label, and a getter from a compare row."""

    key: str
    label: str
    percent: bool


_AXES = (Axis("quality_accuracy", "accuracy on the labelled folder", True),
         Axis("quality_top1_agreement", "top-1 agreement with fp32", True),
         Axis("quality_sqnr_db", "SQNR vs eager (dB)", False))


def quality_axis(rows: Sequence[dict[str, Any]]) -> Axis | None:
    """The first measure every row has (accuracy, then agreement, then SQNR); None if none does."""
    for axis in _AXES:
        if rows and all(r.get(axis.key) is not None for r in rows):
            return axis
    for axis in _AXES:  # else the measure most rows have
        if any(r.get(axis.key) is not None for r in rows):
            return axis
    return None


class _Style:
    """One colour per variant and one marker per format, the same in every plot of a report."""

    def __init__(self, rows: Iterable[dict[str, Any]]):
        rows = list(rows)
        variants = sorted({r["variant"] for r in rows}, key=lambda v: (v != BASELINE_VARIANT, v))
        formats = sorted({r["format"] for r in rows})
        self.colour = {v: COLOURS[i % len(COLOURS)] for i, v in enumerate(variants)}
        self.marker = {f: MARKERS[i % len(MARKERS)] for i, f in enumerate(formats)}


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: inline SVG in HTML


def _figure(width: float = 6.0, height: float = 4.0):
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "edgebench"  # stable ids: the same store gives the same file
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text (selectable, small)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.subplots()
    ax.grid(True, color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def scatter(points: list[dict[str, Any]], axis: Axis, style: _Style, title: str, xlabel: str) -> str:
    """SVG of quality vs latency: ``points`` carry format, variant, x (ms), x_low, x_high, y."""
    from matplotlib.lines import Line2D

    fig, ax = _figure()
    scale = 100.0 if axis.percent else 1.0
    for p in points:
        err = None
        if p.get("x_low") is not None and p.get("x_high") is not None:
            err = [[max(p["x"] - p["x_low"], 0)], [max(p["x_high"] - p["x"], 0)]]
        ax.errorbar(p["x"], p["y"] * scale, xerr=err, fmt=style.marker[p["format"]], color=style.colour[p["variant"]],
                    markersize=9, markeredgecolor="white", markeredgewidth=0.8, elinewidth=1, capsize=3, zorder=3)
    front = pareto_front([(p["x"], p["y"]) for p in points])
    if front:
        xs, ys = [points[i]["x"] for i in front], [points[i]["y"] * scale for i in front]
        ax.step(xs, ys, where="post", color="#111827", linewidth=1.4, linestyle="--", zorder=2)
        ax.scatter(xs, ys, s=260, facecolors="none", edgecolors="#111827", linewidths=1.2, zorder=4)
    xs = [p["x"] for p in points]
    if xs and max(xs) / min(xs) > 8:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(axis.label + (" (%)" if axis.percent else ""))
    ax.set_title(title, loc="left", fontsize=11)
    handles = [Line2D([], [], marker=m, linestyle="", color="#4b5563", label=f) for f, m in style.marker.items()
               if any(p["format"] == f for p in points)]
    handles += [Line2D([], [], marker="o", linestyle="", color=c, label=v) for v, c in style.colour.items()
                if any(p["variant"] == v for p in points)]
    handles.append(Line2D([], [], color="#111827", linestyle="--", marker="o", markerfacecolor="none",
                          label="Pareto front"))
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _svg(fig)


def bars(labels: list[str], series: list[tuple[str, list[float | None], str]], title: str, xlabel: str,
         *, reference: float | None = None, value_fmt: str = "{:.2f}") -> str:
    """SVG of horizontal grouped bars: one group per label, one bar per (name, values, colour).
    With ``reference`` (e.g. 1.0 for speed-ups) bars grow from that line, on a log axis when the
    values span more than 10×."""
    fig, ax = _figure(6.0, max(1.5, 0.6 + 0.24 * len(labels) * max(1, len(series))))
    n = len(series)
    height = 0.8 / max(n, 1)
    known = [v for _, values, _ in series for v in values if v is not None and v > 0]
    log = reference is not None and known and max(known + [reference]) / min(known + [reference]) > 10
    for k, (name, values, colour) in enumerate(series):
        ys = [i + (k - (n - 1) / 2) * height for i in range(len(labels))]
        start = reference if reference is not None else 0.0
        vals = [(v - start) if v is not None else 0.0 for v in values]
        rects = ax.barh(ys, vals, left=start, height=height * 0.92, color=colour, label=name)
        for rect, v in zip(rects, values):
            if v is not None:
                right = v >= start
                ax.annotate(value_fmt.format(v), (v, rect.get_y() + rect.get_height() / 2),
                            xytext=(3 if right else -3, 0), textcoords="offset points", va="center",
                            ha="left" if right else "right", fontsize=7, color="#374151")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.grid(False, axis="y")
    if reference is not None:
        ax.axvline(reference, color="#111827", linewidth=1, linestyle="--")
        if log:
            ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=11)
    ax.margins(x=0.15)
    if n > 1:
        ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _svg(fig)


def _point(row: dict[str, Any], axis: Axis, x: float | None, low: float | None, high: float | None):
    y = row.get(axis.key)
    if x is None or y is None or row["status"] not in _MEASURED:
        return None
    return {"format": row["format"], "variant": row["variant"], "x": x, "x_low": low, "x_high": high, "y": y}


def _plots(rows: list[dict[str, Any]], projections: list[Projection], style: _Style) -> dict[str, list]:
    out: dict[str, list] = {"scatter": [], "tiers": [], "bars": []}
    by_place: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:  # one chart per model, not per display label (the label tells files apart)
        by_place.setdefault((r["base_model"], r["target"]), []).append(r)
    for (model, target), group in by_place.items():
        axis = quality_axis([r for r in group if r["status"] in _MEASURED])
        pts = [p for r in group if axis and (p := _point(r, axis, r["p50_ms"], r["ci_low_ms"], r["ci_high_ms"]))]
        if pts:
            out["scatter"].append({"title": f"{model} on {target}: measured",
                                   "svg": scatter(pts, axis, style, f"{model} · {target} (measured)",
                                                  "p50 latency, ms (bar: 95% CI of the median)")})
    latest: dict[tuple[str, str], Projection] = {}
    for p in sorted(projections, key=lambda p: p.created_at):
        if p.threads == "all-big":
            latest[(p.run_id, p.profile)] = p
    row_of = {r["run_id"]: r for r in rows}
    by_tier: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (run_id, profile), p in latest.items():
        if run_id in row_of:
            by_tier.setdefault((row_of[run_id]["base_model"], profile), []).append((row_of[run_id], p))
    def slowest_first(item):  # low before mid before high, whatever the profiles are called
        (model, profile), pairs = item
        points = sorted(p.point_ms for _, p in pairs)
        return (model, -points[len(points) // 2], profile)

    for (model, profile), pairs in sorted(by_tier.items(), key=slowest_first):
        axis = quality_axis([r for r, _ in pairs])
        pts = [pt for r, p in pairs if axis and (pt := _point(r, axis, p.point_ms, p.low_ms, p.high_ms))]
        if pts:
            method = pairs[0][1].method
            out["tiers"].append({"title": f"{model} on {profile} (projected)",
                                 "svg": scatter(pts, axis, style, f"{model} · {profile} tier (projected, all big cores)",
                                                f"projected latency, ms (bar: interval; {method})")})
    for model in dict.fromkeys(r["base_model"] for r in rows):
        mine = [r for r in rows if r["base_model"] == model]
        arts = {}
        for r in mine:  # size is the file's: one bar per file, whatever delegate ran it
            arts.setdefault((r["format"], r["variant"], r["sha256"] or r["ident"]), r)
        labels = _bar_labels(list(arts.values()), [])
        size = [r["size_mb"] for r in arts.values()]
        gz = [r["gzip_mb"] for r in arts.values()]
        packed = [r.get("packed_1bit_mb") for r in arts.values()]
        series = [("file", size, "#0072B2"), ("gzip", gz, "#56B4E9")]
        if any(p is not None for p in packed):
            series.append(("packed 1-bit", packed, "#009E73"))
        if any(v is not None for v in size):
            out["bars"].append({"title": f"{model}: size", "labels": labels,
                                "svg": bars(labels, series, f"{model} · size", "MB")})
        for target in dict.fromkeys(r["target"] for r in mine):
            here = [r for r in mine if r["target"] == target]
            sp = [r for r in here if r["speedup"] is not None]
            if sp:
                names = _bar_labels(sp, here)
                out["bars"].append({"title": f"{model} on {target}: speed-up vs fp32", "labels": names,
                                    "svg": bars(names,
                                                [("speed-up", [r["speedup"] for r in sp], "#E69F00")],
                                                f"{model} · {target} · speed-up vs fp32 of the same format"
                                                + (" and delegate" if _delegates_differ(here) else ""),
                                                "× (p50 of fp32 / p50; > 1 is faster)", reference=1.0,
                                                value_fmt="{:.2f}×")})
            mem = [r for r in here if r["peak_mb"] is not None]
            if mem:
                names = _bar_labels(mem, here)
                out["bars"].append({"title": f"{model} on {target}: memory", "labels": names,
                                    "svg": bars(names,
                                                [("peak RSS", [r["peak_mb"] for r in mem], "#CC79A7"),
                                                 ("model (peak − baseline)", [r.get("model_peak_mb") for r in mem],
                                                  "#D55E00")],
                                                f"{model} · {target} · memory", "MB", value_fmt="{:.0f}")})
    return out


def _delegates_differ(rows: list[dict[str, Any]]) -> bool:
    return len({r["delegate"] for r in rows}) > 1


def _bar_label(row: dict[str, Any], chart: list[dict[str, Any]]) -> str:
    """``format variant``, plus what tells the file apart from a same-named one (folder tail, sha)
    and, when the ``chart``'s rows ran on different delegates, ``via <delegate>``
    (:func:`edgebench.results.compare.delegate_of`)."""
    text = f"{row['format']} {row['variant']}" + (f" ({row['ident']})" if row["ident"] else "")
    return text + (f" via {row['delegate'] or '?'}" if _delegates_differ(chart) else "")


def _bar_labels(rows: list[dict[str, Any]], chart: list[dict[str, Any]]) -> list[str]:
    """:func:`_bar_label` per row, made distinct: where two coincide, the run that did not ask for
    its delegate gets ``(default)``, then the artifact's short sha256, then ``#k``."""
    names = [_bar_label(r, chart) for r in rows]
    for tag in (lambda r: "" if r["asked"] else " (default)",
                lambda r: f" (sha {r['sha256'][:8]})" if r["sha256"] else ""):
        dup = {n for n in names if names.count(n) > 1}
        names = [n + tag(r) if n in dup else n for n, r in zip(names, rows)]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if names.count(n) == 1 else f"{n} #{seen[n]}")
    return out


def provenance(r: RunResult) -> list[tuple[str, str]]:
    """(label, value) pairs that say where and how a run was measured."""
    env, samples = r.environment or {}, r.samples or {}
    host = samples.get("host") or env.get("host") or {}
    bench = (r.spec or {}).get("bench") or {}
    libs = {k: v for k, v in (env.get("libraries") or {}).items() if v}
    out = [("run id", r.run_id), ("measured at", r.created_at),
           ("host", " · ".join(str(x) for x in (host.get("hostname"), host.get("cpu_model"),
                                                f"{host.get('cores')} cores" if host.get("cores") else None,
                                                host.get("arch"), host.get("os")) if x)),
           ("runtime", " ".join(str(x) for x in (samples.get("runtime"), samples.get("runtime_version")) if x) or "—"),
           ("delegate", str(samples.get("delegate") or "—")),
           ("threads", str(samples.get("threads") or bench.get("threads") or "runtime default")),
           ("affinity", str(host.get("affinity") or "—")),
           ("timed region", str(samples.get("timed_region") or ("invoke+io" if samples.get("include_io") else "invoke"))),
           ("protocol", ", ".join(f"{k} {v}" for k, v in (samples.get("protocol") or {}).items()) or "—"),
           ("artifact", r.artifact.path if r.artifact else "—"),
           ("artifact sha256 (manifest)", (r.artifact.sha256 if r.artifact else None) or "—"),
           ("edgebench", str(env.get("edgebench") or "—")), ("python", str(env.get("python") or "—")),
           ("libraries", ", ".join(f"{k} {v}" for k, v in sorted(libs.items())) or "—")]
    if r.error:
        out.append(("error", f"{r.error.stage}: {r.error.message}" + (f" — {r.error.hint}" if r.error.hint else "")))
    return out


def op_profiles(runs: Iterable[RunResult], top: int = TOP_OPS) -> list[dict[str, Any]]:
    """Top-``top`` operators by total time of every run that carries ``samples["op_profile"]``."""
    out = []
    for r in runs:
        ops = (r.samples or {}).get("op_profile") or []
        if ops:
            out.append({"label": f"{r.model} {r.format} {r.variant} @ {r.target}", "ops": top_ops(r, top),
                        "n": len(ops)})
    return out


def _ms(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.4f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.1f}"


def _count(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f} {unit}"
    return str(n)


def _table_rows(rows: list[dict[str, Any]], runs: dict[str, RunResult]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        run = runs[r["run_id"]]
        p50 = _ms(r["p50_ms"]) + (f" [{_ms(r['ci_low_ms'])}, {_ms(r['ci_high_ms'])}]" if r["ci_low_ms"] is not None else "")
        out.append({
            "model": r["model"], "format": r["format"], "variant": r["variant"], "target": r["target"],
            "delegate": r["delegate"] or "—", "status": r["status"], "error": r["error"],
            "size": "—" if r["size_mb"] is None else f"{r['size_mb']:.2f}",
            "gzip": "—" if r["gzip_mb"] is None else f"{r['gzip_mb']:.2f}",
            "params": _count(r["params"]), "macs": _count(r["macs"]), "quality": r["quality"], "p50": p50,
            "p90": _ms(r["p90_ms"]), "peak": "—" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}",
            "speedup": speedup_text(r),
            "warnings": list(run.warnings), "provenance": provenance(run), "run_id": r["run_id"],
        })
    return out


def _enrich(rows: list[dict[str, Any]], runs: dict[str, RunResult]) -> None:
    ident = idents(list(runs.values()))
    for r in rows:
        run = runs[r["run_id"]]
        r["base_model"], r["ident"], r["asked"] = run.model, ident[run.run_id], asked_delegate(run) is not None
        packed = run.artifact.packed_1bit_bytes if run.artifact else None
        r["packed_1bit_mb"] = packed / MB if packed else None
        model_peak = (run.memory or {}).get("model_peak_bytes")
        r["model_peak_mb"] = model_peak / MB if model_peak is not None else None


def _picks(recs: list) -> list[dict[str, Any]]:
    """One line per model × place: the fastest, the smallest, and what is out (short reasons)."""
    out = []
    for rec in recs:
        f, sm = rec.fastest, rec.smallest
        out.append({
            "model": rec.model, "where": rec.where.removeprefix("tier "), "projected": rec.projected,
            "fastest": f.label if f else "—", "fastest_ms": f.p50_ms if f else None,
            "fastest_quality": f.quality if f else "",
            "smallest": sm.label if sm else "—",
            "smallest_mb": sm.size_bytes / MB if sm and sm.size_bytes is not None else None,
            "smallest_ms": sm.p50_ms if sm else None,
            "out": [f"{c.label}: {c.short_reason}" for c, _ in rec.losers if c.excluded],
        })
    return out


def context(results: Iterable[RunResult], projections: Iterable[Projection] = (), *, max_drop: float = 0.01,
            title: str = "edgebench report", source: str = "", **filters: Any) -> dict[str, Any]:
    """Everything the template shows, computed from stored records (``filters`` as in
    :func:`edgebench.results.compare.select`: model, fmt, variant, target)."""
    results = list(results)
    chosen = select(results, **filters)
    runs = {r.run_id: r for r in chosen}
    rows = compare_rows(chosen, latest=False)
    _enrich(rows, runs)
    projections = [p for p in projections if p.run_id in runs]
    style = _Style(rows)
    recs = recommend(chosen, projections, max_drop=max_drop)
    hosts = sorted({str(((r.environment or {}).get("host") or {}).get("cpu_model") or "?") for r in chosen})
    return {
        "title": title, "source": source, "generated_at": now_iso(), "budget": max_drop,
        "n_runs": len(rows), "n_ok": sum(r["status"] == "OK" for r in rows),
        "models": sorted({r["model"] for r in rows}), "targets": sorted({r["target"] for r in rows}),
        "hosts": hosts, "n_projections": len(projections),
        "sentences": [r.sentence for r in recs], "ship": recommend_table(recs), "picks": _picks(recs),
        "plots": _plots(rows, projections, style), "ops": op_profiles(chosen),
        "rows": _table_rows(rows, runs),
    }


def render_html(ctx: dict[str, Any]) -> str:
    """The report's HTML (jinja2 template ``templates/report.html.j2`` shipped with the package)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("edgebench.results", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["pct"] = lambda x: "—" if x is None else f"{x:.1%}"
    env.filters["num"] = lambda x, f="{:.3g}": "—" if x is None else f.format(x)
    return env.get_template("report.html.j2").render(**ctx, escape=html.escape)


def write_report(results: Iterable[RunResult], projections: Iterable[Projection], out: Path | str,
                 **kwargs: Any) -> Path:
    """Render and write the report to ``out`` (parent directories created); returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(context(results, projections, **kwargs)), encoding="utf-8")
    return out

