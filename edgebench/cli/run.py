"""``edgebench run``, ``edgebench sweep`` and ``edgebench compare``: measure and tabulate.

The output format option is ``--output/-o`` (table | markdown | csv | json); ``compare`` also
takes it as ``--format`` (its filter by artifact format is ``--artifact-format``).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from edgebench.cli import app, console, err_console, state
from edgebench.cli import model_options as opts
from edgebench.cli.sinks import mlflow_option, mlflow_uri_option, no_match, open_store, read_store
from edgebench.errors import ConfigError, EdgebenchError

OUTPUT_HELP = "Output: table, markdown, csv or json."
# target option → the `run` flag that sets it (error messages name the flag)
TARGET_FLAGS = {"accept_new_host_key": "--accept-new-host-key", "benchmark_binary": "--benchmark-binary",
                "runner": "--android-runner", "apk": "--apk", "cooldown_temp_c": "--cooldown-temp",
                "delegate": "--delegate"}
_FAILED = ("LOAD_FAILED", "EXPORT_FAILED", "DEPLOY_FAILED", "RUN_FAILED", "TIMEOUT", "INTERRUPTED")


def _shape(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise ConfigError(f"--input-shape {text!r} is not a list of integers", hint="e.g. --input-shape 1,3,224,224") from None
    if not dims or any(d <= 0 for d in dims):
        raise ConfigError(f"--input-shape {text!r} needs positive dims", hint="e.g. --input-shape 1,3,224,224")
    return dims


def _print(rows: list[dict], output: str, title: str | None = None, projected: list = ()) -> None:
    from edgebench.results.render import OUTPUTS, render, rich_table

    if output not in OUTPUTS:
        raise ConfigError(f"unknown --output {output!r}", hint=f"one of {', '.join(OUTPUTS)}")
    if output == "table":
        out = console
        if not console.is_terminal:  # piped or captured: don't squeeze 13 columns into 80 characters
            from rich.console import Console

            out = Console(width=max(console.width, 200))
        out.print(rich_table(rows, title=title, projected=projected, more="widen it, or -o csv"))
    else:
        typer.echo(render(rows, output, projected=projected), nl=False)


def _names(results: list) -> dict:
    """result → the label the table gives it (same-named files told apart: ``model (relu)``)."""
    from edgebench.results.compare import artifact_key, labels

    names = labels(results)
    return {id(r): names.get(artifact_key(r), r.model) for r in results}


def _report_failures(results: list) -> None:
    """One stderr line per failed cell, then exit 2 (unsupported cells are rows, not failures)."""
    failed = [r for r in results if r.status.value in _FAILED]
    names = _names(results)
    for r in failed:
        e = r.error
        line = f"{names[id(r)]} {r.format} {r.variant} @ {r.target}: {e.stage}: {e.message}" if e else r.status.value
        if e and e.hint:
            line += f" — {e.hint}"
        err_console.print(f"[bold red]error[/] {' '.join(line.split())}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(2)


@app.command("run")
def run_cmd(
    artifacts: List[Path] = typer.Argument(..., help="Artifact files (.pt .ptl .onnx .tflite .mlpackage) or "
                                                     "directories of them."),
    target: str = typer.Option("local", "--target", "-t", help="local, ssh:user@host[:port], adb:SERIAL or an alias."),
    devices: Optional[Path] = typer.Option(None, "--devices", help="Devices file with target aliases."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Runtime threads (default: the runtime's)."),
    warmup: int = typer.Option(10, "--warmup", min=0, help="Warm-up runs (at least)."),
    warmup_seconds: float = typer.Option(1.0, "--warmup-seconds", min=0, help="Warm-up seconds (at least)."),
    runs: int = typer.Option(50, "--runs", min=1, help="Timed runs (at least)."),
    min_seconds: float = typer.Option(3.0, "--min-seconds", min=0, help="Timed seconds (at least)."),
    max_seconds: float = typer.Option(60.0, "--max-seconds", min=0.001, help="Cap on warm-up and on timing."),
    timeout: float = typer.Option(600.0, "--timeout", min=1, help="Kill a runner after this many seconds."),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="e.g. 1,3,224,224 (dynamic or "
                                                                          "unknown dims; TorchScript files)."),
    include_io: bool = typer.Option(False, "--include-io", help="Time pre- and post-processing too."),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="The timed loop's inputs: a .npz with one array per "
                                                                 "input name, or test-data .pb files (a file or a "
                                                                 "folder of input_<k>.pb). Default: the model's own "
                                                                 "test_data_set_0 beside it, else synthetic data."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help="Image folder, one sub-folder per class "
                                                                   "(accuracy) or flat (agreement with eager)."),
    # --dataset pre-processing / class names where the artifact's manifest does not say (third-party files)
    mean: Optional[str] = opts.MEAN,
    std: Optional[str] = opts.STD,
    resize: Optional[int] = opts.RESIZE,
    interpolation: Optional[str] = opts.INTERPOLATION,
    labels: Optional[Path] = opts.LABELS,
    output: str = typer.Option("table", "--output", "-o", help=OUTPUT_HELP),
    accept_new_host_key: bool = typer.Option(False, "--accept-new-host-key",
                                             help="ssh: trust a host key seen for the first time "
                                                  "(StrictHostKeyChecking=accept-new)."),
    benchmark_binary: Optional[Path] = typer.Option(None, "--benchmark-binary",
                                                    help="adb: LiteRT benchmark_model binary for android_arm64."),
    android_runner: Optional[str] = typer.Option(None, "--android-runner",
                                                 help="adb: benchmark_model (default) or app (android_app)."),
    apk: Optional[Path] = typer.Option(None, "--apk", help="adb --android-runner app: APK to install if missing."),
    cooldown_temp: Optional[float] = typer.Option(None, "--cooldown-temp",
                                                  help="Wait until the device is at or below this °C."),
    delegate: Optional[str] = typer.Option(None, "--delegate",
                                           help="Delegate / execution provider: LiteRT xnnpack (default) or none; "
                                                "ONNX Runtime cpu (default) or another provider it lists; adb: "
                                                "cpu, xnnpack, gpu or nnapi (what the Android runner offers)."),
    paired: bool = typer.Option(False, "--paired", help="Also time the artifacts of each model interleaved in "
                                                        "rounds in one process: speed-up vs fp32 with a CI."),
    paired_rounds: int = typer.Option(10, "--paired-rounds", min=2, help="Rounds of --paired (the CI is a "
                                                                         "bootstrap over them)."),
    profile_ops: bool = typer.Option(False, "--profile-ops", help="After timing, profile every operator in a "
                                                                  "separate session (compare --ops, report)."),
    mlflow: bool = mlflow_option(), mlflow_uri: Optional[str] = mlflow_uri_option(),
) -> None:
    """Measure artifacts on a target: latency statistics, memory, size and (with --dataset) accuracy.
    Every result goes to the results database as soon as it exists."""
    from edgebench.harness.artifacts import discover
    from edgebench.harness.measure import measure_artifact
    from edgebench.harness.paired import measure_together
    from edgebench.results.compare import compare_rows
    from edgebench.spec import BenchSpec
    from edgebench.targets import resolve

    bench = BenchSpec(warmup_runs=warmup, warmup_seconds=warmup_seconds, runs=runs, min_seconds=min_seconds,
                      max_seconds=max_seconds, threads=threads, include_io=include_io,
                      input_shape=_shape(input_shape), dataset=dataset, timeout_seconds=timeout,
                      preprocess=opts.preprocess_spec(mean, std, resize, None, interpolation),
                      labels=opts.labels_path(labels), paired=paired, paired_rounds=paired_rounds,
                      profile_ops=profile_ops, delegate=delegate, inputs=inputs)
    found = discover(artifacts)
    # unset flags stay out, so a devices-file entry's own options apply; the target class's Options
    # validate the rest (one line naming the flag when a target does not take it)
    options = {"accept_new_host_key": accept_new_host_key or None, "benchmark_binary": benchmark_binary,
               "runner": android_runner, "apk": apk, "cooldown_temp_c": cooldown_temp}
    # --delegate rides in the BenchSpec (part of the row's identity); the runtime on the target checks
    # it, and a target that declares its delegates (adb) checks it up front too
    tgt = resolve(target, devices, flags=TARGET_FLAGS, **{k: v for k, v in options.items() if v is not None})
    if delegate is not None and hasattr(tgt.options, "delegate"):
        tgt = resolve(target, devices, flags=TARGET_FLAGS, delegate=delegate.strip().lower(),
                      **{k: v for k, v in options.items() if v is not None})
    if delegate is not None:
        _check_delegate(delegate, found, tgt)
    results = []
    try:
        with open_store(mlflow, mlflow_uri) as store:
            if paired:
                groups: dict[str, list] = {}
                for art in found:  # one paired session per model: its variants and formats together
                    groups.setdefault(art.model, []).append(art)
                for model_name, arts in groups.items():
                    err_console.print(f"measuring {len(arts)} artifact(s) of {model_name} on {target}, paired …",
                                      highlight=False)
                    results += measure_together([(a, {}) for a in arts], tgt, bench, store=store)
            else:
                for art in found:
                    # a plain line, not a spinner: no refresh thread competing with the measurement
                    err_console.print(f"measuring {art.path} on {target} …", highlight=False)
                    results.append(measure_artifact(art, tgt, bench, store=store))
    except KeyboardInterrupt:
        _interrupted()
        raise
    rows = compare_rows(results, latest=False)
    _print(rows, output)
    if output == "table":  # per-class recall + confusion matrix with the model's class names
        from edgebench.results.class_report import class_report

        for r in results:
            for line in class_report(r.accuracy, title=f"{r.model} {r.format} {r.variant}: "):
                console.print(line, highlight=False, markup=False)
    _warn(results)
    _notes(rows)
    _report_failures(results)


def _check_delegate(delegate: str, found: list, tgt) -> None:
    """ConfigError (exit 2, nothing measured or stored) when a runtime of ``found`` does not take
    ``--delegate`` on ``tgt`` and the target can say so up front (local: what the runtime offers here);
    otherwise the runner on the device checks it."""
    runtimes = []
    for art in found:
        try:
            runtimes.append(art.runtime)
        except EdgebenchError:
            continue  # its row says why it cannot run
    for runtime in dict.fromkeys(runtimes):
        offered = tgt.delegates(runtime)
        name = tgt.delegate_name(runtime, delegate)
        if offered is not None and name is not None and name not in offered:
            raise ConfigError(f"unknown delegate {delegate!r} for {runtime} on {tgt.uri}",
                              hint=f"available here: {', '.join(offered)}")


def _interrupted() -> None:
    # typer turns KeyboardInterrupt into a silent exit 130: say what survived before it does
    err_console.print(f"interrupted: every result finished so far is in {state.db}; re-run the same command "
                      "to resume", highlight=False)


def _notes(rows: list[dict]) -> None:
    for row in rows:
        for note in row.get("notes") or ():
            err_console.print(f"[yellow]warning[/] {row['model']} {row['format']} {row['variant']}: {note}",
                              highlight=False, soft_wrap=True)


def _warn(results: list) -> None:
    names = _names(results)
    for r in results:
        for w in r.warnings:
            err_console.print(f"[yellow]warning[/] {names[id(r)]} {r.format} {r.variant}: {w}", highlight=False,
                              soft_wrap=True)


class _Progress:
    """Sweep listener drawing a rich progress bar (refreshed on events only: no thread polling
    while a measurement runs)."""

    def __init__(self) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=err_console, auto_refresh=False, transient=False)
        self.task = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _say(self, text: str) -> None:
        self.progress.update(self.task, description=text)
        self.progress.refresh()

    def started(self, total: int, done: int) -> None:
        self.task = self.progress.add_task("sweep", total=total)
        if done:
            self.progress.console.print(f"resuming: {done} of {total} cells already in {state.db}")
        self.progress.refresh()

    def exporting(self, model, variant, formats) -> None:
        self._say(f"export {model.label} {variant.label} → {', '.join(formats)}")

    def measuring(self, cell) -> None:
        self._say(f"measure {cell.label}")

    def waiting(self, what: str) -> None:
        self.progress.console.print(f"waiting: {what}", highlight=False)
        self.progress.refresh()

    def finished(self, cell, result, skipped: bool) -> None:
        if not skipped:
            lat = result.latency
            p50 = (f" p50 {lat.p50_ms:.3g} ms" if lat and lat.p50_ms is not None else
                   f" mean {lat.mean_ms:.3g} ms" if lat and lat.mean_ms is not None else "")
            self.progress.console.print(f"{result.status.value:>13} {cell.label}{p50}", highlight=False)
        self.progress.advance(self.task)
        self.progress.refresh()


@app.command("sweep")
def sweep_cmd(
    file: Path = typer.Argument(..., help="Sweep file (TOML): models, formats, variants, targets, [bench]."),
    devices: Optional[Path] = typer.Option(None, "--devices", help="Devices file with target aliases and options."),
    force: bool = typer.Option(False, "--force", help="Re-run cells already in the results database."),
    output: str = typer.Option("table", "--output", "-o", help=OUTPUT_HELP),
    name: Optional[str] = typer.Option(None, "--name", help="Name its results for `edgebench diff` (default: file stem)."),
    mlflow: bool = mlflow_option(), mlflow_uri: Optional[str] = mlflow_uri_option(),
    trust_checkpoint: bool = typer.Option(False, "--trust-checkpoint",
                                          help="Allow fully pickled checkpoints in the sweep file (runs code "
                                               "from them); a sweep file itself can never grant this."),
) -> None:
    """Export and measure models × formats × variants × targets. Cells already in the database are
    skipped, so an interrupted sweep resumes where it stopped; prints the compare table. Two sweeps
    on one database share the work: a cell is never run twice at once and never measured while the
    other sweep measures on the same target (the second waits and says so)."""
    from edgebench.harness.sweep import run_sweep
    from edgebench.results.compare import compare_rows
    from edgebench.spec import SweepSpec

    spec = SweepSpec.from_toml(file, trust_checkpoint=trust_checkpoint)
    if spec.project:  # an unknown profile name fails before any work
        from edgebench.profiles.profiles import load_profiles, select

        select(load_profiles(), spec.project)
    projected: list = []
    try:
        with open_store(mlflow, mlflow_uri, sweep=name or file.stem) as store, _Progress() as progress:
            results = run_sweep(spec, store=store, force=force, listener=progress, devices_file=devices)
            rows = compare_rows(results, latest=False)
            if spec.project:
                projected = _project_rows(rows, store, ",".join(spec.project))
    except KeyboardInterrupt:
        _interrupted()
        raise
    _print(rows, output, title=f"{file} ({state.db})", projected=projected)
    _report_failures(results)


@app.command("compare")
def compare_cmd(
    model: Optional[str] = typer.Option(None, "--model", help="Only this model."),
    artifact_format: Optional[str] = typer.Option(None, "--artifact-format",
                                                  help="Only this artifact format (onnx, tflite …)."),
    variant: Optional[str] = typer.Option(None, "--variant", help="Only this variant (fp32, int8 …)."),
    target: Optional[str] = typer.Option(None, "--target", help="Only this target."),
    every: bool = typer.Option(False, "--all", help="Every stored run, not just the latest per cell."),
    project: bool = typer.Option(False, "--project", help="Add projected latency columns for device tiers "
                                                          "(labelled as projected, with the method)."),
    tiers: str = typer.Option("low,mid,high", "--tiers", help="Profiles for --project."),
    output: str = typer.Option("table", "--format", "--output", "-o", help=OUTPUT_HELP),
    ops: bool = typer.Option(False, "--ops", help="Also the slowest operators of each run measured with "
                                                  "--profile-ops (json: in each row; csv: one line per op "
                                                  "instead of the rows)."),
    top: int = typer.Option(10, "--top", min=1, help="Operators per run for --ops."),
) -> None:
    """The results table: size, params, MACs, parity/accuracy, p50 [95% CI], p90, peak memory and
    speed-up against the fp32 artifact of the same model, format and target (the paired one with
    its CI where the runs were measured with --paired)."""
    from edgebench.results.compare import compare_rows

    with read_store() as store:
        rows = compare_rows(store.results(kind="run"), model=model, fmt=artifact_format, variant=variant,
                            target=target, latest=not every)
        if not rows:
            raise no_match(model, artifact_format, variant, target)
        projected = _project_rows(rows, store, tiers) if project else []
        profiles = _op_profiles(rows, store, top) if ops else []
    if ops and output == "json":
        by_run = {p["run_id"]: p for p in profiles}
        rows = [{**r, "top_ops": by_run[r["run_id"]]["ops"] if r["run_id"] in by_run else [],
                 "op_profile_error": by_run[r["run_id"]]["error"] if r["run_id"] in by_run else None} for r in rows]
    if ops and output == "csv":
        _print_ops(profiles, output)
        return
    _print(rows, output, projected=projected)
    _notes(rows)
    if ops and output in ("table", "markdown"):
        _print_ops(profiles, output)


def _op_profiles(rows: list[dict], store, top: int) -> list[dict]:
    """Top-``top`` operators of every row's run (rows without a profile say why not)."""
    from edgebench.results.compare import top_ops

    out = []
    for row in rows:
        run = store.get(row["run_id"])
        samples = run.samples or {}
        if row["status"] not in ("OK", "PARITY_FAILED"):
            continue
        label = f"{row['model']} {row['format']} {row['variant']} @ {row['target']}"
        out.append({"label": label, "run_id": row["run_id"], "ops": top_ops(run, top),
                    "n": len(samples.get("op_profile") or []), "runs": samples.get("op_profile_runs"),
                    "error": samples.get("op_profile_error") or (None if samples.get("op_profile") else
                                                                 "measured without --profile-ops")})
    return out


