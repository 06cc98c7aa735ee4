"""Tables never cut what they show: wide enough → every column in full; narrower → the least
important columns go first and key columns wrap, never shrinking to nothing; very narrow → one
record per row."""

from __future__ import annotations

import re

import pytest
from rich.console import Console
from rich.table import Table

from edgebench.results.render import FitTable, rich_table

LONG = "a_really_long_model_name_from_a_checkpoint_folder"


def row(**kw) -> dict:
    base = dict(model=LONG, format="fmt_name", variant="pruned50s-int8-dynamic", target="ssh:pi@raspberrypi.local",
                size_mb=1.23, params=1000, macs=2000, quality="SQNR 41.2 dB, top-1 100%", p50_ms=1.2,
                ci_low_ms=1.1, ci_high_ms=1.3, p90_ms=1.5, peak_mb=12.0, speedup=1.5, status="OK", warnings=0,
                error=None)
    base.update(kw)
    return base


def draw(renderable, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(renderable)
    return console.export_text()


def cells(text: str) -> list[list[str]]:
    """Each body line's cells (between │), stripped."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]


def joined_column(text: str, index: int) -> str:
    return "".join(r[index] for r in cells(text))


def test_wide_console_shows_every_column_in_full():
    text = draw(rich_table([row()]), 400)
    assert LONG in text and "ssh:pi@raspberrypi.local" in text and "…" not in text
    for header in ("p90 ms", "peak MB", "MACs", "params", "speed-up", "status"):
        assert header in text
    assert "hidden" not in text


@pytest.mark.parametrize("width", [120, 100, 80, 70])
def test_narrow_console_drops_minor_columns_and_wraps_key_ones(width):
    text = draw(rich_table([row()]), width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    if "model:" in text.split("\n", 1)[0] or text.lstrip().startswith("model:"):
        return
    headers = [c for c in re.split(r"[┃]", text.splitlines()[1])[1:-1]]
    assert len(headers) >= 6  # model, format, variant, parity / accuracy, p50, status at least
    assert joined_column(text, 0) == LONG  # wrapped, never cut
    assert joined_column(text, 1) == "fmt_name" and joined_column(text, 2) == "pruned50s-int8-dynamic"
    header_text = " ".join(line for line in text.splitlines() if line.startswith("┃"))
    assert "p90" not in header_text and "hidden in this narrow terminal: p90 ms" in re.sub(r"\s+", " ", text)
    assert "OK" in text


def test_minor_columns_go_in_order():
    wide = draw(rich_table([row()]), 200)
    # 200 columns: only the first columns of the drop order are hidden
    hidden = re.search(r"hidden in this narrow terminal: ([^(]*)\(", re.sub(r"\s+", " ", wide)).group(1)
    assert hidden.strip().rstrip(",").split(", ")[:2] == ["p90 ms", "peak MB"]
    assert "target" in wide and "variant" in wide


def test_very_narrow_console_prints_records_not_slivers():
    text = draw(rich_table([row(), row(model="second")], title="results"), 40)
    assert max(len(line) for line in text.splitlines()) <= 40
    flat = text.replace("\n", "")
    assert LONG in flat and "format: fmt_name" in text and "status: OK" in text and "second" in text


def test_any_rich_table_can_be_fitted():
    t = Table(title="zoo")
    for col in ("name", "task", "input", "params", "MACs", "published MACs", "source"):
        t.add_column(col)
    t.add_row(LONG, "classification", "1×3×224×224", "2.54 M", "58.79 M", "58.90 M", "torchvision")
    text = draw(FitTable(t), 60)
    assert max(len(line) for line in text.splitlines()) <= 60
    assert joined_column(text, 0) == LONG and "…" not in text
