"""``edgebench export``: flags → ModelSpec + ExportSpec (+ variants) → :func:`edgebench.exporters.export`.

The format flags (``--opset``, ``--mobile`` …) are not written here: one flag per field of every
format plug-in's ``Options`` is added to the command from the registry
(:func:`edgebench.exporters.format_option_fields`), and the plug-in checks the values.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from pathlib import Path
from typing import Any, List, Optional

import typer

from edgebench import exporters
from edgebench.cli import app, console, err_console, state
from edgebench.cli import model_options as opts
from edgebench.cli.sinks import mlflow_logger, mlflow_option, mlflow_uri_option
from edgebench.errors import ConfigError
from edgebench.exporters.options import OptionField

OPTION_FIELDS = exporters.format_option_fields()
# the keyword each format flag reaches export_cmd under
_PARAM = {f"format_option_{f.fmt}_{f.name}": f for f in OPTION_FIELDS}
# a bool option's ``--no-<flag>`` reaches export_cmd under its keyword + _OFF
_OFF = "__off"


def _off_flag(f: OptionField) -> str:
    return f"--no-{f.flag[2:]}"


def _variant(fp16: bool, int8: bool, dynamic: bool, prune: Optional[float], structured: bool,
             binarize: bool, binarize_activations: bool):
    from edgebench.spec import Variant

    chosen = [name for name, on in (("--fp16", fp16), ("--int8", int8), ("--prune", prune is not None),
                                    ("--binarize", binarize)) if on]
    if len(chosen) > 1:
        raise ConfigError(f"{' and '.join(chosen)} cannot be combined", hint="pick one variant, or --all")
    if dynamic and not int8:
        raise ConfigError("--dynamic needs --int8", hint="edgebench export --int8 --dynamic")
    if structured and prune is None:
        raise ConfigError("--structured needs --prune AMOUNT", hint="e.g. --prune 0.5 --structured")
    if binarize_activations and not binarize:
        raise ConfigError("--binarize-activations needs --binarize")
    if prune is not None:
        return Variant("fp32", transform="prune_structured" if structured else "prune", amount=prune)
    if binarize:
        return Variant("fp32", transform="binarize", binarize_activations=binarize_activations)
    if int8:
        return Variant("int8", int8_mode="dynamic" if dynamic else "static")
    return Variant("fp16" if fp16 else "fp32")


def format_options(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """format → {option: value} for the format flags a user set (values that differ from the
    option's default; ``--no-<flag>`` sets a bool option False); the format plug-ins check them
    when the export starts."""
    out: dict[str, dict[str, Any]] = {}
    for param, value in values.items():
        if param.endswith(_OFF):
            continue
        f = _PARAM[param]
        if values.get(param + _OFF):
            value = False
        if value is not None and value != f.default:
            out.setdefault(f.fmt, {})[f.name] = value
    return out


def check_asked(given: list[str], formats: list[str]) -> None:
    """ConfigError when a format flag in ``given`` (the flags typed, e.g. ``--float-stem``) belongs
    only to formats not in ``formats`` (the ones being exported): it would be silently ignored."""
    owners: dict[str, list[str]] = {}
    for f in OPTION_FIELDS:
        for flag in (f.flag, _off_flag(f)) if f.type is bool else (f.flag,):
            owners.setdefault(flag, []).append(f.fmt)
    for flag in given:
        fmts = owners[flag]
        if not set(fmts) & set(formats):
            named = " / ".join(fmts)
            raise ConfigError(f"{flag} is a{'n' if named[0] in 'aeiou' else ''} {named} option and no {named} "
                              f"format is being exported",
                              hint=f"add -f {fmts[0]} or drop {flag}")


def _with_format_flags(func: Any) -> Any:
    """``func`` (which takes ``**format_flags``) with one typer option per format option field in
    its signature, so typer parses and documents them like the written-out flags."""
    sig = inspect.signature(func)
    fixed = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    extra = []
    for param, f in _PARAM.items():
        if f.type is bool:
            # --x and a separate --no-x (so a default-on option can be switched off); not a typer
            # "--x/--no-x" pair, whose second column cuts the long flag names at 80 columns
            option = typer.Option(f.default, f.flag, help=f"{f.help} {_off_flag(f)} switches it off.")
            off = typer.Option(False, _off_flag(f), hidden=True)
            extra.append(inspect.Parameter(param + _OFF, inspect.Parameter.KEYWORD_ONLY, default=off, annotation=bool))
        else:
            option = typer.Option(f.default, f.flag, help=f.help)
        extra.append(inspect.Parameter(param, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=f.type))
    func.__signature__ = sig.replace(parameters=fixed + extra)
    return func


@app.command("export")
@_with_format_flags
def export_cmd(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Zoo model name (default mobilenet_v3_small)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="A checkpoint file (state_dict needs --arch)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Zoo architecture of a state_dict checkpoint."),
    formats: List[str] = typer.Option([], "--format", "-f",
                                      help=f"{', '.join(exporters.formats())} (repeatable)."),
    fp16: bool = typer.Option(False, "--fp16", help="Half-precision weights / compute."),
    int8: bool = typer.Option(False, "--int8", help="int8, calibrated (static) unless --dynamic."),
    dynamic: bool = typer.Option(False, "--dynamic", help="With --int8: int8 weights, activations quantised at run time."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="Folder of calibration images."),
    calibration_samples: int = typer.Option(32, "--calibration-samples", help="Calibration inputs to use."),
    prune: Optional[float] = typer.Option(None, "--prune", help="Prune this fraction of Conv/Linear weights (0..1)."),
    structured: bool = typer.Option(False, "--structured", help="With --prune: remove whole channels."),
    binarize: bool = typer.Option(False, "--binarize", help="Binarize Conv/Linear weights (first/last kept)."),
    binarize_activations: bool = typer.Option(False, "--binarize-activations", help="With --binarize: sign() activations too."),
    all_: bool = typer.Option(False, "--all", help="Every format × fp32, fp16, int8, int8-dynamic, pruned, pruned "
                                                   "structured, binarized."),
    out: Path = typer.Option(Path("artifacts"), "--out", "-o", help="Output directory."),
    parity_samples: int = typer.Option(8, "--parity-samples", help="Inputs the parity check runs on."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Parallel export processes (format × variant groups)."),
    trust_checkpoint: bool = typer.Option(False, "--trust-checkpoint", help="Allow a pickled nn.Module checkpoint "
                                                                            "(runs its code: only for files you trust)."),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", help="Classifier outputs (checkpoints / zoo)."),
    # the model's input: shape, builder kwargs, pre-processing, class names (edgebench.cli.model_options)
    input_shape: Optional[str] = opts.INPUT_SHAPE,
    arch_kwargs: Optional[str] = opts.ARCH_KWARGS,
    mean: Optional[str] = opts.MEAN,
    std: Optional[str] = opts.STD,
    resize: Optional[int] = opts.RESIZE,
    crop: Optional[int] = opts.CROP,
    interpolation: Optional[str] = opts.INTERPOLATION,
    labels: Optional[Path] = opts.LABELS,
    mlflow: bool = mlflow_option(), mlflow_uri: Optional[str] = mlflow_uri_option(),
    **format_flags: Any,
) -> None:
    """Export a model to one or more formats; every artifact is parity-checked against eager PyTorch
    (running it in the runtime `edgebench run` times) and gets a manifest beside it. Prints a
    parity table; rows also go to the results database."""
    from edgebench.exporters import MATRIX_VARIANTS, export, registry
    from edgebench.results import Store, Status
    from edgebench.spec import ExportSpec, ModelSpec

    if model is not None and checkpoint is not None:
        raise ConfigError("--model and --checkpoint cannot be combined", hint="a checkpoint names its --arch")
    if arch is not None and checkpoint is None:
        raise ConfigError("--arch needs --checkpoint", hint="for a zoo model use --model NAME")
    if jobs < 1:
        raise ConfigError(f"--jobs {jobs} must be at least 1")
    variant = _variant(fp16, int8, dynamic, prune, structured, binarize, binarize_activations)
    if all_ and variant.label != "fp32":
        raise ConfigError("--all already includes every variant", hint="drop --fp16/--int8/--prune/--binarize")
    if calibration is not None and not (all_ or (int8 and not dynamic)):
        raise ConfigError("--calibration only applies to static int8", hint="add --int8 (without --dynamic)")
    if not formats and not all_:
        raise ConfigError("no --format given", hint=f"--format one of {', '.join(registry.names())}, or --all")
    for name in formats:
        registry.get(name)  # an unknown -f is named before any flag check
    typed = [p for p in format_flags
             if getattr(ctx.get_parameter_source(p), "name", None) in ("COMMANDLINE", "ENVIRONMENT")]
    for p in typed:
        if p + _OFF in typed:
            raise ConfigError(f"{_PARAM[p].flag} and {_off_flag(_PARAM[p])} cannot be combined", hint="pick one")
    check_asked([_off_flag(_PARAM[p[:-len(_OFF)]]) if p.endswith(_OFF) else _PARAM[p].flag for p in typed],
                list(registry.names()) if all_ else formats)
    model_spec = (ModelSpec(name=None, checkpoint=checkpoint, arch=arch, num_classes=num_classes,
                            trust_checkpoint=trust_checkpoint) if checkpoint is not None
                  else ModelSpec(name=model or "mobilenet_v3_small", num_classes=num_classes))
    model_spec = dataclasses.replace(
        model_spec, input_shape=opts.input_shape(input_shape), arch_kwargs=opts.arch_kwargs(arch_kwargs),
        preprocess=opts.preprocess_spec(mean, std, resize, crop, interpolation), labels=opts.labels_path(labels))
    export_spec = ExportSpec(formats=tuple(dict.fromkeys(formats)) or tuple(registry.names()), variant=variant,
                             calibration_dir=calibration, calibration_samples=calibration_samples,
                             parity_samples=parity_samples, out_dir=out,
                             format_options=format_options(format_flags))

    log = mlflow_logger(mlflow, mlflow_uri, kinds=("export",))

    def progress(row) -> None:
        if log:
            log(row)
        # live progress for a person watching; scripts get the table (and one error line) only
        if err_console.is_terminal and row.status != Status.LOAD_FAILED:
            err_console.print(f"  {row.format} {row.variant}: {row.status.value}", highlight=False)

    from edgebench.exporters.progress import listen

    started = time.perf_counter()

    def stage_line(name: str, seconds: float | None) -> None:
        # a line per long stage (torch.export, conversion, parity …) with elapsed time, on a terminal only
        clock = f"[{time.perf_counter() - started:6.1f} s]"
        text = f"{name} …" if seconds is None else f"{name} done in {seconds:.1f} s"
        err_console.print(f"  {clock} {text}", highlight=False)

    previous = listen(stage_line if err_console.is_terminal else None)
    try:
        with Store(state.db) as store:
            results = export(model_spec, export_spec, store=store, variants=MATRIX_VARIANTS if all_ else None,
                             workers=jobs, on_result=progress)
    finally:
        listen(previous)
    loads = [r for r in results if r.status == Status.LOAD_FAILED]
    if loads and len(loads) == len(results):
        e = loads[0].error
        raise ConfigError(e.message, hint=e.hint, stage=e.stage)
    out_console = console
    if not console.is_terminal:  # captured or piped: keep the paths readable
        from rich.console import Console

        out_console = Console(width=max(console.width, 200))
    from edgebench.results.render import FitTable, export_table

    # fits a narrow terminal without cutting names; export's -o is --out, so the hint names no output format
    out_console.print(FitTable(export_table(results), more="widen it, run with COLUMNS=200, or read the "
                                                           "manifest beside each artifact"))
    from edgebench.exporters.manifest import transform_summary

    summaries = {}
    for r in results:  # one line per transformed variant: the same for every format
        manifest = r.artifact.manifest if r.artifact and r.artifact.manifest else {}
        if r.variant not in summaries and (line := transform_summary(manifest)):
            summaries[r.variant] = line
    for variant, line in summaries.items():
        out_console.print(f"[bold]{variant}[/]: {line}", highlight=False)
    for r in results:
        for w in r.warnings:
            if not w.startswith("not run here"):  # the table already says so
                out_console.print(f"[yellow]warning[/] {r.format} {r.variant}: {w}", highlight=False)
    if any(r.status in (Status.EXPORT_FAILED, Status.PARITY_FAILED) for r in results):
        raise typer.Exit(1)
