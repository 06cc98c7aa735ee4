"""Render compare rows (:func:`edgebench.results.compare.compare_rows`) as a terminal table,
markdown, CSV or JSON. Tables and markdown show formatted text; CSV and JSON keep raw numbers."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Callable, Sequence

from edgebench.errors import ConfigError

OUTPUTS = ("table", "markdown", "csv", "json")


def fmt_ms(x: float | None) -> str:
    """Milliseconds with precision that suits the magnitude (0.0394, 12.41, 532.1)."""
    if x is None:
        return "—"
    if x < 1:
        return f"{x:.4f}"
    if x < 100:
        return f"{x:.2f}"
    return f"{x:.1f}"


def _human(n: float | None) -> str:
    from edgebench.models.catalog import human

    return human(n)


IO_MARK = " +io"  # the p50 of an --include-io run: pre/post-processing and copies are in it
IO_NOTE = ("+io: timed with --include-io (pre/post-processing and input/output copies in every iteration); "
           "other rows time the inference call alone")


def _io_note(rows: list[dict[str, Any]]) -> str | None:
    notes = [IO_NOTE] if any(r.get("include_io") and r.get("p50_ms") is not None for r in rows) else []
    hidden = sum(r.get("hidden_runs") or 0 for r in rows)
    if hidden:
        notes.append(f"{hidden} older run{'s' if hidden != 1 else ''} of these artifacts hidden: each row is its "
                     "artifact's latest run that measured something (`compare --all` shows every run)")
    notes += [f"⚠ {r['model']} {r['format']} {r['variant']}: {n}" for r in rows for n in r.get("notes") or ()]
    return "\n".join(notes) or None


def _p50(r: dict[str, Any]) -> str:
    if r["p50_ms"] is None:
        # a runner that printed only an average: show it, said to be a mean, never "—" beside OK
        return f"{fmt_ms(r['mean_ms'])} (mean)" if r.get("mean_ms") is not None else "—"
    mark = IO_MARK if r.get("include_io") else ""
    if r["ci_low_ms"] is None:
        return fmt_ms(r["p50_ms"]) + mark
    return f"{fmt_ms(r['p50_ms'])} [{fmt_ms(r['ci_low_ms'])}, {fmt_ms(r['ci_high_ms'])}]{mark}"


def speedup_text(r: dict[str, Any]) -> str:
    """``1.84× [1.80, 1.88] paired`` (paired speed-up with its CI), ``1.84×`` (ratio of two runs'
    medians) or ``—``."""
    if r.get("speedup") is None:
        return "—"
    if r.get("speedup_kind") == "paired" and r.get("speedup_ci_low") is not None:
        return f"{r['speedup']:.2f}× [{r['speedup_ci_low']:.2f}, {r['speedup_ci_high']:.2f}] paired"
    return f"{r['speedup']:.2f}×"


def _status(r: dict[str, Any]) -> str:
    return r["status"] + (f" ({r['warnings']} warn)" if r.get("warnings") else "")


def _status_detail(r: dict[str, Any]) -> str:
    if r["error"] and r["status"] != "OK":
        return f"{r['status']}: {r['error']}"
    return _status(r)


def _sparsity(r: dict[str, Any]) -> str:
    """``60% (whole 58%)``: zeros in the weight matrices, then in every parameter; — when not pruned."""
    if r.get("sparsity") is None:
        return "—"
    whole = r.get("sparsity_whole_model")
    return f"{r['sparsity']:.0%}" + (f" (whole {whole:.0%})" if whole is not None else "")


# columns shown only when some row has a value (the key of compare_rows they show)
OPTIONAL_COLUMNS = {"sparsity": "sparsity", "packed 1-bit MB": "packed_1bit_mb"}


COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("model", lambda r: r["model"]),
    ("format", lambda r: r["format"]),
    ("variant", lambda r: r["variant"]),
    ("target", lambda r: r["target"]),
    ("delegate", lambda r: " ".join(x for x in (r.get("delegate"), r.get("delegation")) if x) or "—"),
    ("size MB", lambda r: "—" if r["size_mb"] is None else f"{r['size_mb']:.2f}"),
    ("sparsity", lambda r: _sparsity(r)),
    ("packed 1-bit MB", lambda r: "—" if r.get("packed_1bit_mb") is None else f"{r['packed_1bit_mb']:.2f}"),
    ("params", lambda r: _human(r["params"])),
    ("MACs", lambda r: _human(r["macs"])),
    ("parity / accuracy", lambda r: r["quality"]),
    ("p50 ms [95% CI]", _p50),
    ("p90 ms", lambda r: fmt_ms(r["p90_ms"])),
    ("peak MB", lambda r: "—" if r["peak_mb"] is None else f"{r['peak_mb']:.1f}"),
    ("speed-up", speedup_text),
    ("status", _status),
]


def _projected(key: str, mixed: bool = False) -> Callable[[dict[str, Any]], str]:
    # ``mixed``: the column holds rows projected by different methods, so each cell names its own
    def cell(r: dict[str, Any]) -> str:
        point = r.get(f"{key}:point_ms")
        if point is None:
            return "—"
        text = f"{fmt_ms(point)} [{fmt_ms(r.get(f'{key}:low_ms'))}, {fmt_ms(r.get(f'{key}:high_ms'))}]"
        method = r.get(f"{key}:method")
        return f"{text} ({method})" if method and mixed else text

    return cell


def text_cells(rows: list[dict[str, Any]], detail: bool = True,
               projected: list[tuple[str, str]] = ()) -> tuple[list[str], list[list[str]]]:
    """(headers, formatted cells): what the table and markdown outputs show (``detail``: the status
    cell carries the error message). ``projected``: ``(key, header)`` pairs from
    :func:`edgebench.profiles.projection.projected_columns`, shown after the measured columns
    under their own "projected" headers."""
    cols = COLUMNS if not detail else COLUMNS[:-1] + [("status", _status_detail)]
    if not any(r.get("delegate") or r.get("delegation") for r in rows):  # no runtime said: no column
        cols = [c for c in cols if c[0] != "delegate"]
    cols = [c for c in cols if c[0] not in OPTIONAL_COLUMNS or any(r.get(OPTIONAL_COLUMNS[c[0]]) is not None for r in rows)]
    cols = cols[:-1] + [(header, _projected(key, " | " in header)) for key, header in projected] + cols[-1:]
    return [c for c, _ in cols], [[f(r) for _, f in cols] for r in rows]


# Columns a narrow terminal drops first (first in the list goes first); the key columns are
# never dropped and never narrower than their header: they wrap instead.
KEY_COLUMNS = ("model", "name", "format", "variant", "parity / accuracy", "status", "component", "path / reason")
_MIN_COLUMN = 6
DROP_ORDER = ("p90 ms", "peak MB", "MACs", "published MACs", "params", "source", "packed 1-bit MB", "sparsity",
              "size MB", "speed-up", "target",
              "max-abs", "top-1 agree", "task", "kind", "size", "SQNR dB")


class FitTable:
    """A rich Table that fits the width it is drawn at: nothing is cut with "…". When the table's
    natural width is wider than the console, the least important columns (:data:`DROP_ORDER`, then
    any projected column) are dropped until it fits, and the rest wrap; key columns
    (:data:`KEY_COLUMNS`) are never dropped nor squeezed below their longest word (up to 24
    characters). Built from a filled ``rich.table.Table``; printed with ``console.print``.
    ``more`` says below the table how to see the dropped columns; it must be true for the command
    that prints it (e.g. ``-o csv`` only where ``-o`` is an output format)."""

    WIDEN = "widen it, or run with COLUMNS=200"

    def __init__(self, table: Any, more: str = WIDEN):
        self.table = table
        self.more = more

    @staticmethod
    def _rank(header: str) -> int | None:
        """Drop order of a column (lowest first); None for a column that is never dropped."""
        if header in KEY_COLUMNS or header.startswith("p50"):
            return None
        return DROP_ORDER.index(header) if header in DROP_ORDER else len(DROP_ORDER)

    def __rich_console__(self, console: Any, options: Any):
        from rich.measure import Measurement
        from rich.table import Table
        from rich.text import Text

        src = self.table
        cols = list(src.columns)
        rows = len(cols[0]._cells) if cols else 0

        def measure(cell: Any) -> tuple[int, int]:  # (longest word, longest line), markup excluded
            text = console.render_str(cell) if isinstance(cell, str) else cell
            if isinstance(text, Text):
                plain = text.plain
                return (max((len(w) for w in plain.split()), default=0),
                        max((len(line) for line in plain.splitlines()), default=0))
            m = Measurement.get(console, options, text)
            return m.minimum, m.maximum

        sizes = {id(c): [measure(x) for x in (c.header, *c._cells)] for c in cols}
        natural = {k: max(m[1] for m in v) for k, v in sizes.items()}
        pad = 3 if src.box else 2  # padding both sides plus one border character

        kept, dropped = list(cols), []
        while sum(natural[id(c)] + pad for c in kept) + 1 > options.max_width:
            victims = [c for c in kept if self._rank(str(c.header)) is not None]
            if not victims:
                break
            victim = min(victims, key=lambda c: self._rank(str(c.header)))
            kept.remove(victim)
            dropped.append(str(victim.header))
        # what is left wraps: every column keeps at least its longest word, capped so that all fit
        room = options.max_width - len(kept) * pad - 1
        floors = [min(max(m[0] for m in sizes[id(c)]), natural[id(c)]) for c in kept]
        cap = max(floors, default=0)
        while cap > _MIN_COLUMN and sum(min(f, cap) for f in floors) > room:
            cap -= 1
        if sum(min(f, cap) for f in floors) > room:  # not even a few characters each: one record per row
            yield from self._records(console, src, kept, rows)
            return
        floors = [min(f, cap) for f in floors]
        widths = [natural[id(c)] for c in kept]
        while sum(widths) > room:  # narrow the widest column that can still give
            i = max((j for j in range(len(widths)) if widths[j] > floors[j]), key=lambda j: widths[j])
            widths[i] -= 1
        table = Table(title=src.title, box=src.box, show_header=src.show_header, show_lines=src.show_lines,
                      padding=src.padding, title_style=src.title_style, caption=src.caption,
                      caption_justify=src.caption_justify)
        for c, width in zip(kept, widths):
            table.add_column(c.header, justify=c.justify, style=c.style, header_style=c.header_style,
                             overflow="fold", no_wrap=False, width=width)
        for i in range(rows):
            table.add_row(*[c._cells[i] for c in kept])
        if dropped:  # said below the table's own caption (e.g. the +io legend), never instead of it
            note = Text(f"hidden in this narrow terminal: {', '.join(dropped)} ({self.more})", style="dim")
            table.caption = Text.assemble(Text(str(src.caption)), "\n", note) if src.caption else note
        yield table

    @staticmethod
    def _records(console: Any, src: Any, cols: list, rows: int):
        from rich.text import Text

        if src.title:
            yield Text(str(src.title), style="bold", overflow="fold")
        for i in range(rows):
            text = Text(overflow="fold")
            for c in cols:
                cell = c._cells[i]
                text.append(f"{c.header}: ", style="bold")
                text.append(console.render_str(cell) if isinstance(cell, str) else Text(str(cell)))
                text.append("\n")
            yield text


def fmt_bytes(n: int | None) -> str:
    """Bytes as B / KB / MB / GB (1024-based); "" for None."""
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _agree(top1: float | None, eager: dict, calibration: dict | None = None) -> str:
    # an image-to-image model has no classes: its agreement with eager is PSNR (dB)
    if top1 is None and eager.get("psnr_db") is not None:
        return f"PSNR {eager['psnr_db']:.1f} dB"
    if top1 is None:
        return ""
    text = f"{top1:.0%}"
    if calibration is None:  # not static int8: judged on SQNR, the share is all there is
        return text
    # what the int8 verdict judges: agreeing / all inputs on which eager is decided (p ≥ 0.5)
    parts = [f"{name} {round((d.get('top1_agreement_decided') or 0) * d['n_decided'])}/{d['n_decided']}"
             for name, d in (("parity", eager), ("calib.", calibration)) if d.get("n_decided") is not None]
    return text + (f" (decided: {', '.join(parts)})" if parts else "")


def export_table(results: list) -> Any:
    """The ``edgebench export`` table (a rich Table): per row model, format, variant, status, size,
    SQNR (dB), top-1 agreement with eager (or PSNR for an image-to-image model; for int8, also the
    agreeing / total inputs where eager is decided, on the parity and calibration inputs: what the
    int8 warning judges), max-abs error and the artifact path or the reason it is missing."""
    from rich.table import Table

    table = Table(title="edgebench export (parity against the eager model)")
    for col in ("model", "format", "variant", "status", "size", "SQNR dB", "top-1 agree", "max-abs", "path / reason"):
        table.add_column(col, justify="right" if col in ("size", "SQNR dB", "top-1 agree", "max-abs") else "left",
                         overflow="fold")
    colours = {"OK": "green", "UNSUPPORTED": "yellow", "PARITY_FAILED": "red"}
    for r in results:
        eager = (r.parity or {}).get("vs_eager") or {}
        sqnr = eager.get("sqnr_db")
        top1 = eager.get("top1_agreement")
        max_abs = eager.get("max_abs")
        where = r.artifact.path if r.artifact else ""
        if r.error is not None:
            where = f"{where}  {r.error.message}" if where else r.error.message
        elif r.artifact is not None and not r.parity.get("vs_eager"):
            where += "  (not runnable here: checked structurally)"
        status = r.status.value
        table.add_row(r.model, r.format, r.variant, f"[{colours.get(status, 'red')}]{status}[/]",
                      fmt_bytes(r.artifact.size_bytes if r.artifact else None),
                      "" if sqnr is None else f"{sqnr:.1f}",
                      _agree(top1, eager, (r.parity or {}).get("vs_eager_on_calibration")),
                      "" if max_abs is None else f"{max_abs:.2e}", where)
    return table


def projection_table(runs: Sequence[Any], projections: Sequence[Any]) -> tuple[list[str], list[list[str]]]:
    """(headers, cells) of the ``edgebench project`` table: one line per run × profile × thread
    setting; the measured host p50 in its own column, the projected numbers in columns that say so."""
    by_run = {r.run_id: r for r in runs}
    headers = ["model", "format", "variant", "measured here p50 ms", "profile", "tier", "threads",
               "projected ms", "projected 80 % interval", "method"]
    cells = []
    for p in projections:
        r = by_run.get(p.run_id)
        p50 = r.latency.p50_ms if r is not None and r.latency else None
        cells.append([p.model or "?", p.format or "?", p.variant or "?", "—" if p50 is None else f"{p50:.3g}",
                      p.profile, p.tier, p.threads, f"{p.point_ms:.3g}", f"{p.low_ms:.3g}–{p.high_ms:.3g}", p.method])
    return headers, cells


def rich_table(rows: list[dict[str, Any]], title: str | None = None, projected: list[tuple[str, str]] = (),
               more: str = FitTable.WIDEN):
    """The rows as a terminal table that fits the console (:class:`FitTable`: never truncates);
    ``more`` as in :class:`FitTable`."""
    from rich.table import Table

    headers, cells = text_cells(rows, detail=False, projected=projected)  # errors: one line each, below
    table = Table(title=title, show_lines=False, caption=_io_note(rows), caption_justify="left")
    for h in headers:
        table.add_column(h, overflow="fold",
                         justify="right" if h in ("size MB", "packed 1-bit MB", "params", "MACs", "p90 ms", "peak MB", "speed-up")
                         else "left")
    for line in cells:
        table.add_row(*line)
    return FitTable(table, more)


def markdown(rows: list[dict[str, Any]], projected: list[tuple[str, str]] = ()) -> str:
    """A GitHub-flavoured markdown table."""
    headers, cells = text_cells(rows, projected=projected)
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in line) + " |" for line in cells]
    note = _io_note(rows)
    return "\n".join(lines) + "\n" + (f"\n{note}\n" if note else "")


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV with every raw field of the rows (numbers unformatted)."""
    buf = io.StringIO()
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


