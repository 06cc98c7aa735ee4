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
    return IO_NOTE if any(r.get("include_io") and r.get("p50_ms") is not None for r in rows) else None


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
    ("delegate", lambda r: " ".join(x for x in (r.get("delegate"), r.get("delegation")) if x) or "—"),
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
    if not any(r.get("delegate") or r.get("delegation") for r in rows):  # no runtime said: no column
        cols = [c for c in cols if c[0] != "delegate"]
    cols = cols[:-1] + [(header, _projected(key)) for key, header in projected] + cols[-1:]
    return [c for c, _ in cols], [[f(r) for _, f in cols] for r in rows]


def rich_table(rows: list[dict[str, Any]], title: str | None = None, projected: list[tuple[str, str]] = ()):
    """A rich Table of the rows (the terminal view)."""
    from rich.table import Table

    headers, cells = text_cells(rows, detail=False, projected=projected)  # errors: one line each, below
    table = Table(title=title, show_lines=False, caption=_io_note(rows), caption_justify="left")
    for h in headers:
        table.add_column(h, overflow="fold", no_wrap=h != "parity / accuracy",
                         justify="right" if h in ("size MB", "params", "MACs", "p90 ms", "peak MB", "speed-up")
                         else "left")
    for line in cells:
        table.add_row(*line)
    return table


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
