"""``edgebench models`` and ``edgebench doctor``."""

from __future__ import annotations

import typer
from rich.table import Table

from edgebench.cli import app, console


@app.command("models")
def models_cmd(
    counts: bool = typer.Option(True, "--counts/--no-counts", help="Build each model to count params and MACs."),
) -> None:
    """List the model zoo: name, task, input shape, params and MACs (counted, at batch 1)."""
    from edgebench.models.catalog import zoo_rows

    table = Table(title="edgebench model zoo (random-initialised; real weights via --checkpoint)")
    for col in ("name", "task", "input", "params", "MACs", "published MACs", "source"):
        table.add_column(col, justify="right" if col in ("params", "MACs", "published MACs") else "left")
    for row in zoo_rows(counts=counts):
        table.add_row(row["name"], row["task"], row["input"], row["params"], row["macs"],
                      row["published_macs"], row["source"])
    console.print(table)


@app.command("doctor")
def doctor_cmd() -> None:
    """Check Python, torch, every exporter, runtime and device client: version, or why not and how to fix."""
    from edgebench.doctor import checks

    table = Table(title="edgebench doctor")
    for col in ("component", "kind", "status", "version / reason"):
        table.add_column(col)
    for c in checks():
        status = "[green]ok[/]" if c.ok else "[yellow]missing[/]"
        table.add_row(c.name, c.kind, status, c.detail)
    console.print(table)
