"""Flags that describe a model's input, shared by ``inspect`` and ``export``: ``--input-shape``,
``--arch-kwargs``, ``--mean``, ``--std``, ``--resize``, ``--crop``, ``--interpolation``, ``--labels``.
They only parse text into spec values; :func:`edgebench.models.load` does the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from edgebench.errors import ConfigError

INPUT_SHAPE_HELP = ("Input shape N,C,H,W (any checkpoint kind; default: read from the checkpoint / config, "
                    "the --arch default for a state_dict).")
ARCH_KWARGS_HELP = "Keyword arguments for the --arch / --model builder, e.g. width_mult=0.5 or image_size=160."
MEAN_HELP = "Normalisation mean per channel on [0,1] pixels, e.g. 0.5,0.5,0.5 (default: the model's config)."
STD_HELP = "Normalisation std per channel, e.g. 0.5,0.5,0.5 (default: the model's config)."
RESIZE_HELP = "Resize the shorter image side to this many pixels before the crop (default: the model's config)."
CROP_HELP = "Centre-crop size in pixels = the model's input height/width (default: the model's config)."
INTERPOLATION_HELP = "Resize interpolation: nearest, bilinear or bicubic (default: the model's config)."
LABELS_HELP = "Text file of class names, one per line (line i = class index i)."


def input_shape(text: Optional[str]) -> tuple[int, ...] | None:
    """``"1,3,160,160"`` (or ``1x3x160x160``) → ``(1, 3, 160, 160)``; ConfigError otherwise."""
    if not text:
        return None
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").replace("×", ",").split(",") if d.strip())
    except ValueError:
        raise ConfigError(f"--input-shape {text!r} is not a list of integers", hint="e.g. --input-shape 1,3,224,224") from None
    if not dims or any(d <= 0 for d in dims):
        raise ConfigError(f"--input-shape {text!r} needs positive dims", hint="e.g. --input-shape 1,3,224,224")
    return dims


def floats(flag: str, text: Optional[str]) -> tuple[float, ...] | None:
    """``"0.5,0.5,0.5"`` → ``(0.5, 0.5, 0.5)``; ConfigError naming ``flag`` otherwise."""
    if not text:
        return None
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a list of numbers", hint=f"e.g. {flag} 0.5,0.5,0.5") from None


def preprocess_spec(mean: Optional[str], std: Optional[str], resize: Optional[int], crop: Optional[int],
                    interpolation: Optional[str]) -> Any:
    """A :class:`edgebench.spec.PreprocessSpec` from the flags, or None when none is given."""
    from edgebench.spec import PreprocessSpec

    spec = PreprocessSpec(mean=floats("--mean", mean), std=floats("--std", std), resize=resize, crop=crop,
                          interpolation=interpolation.lower() if interpolation else None)
    return None if spec.empty else spec


def arch_kwargs(text: Optional[str]) -> tuple[tuple[str, Any], ...]:
    """``--arch-kwargs`` text → sorted (key, value) pairs (see :func:`edgebench.models.fitting.parse_arch_kwargs`)."""
    from edgebench.models.fitting import parse_arch_kwargs

    return parse_arch_kwargs(text)


# typer option declarations, reused by every command that takes them
INPUT_SHAPE = typer.Option(None, "--input-shape", help=INPUT_SHAPE_HELP)
ARCH_KWARGS = typer.Option(None, "--arch-kwargs", help=ARCH_KWARGS_HELP)
MEAN = typer.Option(None, "--mean", help=MEAN_HELP)
STD = typer.Option(None, "--std", help=STD_HELP)
RESIZE = typer.Option(None, "--resize", help=RESIZE_HELP)
CROP = typer.Option(None, "--crop", help=CROP_HELP)
INTERPOLATION = typer.Option(None, "--interpolation", help=INTERPOLATION_HELP)
LABELS: Any = typer.Option(None, "--labels", help=LABELS_HELP)


def labels_path(path: Optional[Path]) -> Path | None:
    """``--labels`` must name an existing file."""
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"--labels {path} is not a file", hint="a text file with one class name per line")
    return path


def describe_preprocessing(p: Any) -> str:
    """One line: 'resize 183 → crop 160x160, bicubic, mean (0, 0, 0) std (1, 1, 1), RGB — from …'."""
    if p is None:
        return "—"
    resize = "no resize" if p.resize is None else f"resize {p.resize if isinstance(p.resize, int) else 'x'.join(map(str, p.resize))}"
    nums = lambda v: "(" + ", ".join(f"{x:g}" for x in v) + ")"  # noqa: E731
    return (f"{resize} → crop {p.crop[0]}x{p.crop[1]}, {p.interpolation}, mean {nums(p.mean)} std {nums(p.std)}, "
            f"{p.channel_order} — from {p.source}")
