"""``edgebench models`` and ``edgebench doctor``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from edgebench.cli import app, console
from edgebench.cli import model_options as opts
from edgebench.results.render import FitTable


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
    console.print(FitTable(table))


@app.command("doctor")
def doctor_cmd(
    target: str = typer.Option(None, "--target", "-t", help="Also check a device: ssh:user@host, adb:SERIAL or an alias."),
    devices: Path = typer.Option(None, "--devices", help="Devices file with target aliases."),
) -> None:
    """Check Python, torch, every exporter, runtime and device client: version, or why not and how to fix."""
    from edgebench.doctor import checks

    rows = checks()
    if target:
        from edgebench.cli.devices import target_checks

        rows += target_checks(target, devices_file=devices)
    table = Table(title="edgebench doctor")
    for col in ("component", "kind", "status", "version / reason"):
        table.add_column(col)
    for c in rows:
        status = "[green]ok[/]" if c.ok else "[yellow]missing[/]"
        table.add_row(c.name, c.kind, status, c.detail)
    console.print(FitTable(table))


@app.command("inspect")
def inspect_cmd(
    model: str = typer.Option(None, "--model", help="Zoo name (default mobilenet_v3_small)."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="state_dict (.pt/.pth/.safetensors), torch.export "
                                                               ".pt2, TorchScript file or Hugging Face folder."),
    arch: str = typer.Option(None, "--arch", help="Zoo architecture of a state_dict checkpoint."),
    num_classes: int = typer.Option(None, "--num-classes", help="Classifier outputs (default: the zoo's)."),
    trust_checkpoint: bool = typer.Option(False, "--trust-checkpoint",
                                          help="Allow a fully pickled nn.Module (runs code from the file)."),
    input_shape: Optional[str] = opts.INPUT_SHAPE,
    arch_kwargs: Optional[str] = opts.ARCH_KWARGS,
    mean: Optional[str] = opts.MEAN,
    std: Optional[str] = opts.STD,
    resize: Optional[int] = opts.RESIZE,
    crop: Optional[int] = opts.CROP,
    interpolation: Optional[str] = opts.INTERPOLATION,
    labels: Optional[Path] = opts.LABELS,
) -> None:
    """Load a model or checkpoint and print its source, InputSpec (shape and where it came from,
    pre-processing, classes), params, non-zero params and MACs."""
    from edgebench.models import load
    from edgebench.models.catalog import human
    from edgebench.models.counting import count
    from edgebench.spec import ModelSpec

    spec = ModelSpec(name=model or ("mobilenet_v3_small" if checkpoint is None else None),
                     checkpoint=checkpoint, arch=arch, num_classes=num_classes,
                     trust_checkpoint=trust_checkpoint, input_shape=opts.input_shape(input_shape),
                     arch_kwargs=opts.arch_kwargs(arch_kwargs),
                     preprocess=opts.preprocess_spec(mean, std, resize, crop, interpolation),
                     labels=opts.labels_path(labels))
    lm = load(spec)
    c = count(lm.module, lm.input_spec.example())
    table = Table(title=f"{lm.label}", show_header=False)
    for key, value in lm.source.items():
        table.add_row(key, "; ".join(value) if isinstance(value, list) else str(value))
    s = lm.input_spec
    table.add_row("input", f"{'×'.join(map(str, s.shape))} {s.dtype} {s.layout}, task {s.task}, "
                           f"classes {s.num_classes}")
    table.add_row("preprocessing", opts.describe_preprocessing(s.preprocessing))
    if s.class_names:
        shown = ", ".join(s.class_names[:10]) + (f", … ({len(s.class_names)})" if len(s.class_names) > 10 else "")
        table.add_row("class names", shown)
    table.add_row("params", f"{human(c.params)} ({c.params:,}); non-zero {c.nonzero_params:,}")
    table.add_row("MACs", f"{human(c.macs)} ({c.macs:,})")
    console.print(table)
