"""``edgebench report``, ``edgebench diff`` and ``edgebench recommend``: answers from the results store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from edgebench.cli import app, console, err_console, state
from edgebench.cli.sinks import no_match, read_store
from edgebench.errors import ConfigError
from edgebench.results.diff import parse_fraction

_PCT_HELP = "a percentage (1%) or a fraction (0.01); a bare number above 1 is refused as ambiguous"


def _wide():
    if console.is_terminal:
        return console
    from rich.console import Console

    return Console(width=max(console.width, 200))


@app.command("diff")
def diff_cmd(
    base: str = typer.Argument(..., help="Base: a results-database file, a sweep name or a run id."),
    candidate: str = typer.Argument(..., help="Candidate: a results-database file, a sweep name or a run id."),
    fail_if_slower: Optional[str] = typer.Option(None, "--fail-if-slower",
                                                 help="Exit 1 when a cell is slower than this (e.g. 5%) over "
                                                      "its whole 95% CI."),
    output: str = typer.Option("table", "--format", "--output", "-o", help="table, markdown or json."),
) -> None:
    """Candidate vs base per matched cell (model, format, variant, target, threads, input shape):
    ratio of medians with a bootstrap 95% CI from the raw samples, and a verdict that only calls a
    change the CI supports."""
    from edgebench.results import diff as d

    if output not in ("table", "markdown", "json"):
        raise ConfigError(f"unknown --format {output!r}", hint="table, markdown or json")
    threshold = d.parse_fraction(fail_if_slower, "--fail-if-slower") if fail_if_slower is not None else None
    base_label, base_runs = d.resolve(base, state.db)
    cand_label, cand_runs = d.resolve(candidate, state.db)
    result = d.diff_runs(base_runs, cand_runs, threshold=threshold)
    if not result.cells:
        raise ConfigError(f"no measured cell is in both {base_label} and {cand_label}",
                          hint="diff needs the same model/format/variant/target/threads/input shape on both sides")
    if output == "json":
        typer.echo(json.dumps({"base": base_label, "candidate": cand_label, "threshold": threshold,
                               "cells": [c.to_dict() for c in result.cells],
                               "only_base": result.only_base, "only_candidate": result.only_candidate,
                               "notes": result.notes}, indent=2))
    elif output == "markdown":
        typer.echo(f"**edgebench diff** — base: {base_label}, candidate: {cand_label}\n")
        typer.echo(d.markdown(result), nl=False)
    else:
        from rich.table import Table

        table = Table(title=f"candidate ({cand_label}) vs base ({base_label})")
        for h in d.HEADERS:
            table.add_column(h, justify="right" if "ms" in h or "ratio" in h else "left")
        colours = {d.SLOWER: "red", d.FASTER: "green"}
        for c, cells in zip(result.cells, d.rows(result)):
            cells[-1] = f"[{colours.get(c.verdict, 'default')}]{cells[-1]}[/]"
            table.add_row(*cells)
        out = _wide()
        out.print(table)
        out.print(d.summary(result), highlight=False)
        for n in result.notes:
            out.print(f"note: {n}", highlight=False)
    if result.regressions:
        for c in result.regressions:
            err_console.print(f"[bold red]regression[/] {' '.join(c.key)}: {c.ci.ratio:.3f}× "
                              f"[{c.ci.low:.3f}, {c.ci.high:.3f}] > 1 + {threshold:.0%}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _projections(store, runs, tiers: Optional[str]) -> list:
    """Stored projections, plus (with ``tiers``) fresh ones for measured local runs that lack them."""
    from edgebench.profiles.profiles import load_profiles, select as select_profiles
    from edgebench.profiles.projection import made_with_current_host, project_run
    from edgebench.results.compare import select

    everything = load_profiles()
    by_id = {r.run_id: r for r in runs}
    # a stored projection made with another host profile than its run's CPU gets today is left out
    # (and, with ``tiers``, made again)
    projections = [p for p in store.projections()
                   if p.run_id not in by_id or made_with_current_host(p, by_id[p.run_id], everything)]
    if not tiers:
        return projections
    chosen = select_profiles(everything, tiers.split(","))
    have = {(p.run_id, p.profile) for p in projections}
    for r in select(runs):
        if r.status.value != "OK" or not str(r.target).startswith("local"):
            continue
        missing = [p for p in chosen if (r.run_id, p.name) not in have]
        if missing:
            for p in project_run(r, missing, all_profiles=everything):
                store.add(p)
                projections.append(p)
    return projections


@app.command("recommend")
def recommend_cmd(
    max_accuracy_drop: str = typer.Option("1%", "--max-accuracy-drop", help=f"Accuracy budget: {_PCT_HELP}."),
    tier: Optional[str] = typer.Option(None, "--tier", help="Only this projected tier / profile (low, mid, high, "
                                                           "pi4 …), projected from local runs if not stored yet."),
    model: Optional[str] = typer.Option(None, "--model", help="Only this model."),
    target: Optional[str] = typer.Option(None, "--target", help="Only this measured target."),
    output: str = typer.Option("table", "--format", "--output", "-o", help="table, markdown or json."),
) -> None:
    """What to ship: per model and target (or projected tier), the fastest and the smallest artifact
    within the accuracy budget, and why each other one loses."""
    from edgebench.results.recommend import recommend, table

    if output not in ("table", "markdown", "json"):
        raise ConfigError(f"unknown --format {output!r}", hint="table, markdown or json")
    budget = parse_fraction(max_accuracy_drop, "--max-accuracy-drop", maximum=1.0)
    with read_store() as store:
        runs = store.results(kind="run")
        projections = _projections(store, runs, tier)
    recs = recommend(runs, projections, max_drop=budget, tier=tier, target=target, model=model)
    if not recs:
        raise ConfigError("nothing to recommend: no measured runs match", hint="edgebench compare shows what is stored")
    rows = table(recs)
    if output == "json":
        typer.echo(json.dumps({"sentences": [r.sentence for r in recs], "rows": rows}, indent=2))
        return
    headers = ["model", "where", "artifact", "delegate", "role", "p50 ms", "size MB", "acc. drop", "why"]

    def cells(r):
        return [r["model"], r["where"] + (" (projected)" if r["projected"] else ""), r["artifact"],
                r["delegate_text"], r["role"], "—" if r["p50_ms"] is None else f"{r['p50_ms']:.3g}",
                "—" if r["size_mb"] is None else f"{r['size_mb']:.2f}",
                "unknown" if r["drop"] is None else f"{r['drop']:.1%}", r["why"]]

    if output == "markdown":
        for rec in recs:
            typer.echo(f"- {rec.sentence}")
        typer.echo("\n| " + " | ".join(headers) + " |\n|" + "|".join("---" for _ in headers) + "|")
        for r in rows:
            typer.echo("| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |")
        return
    from rich.table import Table

    out = _wide()
    for rec in recs:
        out.print(f"• {rec.sentence}", highlight=False, soft_wrap=True)
    t = Table(title=f"what to ship (accuracy budget {budget:.1%})")
    for h in headers:
        t.add_column(h, overflow="fold")
    for r in rows:
        t.add_row(*cells(r))
    out.print(t)


@app.command("report")
def report_cmd(
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
    model: Optional[str] = typer.Option(None, "--model", help="Only this model."),
    artifact_format: Optional[str] = typer.Option(None, "--artifact-format",
                                                  help="Only this artifact format (as `edgebench compare` names it)."),
    variant: Optional[str] = typer.Option(None, "--variant", help="Only this variant (fp32, int8 …)."),
    target: Optional[str] = typer.Option(None, "--target", help="Only this target."),
    tiers: Optional[str] = typer.Option(None, "--tiers", help="Also project local runs onto these profiles "
                                                             "(e.g. low,mid,high); stored projections are always shown."),
    max_accuracy_drop: str = typer.Option("1%", "--max-accuracy-drop",
                                          help=f"Accuracy budget of the what-to-ship table: {_PCT_HELP}."),
    title: str = typer.Option("edgebench report", "--title", help="Heading of the report."),
) -> None:
    """One self-contained HTML file (inline CSS and SVG plots, no network): what to ship, quality vs
    latency with the Pareto front per target and per projected tier, size / speed-up / memory bars,
    per-op profiles when present, and every run with its warnings and provenance."""
    from edgebench.results.report import write_report

    budget = parse_fraction(max_accuracy_drop, "--max-accuracy-drop", maximum=1.0)
    with read_store() as store:
        runs = store.results(kind="run")
        if any((model, artifact_format, variant, target)):  # an empty report would look like a result
            from edgebench.results.compare import select

            if not select(runs, model=model, fmt=artifact_format, variant=variant, target=target):
                raise no_match(model, artifact_format, variant, target)
        projections = _projections(store, runs, tiers)
    path = write_report(runs, projections, out, max_drop=budget, title=title, source=str(state.db), model=model,
                        fmt=artifact_format, variant=variant, target=target)
    err_console.print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)", highlight=False)