OP_HEADERS = ("op type", "name", "total ms", "mean ms", "share", "delegated")


def _delegated(o: dict[str, Any]) -> str:
    d = o.get("delegated")
    return "—" if d is None else ("yes" + (f" ({o['provider']})" if o.get("provider") else "")) if d else "no"


def op_cells(ops: list[dict[str, Any]]) -> list[list[str]]:
    """Formatted cells of per-operator rows (:func:`edgebench.results.compare.top_ops`)."""
    return [[str(o.get("op_type")), str(o.get("name")), fmt_ms(o.get("total_ms")), fmt_ms(o.get("mean_ms")),
             "—" if o.get("share") is None else f"{o['share']:.1%}", _delegated(o)] for o in ops]


def render_ops(profiles: list[dict[str, Any]], output: str = "table", *, width: int = 200) -> str:
    """Top-N operator tables, one per run: ``profiles`` are ``{label, ops, n, runs, error}`` dicts
    (``ops`` the top rows, ``n`` how many ops the profile has, ``error`` why a run has none). JSON
    and CSV keep the raw numbers (CSV: one line per op with its run's label)."""
    if output == "json":
        return json.dumps(profiles, indent=2) + "\n"
    if output == "csv":
        flat = [{"run": p["label"], **o} for p in profiles for o in p["ops"]]
        return to_csv(flat) if flat else ""
    parts = []
    for p in profiles:
        title = f"{p['label']}: " + (f"top {len(p['ops'])} of {p['n']} ops by total time"
                                     + (f" ({p['runs']} profiled runs)" if p.get("runs") else "")
                                     if p["ops"] else f"no per-operator profile ({p.get('error') or 'not profiled'})")
        if output == "markdown":
            lines = [f"**{title}**", ""]
            if p["ops"]:
                lines += ["| " + " | ".join(OP_HEADERS) + " |", "|" + "|".join("---" for _ in OP_HEADERS) + "|"]
                lines += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in op_cells(p["ops"])]
            parts.append("\n".join(lines) + "\n")
            continue
        from rich.console import Console
        from rich.table import Table

        console = Console(file=io.StringIO(), width=width, record=True)
        console.print(title, highlight=False, soft_wrap=True)
        if p["ops"]:
            table = Table()
            for h in OP_HEADERS:
                table.add_column(h, justify="right" if h in ("total ms", "mean ms", "share") else "left")
            for line in op_cells(p["ops"]):
                table.add_row(*line)
            console.print(table)
        parts.append(console.export_text())
    return "\n".join(parts)


def render(rows: list[dict[str, Any]], output: str = "table", *, width: int = 200,
           projected: list[tuple[str, str]] = ()) -> str:
    """The rows as text in ``output`` (table | markdown | csv | json); CSV and JSON carry projected
    numbers under their ``proj:<profile>:<threads>:…`` keys."""
    if output == "markdown":
        return markdown(rows, projected)
    if output == "csv":
        return to_csv(rows)
    if output == "json":
        return json.dumps(rows, indent=2) + "\n"
    if output == "table":
        from rich.console import Console

        console = Console(file=io.StringIO(), width=width, record=True)
        console.print(rich_table(rows, projected=projected))
        return console.export_text()
    raise ConfigError(f"unknown output format {output!r}", hint=f"one of {', '.join(OUTPUTS)}")
