"""``edgebench devices``: the Android devices adb sees and the aliases of the devices file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from edgebench.cli import app, console


@app.command("devices")
def devices_cmd(
    devices: Optional[Path] = typer.Option(None, "--devices", help="Devices file (default ~/.config/edgebench/devices.toml)."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Check that each devices-file entry answers now."),
) -> None:
    """List reachable devices: `adb devices -l` plus every alias in the devices file (with its URI)."""
    from edgebench.targets.devices import list_devices

    table = Table(title="edgebench devices")
    for col in ("name", "target", "source", "reachable", "detail"):
        table.add_column(col)
    for row in list_devices(devices, probe=probe):
        state = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[row["reachable"]]
        table.add_row(row["name"], row["uri"], row["source"], state, row["detail"])
    console.print(table)
