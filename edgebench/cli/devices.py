"""``edgebench devices``: what every target kind discovers by itself (this machine, the Android
devices adb sees …) and the aliases of the devices file; and the rows of ``doctor --target``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from edgebench.cli import app, console
from edgebench.doctor import Check
from edgebench.errors import EdgebenchError
from edgebench.targets import Found, registry, resolve
from edgebench.targets.devices import devices_path, load_devices


def list_devices(devices_file: str | os.PathLike | None = None, *, probe: bool = True) -> list[Found]:
    """Every device a registered target kind discovers, then every alias of the devices file with
    its URI and (``probe``) whether it answers right now (``Target.reachable``)."""
    rows: list[Found] = []
    for _, cls in registry.items():
        rows += cls.discover()
    source = str(devices_path(devices_file))
    for dev in load_devices(devices_file).values():
        reachable, detail = None, ""
        if probe:
            try:
                reachable, detail = resolve(dev.uri, devices_file).reachable()
            except EdgebenchError as err:
                reachable, detail = False, str(err)
        rows.append(Found(dev.alias, dev.uri, source, reachable, detail))
    return rows


def target_checks(uri: str, devices_file: str | os.PathLike | None = None) -> list[Check]:
    """``edgebench doctor --target URI`` rows (kind ``target``): the client, reachability, the
    device's Python / runtimes / tools, and the exact command that installs whatever is missing.
    An unreachable device or a bad URI is a row, not an exception."""
    try:
        target = resolve(uri, devices_file)
    except EdgebenchError as err:
        return [Check(uri, "target", False, str(err))]
    return [Check(f"{uri}: {name}", "target", ok, detail) for name, ok, detail in target.doctor()]


@app.command("devices")
def devices_cmd(
    devices: Optional[Path] = typer.Option(None, "--devices", help="Devices file (default ~/.config/edgebench/devices.toml)."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Check that each devices-file entry answers now."),
) -> None:
    """List devices: what each target kind finds by itself (this machine, `adb devices -l`) plus
    every alias in the devices file (with its URI)."""
    table = Table(title="edgebench devices")
    for col in ("name", "target", "source", "reachable", "detail"):
        table.add_column(col)
    for row in list_devices(devices, probe=probe):
        state = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[row.reachable]
        table.add_row(row.name, row.uri, row.source, state, row.detail)
    console.print(table)
