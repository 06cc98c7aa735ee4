"""``edgebench profiles`` (device profiles and their sources) and ``edgebench project`` (tier projection)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from edgebench.cli import app, console, err_console, state
from edgebench.errors import ConfigError, RunError

PROFILES_HELP = "Extra directory of profile TOML files (repeatable); overrides built-in and ~/.config ones."


def _table_out():
    if console.is_terminal:
        return console
    from rich.console import Console

    return Console(width=max(console.width, 220))  # piped: don't squeeze the columns


@app.command("profiles")
def profiles_cmd(
    profiles_dir: Optional[List[Path]] = typer.Option(None, "--profiles", help=PROFILES_HELP),
    sources: bool = typer.Option(True, "--sources/--no-sources", help="Print where every number comes from."),
) -> None:
    """List device profiles (tiers low / mid / high, Raspberry Pis, reference phones, hosts): cores,
    peaks, memory bandwidth, the file each comes from and the source of every number."""
    from rich.table import Table

    from edgebench.profiles.profiles import load_profiles

    profiles = load_profiles(profiles_dir or ())
    table = Table(title="edgebench device profiles (peaks per core; ops = 2 × MACs)")
    for col in ("name", "tier", "stands for", "big cores", "fp32 GFLOPS", "fp16 GFLOPS", "int8 GOPS",
                "int8 dot", "mem GB/s", "file"):
        table.add_column(col, justify="right" if "GF" in col or "GO" in col or "GB" in col else "left")
    for p in sorted(profiles.values(), key=lambda p: (p.tier, p.name)):
        big = [c for c in p.clusters if c.big]
        top = p.big_cores[0]
        table.add_row(p.name, p.tier, p.device_class,
                      " + ".join(f"{c.count}× {c.core} @ {c.ghz:g} GHz" for c in big),
                      f"{top.fp32_gflops:g}", f"{top.fp16_gflops:g}" if top.fp16_gflops else "—",
                      f"{top.int8_gops:g}", top.int8_dot, f"{p.bandwidth_gbs:g}", Path(p.path or "").name)
    out = _table_out()
    out.print(table)
    if sources:
        for p in sorted(profiles.values(), key=lambda p: (p.tier, p.name)):
            out.print(f"[bold]{p.name}[/] ({p.path})", highlight=False)
            for what, src in p.sources.items():
                out.print(f"  {what}: {src}", highlight=False, soft_wrap=True)


@app.command("project")
def project_cmd(
    artifacts: Optional[List[Path]] = typer.Argument(None, help="Artifacts to measure here first, then project."),
    run_ids: Optional[List[str]] = typer.Option(None, "--run", help="A stored run id (or unique prefix) to "
                                                                    "project; repeatable."),
    tiers: str = typer.Option("low,mid,high,pi4,pi5", "--tiers", help="Comma-separated profile names."),
    threads: str = typer.Option("1-big,all-big", "--threads", help="Thread settings: 1-big, all-big."),
    profiles_dir: Optional[List[Path]] = typer.Option(None, "--profiles", help=PROFILES_HELP),
    host_threads: Optional[int] = typer.Option(None, "--host-threads", min=1,
                                               help="Threads for measuring ARTIFACTs here (default: the runtime's)."),
    output: str = typer.Option("table", "--output", "-o", help="table or json."),
) -> None:
    """Project a desktop measurement to device tiers: a point estimate and an 80 % interval per
    profile and thread setting. Each projection is stored as its own row pointing at the measured
    run; measured numbers are never replaced."""
    from edgebench.profiles.profiles import THREAD_SETTINGS, load_profiles, select
    from edgebench.profiles.projection import project_run, projection_table
    from edgebench.results import Store

    if output not in ("table", "json"):
        raise ConfigError(f"unknown --output {output!r}", hint="table or json")
    if not artifacts and not run_ids:
        raise ConfigError("nothing to project", hint="pass artifact files, or --run RUN_ID of a stored measurement")
    settings = [t.strip() for t in threads.split(",") if t.strip()]
    for t in settings:
        if t not in THREAD_SETTINGS:
            raise ConfigError(f"unknown --threads setting {t!r}", hint=f"one of {', '.join(THREAD_SETTINGS)}")
    everything = load_profiles(profiles_dir or ())
    chosen = select(everything, tiers.split(","))
    if not chosen:
        raise ConfigError("--tiers names no profile", hint=f"known: {', '.join(sorted(everything))}")
    with Store(state.db) as store:
        runs = [store.get(r) for r in run_ids or ()]
        runs += _measure_here(artifacts or [], store, host_threads)
        projections = []
        for run in runs:
            for p in project_run(run, chosen, settings, all_profiles=everything):
                store.add(p)
                projections.append(p)
    if output == "json":
        import json

        typer.echo(json.dumps([p.to_dict() for p in projections], indent=2))
        return
    from rich.table import Table

    headers, cells = projection_table(runs, projections)
    table = Table(title=f"projected latency from a desktop measurement (stored in {state.db})")
    for h in headers:
        table.add_column(h, justify="right" if h.endswith("ms") else "left")
    for line in cells:
        table.add_row(*line)
    _table_out().print(table)
    notes = sorted({p.details.get(k) for p in projections for k in ("host_choice", "host_warning")} - {None})
    for note in notes:
        err_console.print(f"[yellow]note[/] {note}", highlight=False, soft_wrap=True)


def _measure_here(artifacts: list[Path], store, host_threads: int | None) -> list:
    """Measure artifacts on this machine with the harness (stored as ordinary runs)."""
    if not artifacts:
        return []
    from edgebench.harness.artifacts import discover
    from edgebench.harness.measure import measure_artifact
    from edgebench.spec import BenchSpec
    from edgebench.targets import resolve

    bench = BenchSpec(threads=host_threads)
    target = resolve("local")
    runs = []
    for art in discover(artifacts):
        err_console.print(f"measuring {art.path} here …", highlight=False)
        result = measure_artifact(art, target, bench, store=store)
        if result.error:
            e = result.error
            raise RunError(f"measuring {art.path} failed: {e.stage}: {e.message}",
                           hint=e.hint or "see `edgebench run` for the full result")
        runs.append(result)
    return runs
