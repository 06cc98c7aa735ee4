"""Render compare rows (:func:`edgebench.results.compare.compare_rows`) as a terminal table,
markdown, CSV or JSON. Tables and markdown show formatted text; CSV and JSON keep raw numbers."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Callable

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


def _status(r: dict[str, Any]) -> str:
    return r["status"] + (f" ({r['warnings']} warn)" if r.get("warnings") else "")


def _status_detail(r: dict[str, Any]) -> str:
    if r["error"] and r["status"] != "OK":
        return f"{r['status']}: {r['error']}"
    return _status(r)


COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("model", lambda r: r["model"]),
    ("format", lambda r: r["format"]),
    ("variant", lambda r: r["variant"]),
    ("target", lambda r: r["target"]),
    ("size MB", lambda r: "—" if r["size_mb"] is None else f"{r['size_mb']:.2f}"),
    ("params", lambda r: _human(r["params"])),
    ("MACs", lambda r: _human(r["macs"])),
    ("parity / accuracy", lambda r: r["quality"]),
    ("p50 ms [95% CI]", _p50),
    ("p90 ms", lambda r: fmt_ms(r["p90_ms"])),
    ("peak MB", lambda r: "—" if r["peak_mb"] is None else f"{r['peak_mb']:.1f}"),
    ("speed-up", lambda r: "—" if r["speedup"] is None else f"{r['speedup']:.2f}×"),
    ("status", _status),
]


def _projected(key: str) -> Callable[[dict[str, Any]], str]:
    def cell(r: dict[str, Any]) -> str:
        point = r.get(f"{key}:point_ms")
        if point is None:
            return "—"
        return f"{fmt_ms(point)} [{fmt_ms(r.get(f'{key}:low_ms'))}, {fmt_ms(r.get(f'{key}:high_ms'))}]"

    return cell


def text_cells(rows: list[dict[str, Any]], detail: bool = True,
               projected: list[tuple[str, str]] = ()) -> tuple[list[str], list[list[str]]]:
    """(headers, formatted cells): what the table and markdown outputs show (``detail``: the status
    cell carries the error message). ``projected``: ``(key, header)`` pairs from
    :func:`edgebench.profiles.projection.projected_columns`, shown after the measured columns
    under their own "projected" headers."""
    cols = COLUMNS if not detail else COLUMNS[:-1] + [("status", _status_detail)]
    cols = cols[:-1] + [(header, _projected(key)) for key, header in projected] + cols[-1:]
    return [c for c, _ in cols], [[f(r) for _, f in cols] for r in rows]


# Columns a narrow terminal drops first (first in the list goes first); the key columns are
# never dropped and never narrower than their header: they wrap instead.
KEY_COLUMNS = ("model", "name", "format", "variant", "parity / accuracy", "status", "component", "path / reason")
_MIN_COLUMN = 6
DROP_ORDER = ("p90 ms", "peak MB", "MACs", "published MACs", "params", "source", "size MB", "speed-up", "target",
              "max-abs", "top-1 agree", "task", "kind", "size", "SQNR dB")


class FitTable:
    """A rich Table that fits the width it is drawn at: nothing is cut with "…". When the table's
    natural width is wider than the console, the least important columns (:data:`DROP_ORDER`, then
    any projected column) are dropped until it fits, and the rest wrap; key columns
    (:data:`KEY_COLUMNS`) are never dropped nor squeezed below their longest word (up to 24
    characters). Built from a filled ``rich.table.Table``; printed with ``console.print``."""

    def __init__(self, table: Any):
        self.table = table

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
        if dropped:
            narrow = f"hidden in this narrow terminal: {', '.join(dropped)} (widen it, or -o csv)"
            table.caption = Text(f"{src.caption}\n{narrow}" if src.caption else narrow, style="dim")
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


def rich_table(rows: list[dict[str, Any]], title: str | None = None, projected: list[tuple[str, str]] = ()):
    """The rows as a terminal table that fits the console (:class:`FitTable`: never truncates)."""
    from rich.table import Table

    headers, cells = text_cells(rows, detail=False, projected=projected)  # errors: one line each, below
    table = Table(title=title, show_lines=False, caption=_io_note(rows), caption_justify="left")
    for h in headers:
        table.add_column(h, overflow="fold",
                         justify="right" if h in ("size MB", "params", "MACs", "p90 ms", "peak MB", "speed-up")
                         else "left")
    for line in cells:
        table.add_row(*line)
    return FitTable(table)


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
