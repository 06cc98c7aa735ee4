"""``edgebench profiles`` (device profiles and their sources), ``edgebench profile add`` (a user's
device) and ``edgebench project`` (projection anchored on reference models measured side by side)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from edgebench.cli import app, console, err_console, state
from edgebench.errors import ConfigError, RunError

PROFILES_HELP = "Extra directory of profile TOML files (repeatable); overrides built-in and ~/.config ones."
profile_app = typer.Typer(help="Add a device profile from what you know (core type, clock, count).",
                          no_args_is_help=True)
app.add_typer(profile_app, name="profile")


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
                "int8 dot", "mem GB/s", "reference rows", "file"):
        table.add_column(col, justify="right" if "GF" in col or "GO" in col or "GB" in col else "left")
    for p in sorted(profiles.values(), key=lambda p: (p.tier, p.name)):
        big = [c for c in p.clusters if c.big]
        top = p.big_cores[0]
        table.add_row(p.name, p.tier, p.device_class,
                      " + ".join(f"{c.count}× {c.core} @ {c.ghz:g} GHz" for c in big),
                      f"{top.fp32_gflops:g}", f"{top.fp16_gflops:g}" if top.fp16_gflops else "—",
                      f"{top.int8_gops:g}", top.int8_dot, f"{p.bandwidth_gbs:g}",
                      ", ".join(sorted({f"{r.runtime} {r.precision}" for r in p.references})) or "—",
                      Path(p.path or "").name)
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
    paired: bool = typer.Option(True, "--paired/--no-paired",
                                help="Measure the artifact interleaved with reference models (same runtime, same "
                                     "threads) and project the ratio (default); --no-paired: the host-efficiency "
                                     "roofline from the stored p50."),
    pair_threads: int = typer.Option(1, "--pair-threads", min=1, help="Threads of the paired measurement."),
    rounds: int = typer.Option(7, "--rounds", min=3, help="Interleaved rounds of the paired measurement."),
    output: str = typer.Option("table", "--output", "-o", help="table or json."),
) -> None:
    """Project a desktop measurement to device profiles: a point estimate and an 80 % interval per
    profile and thread setting. The artifact is timed here side by side with reference models
    (MobileNetV2 / V3, ResNet18, … exported on first use and cached) and the ratio is mapped
    through each profile's published reference latencies. Each projection is stored as its own
    row pointing at the measured run; measured numbers are never replaced."""
    from edgebench.profiles.profiles import THREAD_SETTINGS, load_profiles, select
    from edgebench.profiles.projection import project_run
    from edgebench.results.render import projection_table
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
        if paired:
            runs, skipped = _device_runtime_runs(runs, everything)
            for note in skipped:
                err_console.print(f"[yellow]note[/] {note}", highlight=False, soft_wrap=True)
        for run in runs:
            made = None
            if paired:
                made = _project_paired(run, runs, chosen, settings, everything, pair_threads, rounds)
            if made is None:
                made = project_run(run, chosen, settings, all_profiles=everything)
            for p in made:
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
    notes = sorted({p.details.get(k) for p in projections for k in ("host_choice", "host_warning", "note",
                                                                     "paired_note")} - {None})
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


def _runtime_of(fmt: str | None) -> str | None:
    """The runner runtime that runs ``fmt`` (from the format plug-in), None when unknown."""
    from edgebench.exporters import registry

    if not fmt or fmt not in registry:
        return None
    return getattr(registry.get(fmt), "runtime", None)


def _run_shape(run) -> list[int] | None:
    """The input shape a run was measured with (its bench / model spec, else its manifest)."""
    spec = run.spec or {}
    for part in ("bench", "model"):
        shape = (spec.get(part) or {}).get("input_shape")
        if shape:
            return list(shape)
    shape = (((run.artifact.manifest if run.artifact else None) or {}).get("input_spec") or {}).get("shape")
    return list(shape) if shape else None


def _device_runtime_runs(runs: list, everything: dict) -> tuple[list, list[str]]:
    """The runs to project: of several artifacts of one model and variant, only those whose
    runtime some profile has reference rows for (phones run LiteRT / ExecuTorch, not what happened
    to be measured here); returns (runs, notes about the ones left out)."""
    with_rows = {r.runtime for p in everything.values() for r in p.references}
    keep, notes = [], []
    for run in runs:
        rt = _runtime_of(run.format)
        better = [o for o in runs if o is not run and o.model == run.model and o.variant == run.variant
                  and _runtime_of(o.format) in with_rows]
        if rt not in with_rows and better:
            notes.append(f"{run.model} {run.variant} {run.format}: no profile has {rt} reference rows; projected "
                         f"from the {better[0].format} artifact ({_runtime_of(better[0].format)}) instead")
            continue
        keep.append(run)
    return keep, notes


def reference_exporter(fmt: str):
    """``export(model, resolution, precision, dest_dir) -> path`` writing a zoo reference model in
    format ``fmt`` (what :func:`edgebench.profiles.references.ensure_reference` calls on a cache miss)."""

    def export(model: str, resolution: int, precision: str, dest: Path) -> Path:
        from edgebench.exporters import export as export_model
        from edgebench.spec import ExportSpec, ModelSpec, Variant

        err_console.print(f"exporting reference {model} {precision} ({fmt}) once, into the cache …", highlight=False)
        res = export_model(ModelSpec(name=model, input_shape=(1, 3, resolution, resolution)),
                           ExportSpec(formats=(fmt,), variant=Variant(precision=precision), out_dir=dest,
                                      parity_samples=1))
        ok = [r for r in res if r.artifact is not None and r.error is None]
        if not ok:
            e = res[0].error if res else None
            raise RunError(f"exporting reference {model} {precision} failed: {e.message if e else 'no result'}",
                           hint=(e.hint if e else None) or "see `edgebench export` for the full result")
        return Path(ok[0].artifact.path)

    return export


def _project_paired(run, runs: list, chosen: list, settings: list[str], everything: dict, threads: int,
                    rounds: int) -> list | None:
    """Anchored projections of ``run``: its artifact timed here interleaved with the reference
    models (same runtime, ``threads``) in a separate process; None (with a note) when it cannot be."""
    import json
    import statistics
    import subprocess
    import sys
    import tempfile

    from edgebench import __version__
    from edgebench.harness.artifacts import file_input_shape
    from edgebench.profiles.anchored import HostRatio, project_run_anchored, reference_keys_for
    from edgebench.profiles.projection import run_precision
    from edgebench.profiles.references import ZOO_REFERENCES, ensure_reference

    runtime = _runtime_of(run.format)
    path = Path(run.artifact.path) if run.artifact is not None else None
    why = None
    if runtime is None:
        why = f"the {run.format} plug-in names no runner runtime"
    elif path is None or not path.exists():
        why = f"the artifact {path} is not on this machine"
    precision = run_precision(run.variant)
    # int8: the host ratio comes from the fp32 sibling when one was given (desktop int8 kernels rank
    # models unlike phone ones); the device side always uses the device's int8 rows
    ratio_run = run
    if why is None and precision == "int8":
        sibling = [r for r in runs if r is not run and r.format == run.format and r.model == run.model
                   and run_precision(r.variant) == "fp32" and r.artifact is not None
                   and Path(r.artifact.path).exists()]
        ratio_run = sibling[0] if sibling else run
    ratio_precision = run_precision(ratio_run.variant)
    keys = reference_keys_for(runtime or "", precision, everything.values(),
                              [f"{m}@{r}" for m, r in ZOO_REFERENCES.items()]) if why is None else []
    if why is None and not keys:
        why = f"no profile has a {precision} row (of {runtime} or another runtime) for a zoo reference model"
    if why is not None:
        err_console.print(f"[yellow]note[/] {run.model} {run.variant}: {why}: host-efficiency roofline instead",
                          highlight=False, soft_wrap=True)
        return None
    suffix = Path(ratio_run.artifact.path).suffix
    export = reference_exporter(ratio_run.format)
    refs = {k: ensure_reference(k, __version__, runtime, ratio_precision, suffix, export) for k in keys}
    entries = [f"user={runtime}:{ratio_run.artifact.path}"] + [f"{k}={runtime}:{p}" for k, p in refs.items()]
    # files that do not record their input shape get it from the run's spec / manifest (user) or the key
    shapes = []
    if file_input_shape(Path(ratio_run.artifact.path), ratio_run.format) is None and _run_shape(ratio_run):
        shapes += ["--shape", "user=" + ",".join(map(str, _run_shape(ratio_run)))]
    for k, p in refs.items():
        if file_input_shape(p, ratio_run.format) is None:
            res = int(k.partition("@")[2] or 224)
            shapes += ["--shape", f"{k}=1,3,{res},{res}"]
    err_console.print(f"timing {run.model} {ratio_run.variant} interleaved with {', '.join(keys)} "
                      f"({runtime}, {threads} thread(s), {rounds} rounds) …", highlight=False)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "paired.json"
        proc = subprocess.run([sys.executable, "-m", "edgebench.runner.paired", "--json", str(out), "--threads",
                               str(threads), "--rounds", str(rounds), "--anchor", "user", *shapes, *entries],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise RunError(f"paired measurement failed: {tail}",
                           hint="run `edgebench project --no-paired` to project from the stored p50 instead")
        data = json.loads(out.read_text())
    med = data["round_medians_ms"]
    # threads beyond the CPUs the process may use (taskset, a cgroup) add no parallelism
    effective = min(threads, data.get("cpus_allowed") or threads)
    ratios = {}
    for k in keys:
        per_round = [u / r for u, r in zip(med["user"], med[k])]
        ratios[k] = HostRatio(k, statistics.median(per_round), ratio_precision, effective, tuple(per_round),
                              reference_ms=statistics.median(med[k]))
    summary = {"threads": threads, "effective_threads": effective, "timer": data.get("timer"),
               "rounds": data["rounds"], "round_medians_ms": med,
               "wall_round_medians_ms": data.get("wall_round_medians_ms"),
               "ratio_from": f"{ratio_run.variant} artifact {ratio_run.artifact.path}"}
    made = project_run_anchored(run, chosen, settings, ratios=ratios, runtime=runtime, all_profiles=everything,
                                paired=summary)
    if ratio_run is not run:
        for p in made:
            p.details["paired_note"] = (f"{run.model} int8: host ratios from the fp32 artifacts, device latencies "
                                        f"from the devices' int8 rows")
    return made


@profile_app.command("add")
def profile_add(
    name: str = typer.Argument(..., help="Profile name (the file ~/.config/edgebench/profiles/NAME.toml)."),
    core: Optional[str] = typer.Option(None, "--core", help="Core type of the big cores, e.g. cortex-a72 "
                                                            "(see the core table: edgebench profiles)."),
    ghz: Optional[float] = typer.Option(None, "--ghz", min=0.1, help="Clock of the big cores (GHz)."),
    cores: Optional[int] = typer.Option(None, "--cores", min=1, help="Number of big cores."),
    little: Optional[str] = typer.Option(None, "--little", help="Little cluster as CORE:GHZ:COUNT, e.g. "
                                                                "cortex-a55:1.8:4."),
    reference: Optional[List[str]] = typer.Option(None, "--reference", help="A reference model's latency on "
                                                  "this device, MODEL=MS (repeatable), e.g. mobilenet_v2=46."),
    ref_runtime: str = typer.Option("litert", "--reference-runtime", help="Runtime of the --reference figures."),
    ref_precision: str = typer.Option("fp32", "--reference-precision", help="fp32, fp16 or int8."),
    ref_threads: Optional[int] = typer.Option(None, "--reference-threads", min=1,
                                              help="Threads of the --reference figures (default: all big cores)."),
    ref_source: Optional[str] = typer.Option(None, "--reference-source", help="Where the figures come from."),
    from_run: Optional[List[str]] = typer.Option(None, "--from-run", help="A stored run measured ON this device "
                                                 "(adb / ssh) of a reference model: saved as a reference row."),
    bandwidth: Optional[float] = typer.Option(None, "--bandwidth-gbs", min=0.1, help="Memory bandwidth (GB/s)."),
    description: str = typer.Option("", "--description"),
    directory: Optional[Path] = typer.Option(None, "--dir", help="Write here instead of ~/.config/edgebench/profiles."),
) -> None:
    """Write a device profile from core type, clock and count (peaks, fp16 / dot-product support and
    memory come from the built-in core table, with sources), plus optional reference latencies;
    with only --from-run / --reference on an existing profile, add those rows to it."""
    from edgebench.profiles.profiles import USER_DIR, load_file, render_profile, reference_toml, write_user_profile
    from edgebench.profiles.references import parse_reference

    target = Path(directory or USER_DIR) / f"{name}.toml"
    existing = load_file(target) if target.exists() else None
    given = [v is not None for v in (core, ghz, cores)]
    if any(given) and not all(given):
        raise ConfigError("--core, --ghz and --cores go together", hint="e.g. --core cortex-a72 --ghz 1.5 --cores 4")
    if not any(given) and existing is None:
        raise ConfigError(f"no profile {name!r} in {target.parent} to add rows to",
                          hint="give --core, --ghz and --cores to create it")
    if all(given) and existing is not None:
        raise ConfigError(f"profile {target} already exists",
                          hint="remove it, or add rows with --reference / --from-run only")
    big = cores if all(given) else len(existing.big_cores)
    threads = ref_threads or big
    source = ref_source or "given by the user (edgebench profile add)"
    rows = [parse_reference(r, runtime=ref_runtime, precision=ref_precision, threads=threads, source=source)
            for r in reference or ()]
    rows += [_reference_from_run(r) for r in from_run or ()]
    if all(given):
        clusters = [(core, ghz, cores)]
        if little:
            parts = little.split(":")
            try:
                clusters.append((parts[0], float(parts[1]), int(parts[2])))
            except (IndexError, ValueError):
                raise ConfigError(f"--little {little!r} is not CORE:GHZ:COUNT", hint="e.g. cortex-a55:1.8:4") from None
        text = render_profile(name, clusters, description=description, references=rows, bandwidth_gbs=bandwidth,
                              memory_source="given by the user (edgebench profile add)" if bandwidth else None)
        path = write_user_profile(name, text, directory=directory)
    else:
        if not rows:
            raise ConfigError("nothing to add", hint="give --reference MODEL=MS or --from-run RUN_ID")
        path = write_user_profile(name, "\n".join(reference_toml(r) for r in rows), directory=directory,
                                  append=True)
    p = load_file(path)
    console.print(f"wrote {path}: {p.device_class}, {len(p.big_cores)} big core(s), "
                  f"{len(p.references)} reference row(s)", highlight=False)


def _reference_from_run(run_id: str):
    """A reference row from a stored run measured on a device (not on this desktop)."""
    from edgebench.errors import UnsupportedError
    from edgebench.profiles.projection import run_precision
    from edgebench.profiles.references import ZOO_REFERENCES, ReferenceRow
    from edgebench.results import Status, Store

    with Store(state.db) as store:
        run = store.get(run_id)
    if run.kind != "run" or run.status != Status.OK or run.latency is None or not run.latency.p50_ms:
        raise UnsupportedError(f"run {run.run_id} is not a successful measurement", stage="profile",
                               hint="save a run with status OK")
    if str(run.target).startswith("local"):
        raise UnsupportedError(f"run {run.run_id} was measured on this desktop, not on a device", stage="profile",
                               hint="use a run measured with --target adb:… or ssh:…")
    if run.model not in ZOO_REFERENCES:
        raise UnsupportedError(f"run {run.run_id} measured {run.model}, not a reference model", stage="profile",
                               hint=f"reference models: {', '.join(ZOO_REFERENCES)}")
    runtime = _runtime_of(run.format)
    if runtime is None:
        raise UnsupportedError(f"cannot tell which runtime ran {run.format}", stage="profile",
                               hint="update edgebench: the format plug-in declares its runtime")
    bench = (run.spec or {}).get("bench") or {}
    threads = bench.get("threads") or ((run.environment or {}).get("device") or {}).get("cores") or 1
    shape = ((run.artifact.manifest or {}).get("input_spec") or {}).get("shape") if run.artifact else None
    return ReferenceRow(model=run.model, precision=run_precision(run.variant), threads=int(threads), runtime=runtime,
                        latency_ms=float(run.latency.p50_ms), resolution=int(shape[-1]) if shape else
                        ZOO_REFERENCES[run.model], source=f"edgebench run {run.run_id} on {run.target} "
                                                          f"({run.created_at}, p50 of {run.latency.n} runs)")