def _print_ops(profiles: list[dict], output: str) -> None:
    from edgebench.results.render import render_ops

    width = max(console.width, 160)
    typer.echo(("\n" if output != "csv" else "") + render_ops(profiles, output, width=width), nl=False)


def _project_rows(rows: list[dict], store, tiers: str) -> list:
    """Projections of the rows' local OK runs onto ``tiers`` (stored ones reused, missing ones made and
    stored), added to the rows under their own keys; returns the projected columns."""
    from edgebench.profiles.profiles import load_profiles, select
    from edgebench.profiles.projection import made_with_current_host, project_run, projected_columns

    everything = load_profiles()
    chosen = {p.name: p for p in select(everything, tiers.split(","))}
    projections = []
    for row in rows:
        if row["status"] != "OK" or not str(row["target"]).startswith("local"):
            continue
        run = store.get(row["run_id"])
        # a stored projection made with another host profile than this run's CPU gets today is made again
        have = {(p.profile, p.threads): p for p in store.projections(row["run_id"])
                if made_with_current_host(p, run, everything)}
        try:
            made = project_run(run, {k: v for k, v in chosen.items()
                                                          if not all((k, t) in have for t in ("1-big", "all-big"))},
                               all_profiles=everything)
        except EdgebenchError as err:  # one row that cannot be projected keeps "—", the table still prints
            typer.echo(f"{err.stage}: {row['model']} {row['format']} {row['variant']}: {err.message}", err=True)
            made = []
        for p in made:
            store.add(p)
            have[(p.profile, p.threads)] = p
        projections += [p for p in have.values() if p.profile in chosen]
    return projected_columns(rows, projections)
