"""What a loaded model eats and answers, from the model's own files first and the user's flags on top.

:func:`input_spec_for` turns a loaded module plus its :class:`~edgebench.spec.ModelSpec` into the
:class:`~edgebench.models.input_spec.InputSpec` every later stage uses: the input shape (never a
silent 224², :mod:`edgebench.models.resolution`), the pre-processing (:mod:`edgebench.models.preprocessing`),
the task (a model whose output has the input's shape is image-to-image) and the class names
(the model's config or ``--labels``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from edgebench.errors import LoadError
from edgebench.models.input_spec import InputSpec
from edgebench.models.preprocessing import Preprocessing, from_timm, from_torchvision, imagenet, with_overrides
from edgebench.models.resolution import fmt_shape


def read_labels(path: Path | str) -> tuple[str, ...]:
    """Class names from a text file, one per line (line i = class index i; trailing blank lines
    dropped). LoadError for a missing file or a blank name in the middle."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"--labels {path} cannot be read ({exc})", hint="one class name per line") from None
    while lines and not lines[-1].strip():
        lines.pop()
    names = tuple(line.strip() for line in lines)
    if not names:
        raise LoadError(f"--labels {path} is empty", hint="one class name per line (line i = class i)")
    blank = [i for i, n in enumerate(names) if not n]
    if blank:
        raise LoadError(f"--labels {path}: line {blank[0] + 1} is blank",
                        hint="one class name per line (line i = class i), no blank lines")
    return names


def own_preprocessing(module: Any, library: str | None, arch: str | None, shape: tuple[int, ...],
                      checkpoint: Any = None, sha256: str | None = None) -> Preprocessing:
    """The model's own pre-processing at ``shape``: timm's config for a timm model, torchvision's
    weights transforms for a torchvision architecture (those of the published weights file
    ``checkpoint`` is, when it is one), else ImageNet's recipe (said in ``source``)."""
    h, w = (shape[2], shape[3]) if len(shape) == 4 else (224, 224)
    p = from_timm(module)
    if p is not None:
        return p.at_size(h, w)
    if library == "torchvision" and arch:
        p = from_torchvision(arch, h, w, checkpoint=checkpoint, sha256=sha256)
        if p is not None:
            return p
    return imagenet(h, w, source="ImageNet default (the model carries no pre-processing config)")


def output_facts(module: Any, example: Any) -> tuple[str, int | None]:
    """``(task, num_classes)`` from one forward pass: output with the input's shape →
    ``image-to-image``; a (1, N) output → ``classification`` with N classes."""
    import torch

    with torch.no_grad():
        out = module(example)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor):
        return "classification", None
    if out.dim() == example.dim() and tuple(out.shape[1:]) == tuple(example.shape[1:]):
        return "image-to-image", None
    if out.dim() == 2:
        return "classification", int(out.shape[1])
    return "classification", None


def input_spec_for(base: InputSpec, module: Any, spec: Any, *, shape: tuple[int, ...], shape_fixed: bool,
                   preprocessing: Preprocessing | None = None, class_names: tuple[str, ...] | None = None,
                   library: str | None = None, arch: str | None = None, probe: bool = False,
                   checkpoint: Any = None, sha256: str | None = None) -> InputSpec:
    """The final InputSpec: ``base`` at ``shape`` with the model's own ``preprocessing`` (found here
    when None), the user's ``spec.preprocess`` overrides and ``spec.labels`` applied.

    ``shape_fixed``: the file fixes the resolution (a torch.export program), so ``--crop`` must
    agree with it; otherwise ``--crop N`` without ``--input-shape`` sets the resolution to N×N.
    ``probe``: run the module once to find the task and class count (checkpoints without --arch).
    ``checkpoint`` / ``sha256``: the weights file, to pick the transforms it was published with."""
    override = getattr(spec, "preprocess", None)
    if override is not None and override.crop is not None and len(shape) == 4:
        want = (override.crop, override.crop)
        have = (shape[2], shape[3])
        if want != have:
            if shape_fixed or getattr(spec, "input_shape", None):
                raise LoadError(f"--crop {override.crop} but the model input is {fmt_shape(shape)}",
                                hint="make --crop match the input's height and width, or drop it")
            shape = (*shape[:2], *want)
    base = replace(base, shape=tuple(shape))
    if probe:
        task, n = output_facts(module, base.example(1))
        base = replace(base, task=task, num_classes=n if task == "classification" else None)
    if preprocessing is None:
        preprocessing = own_preprocessing(module, library, arch, base.shape, checkpoint, sha256)
    if len(base.shape) == 4:
        preprocessing = preprocessing.at_size(*base.image_size)
    preprocessing = with_overrides(preprocessing, override)
    out = base.with_preprocessing(preprocessing)
    labels_file = getattr(spec, "labels", None)
    if labels_file is not None:
        class_names = read_labels(labels_file)
    if class_names is not None:
        if out.num_classes is not None and len(class_names) != out.num_classes:
            what = f"--labels {labels_file}" if labels_file is not None else "the config's labels"
            raise LoadError(f"{what} names {len(class_names)} classes but the model has {out.num_classes} outputs",
                            hint="one class name per output, line i = class i")
        out = replace(out, class_names=tuple(class_names))
    return out


def with_user_input(spec: InputSpec, preprocess: Any = None, labels: Path | str | None = None) -> InputSpec:
    """``spec`` (an artifact's, from its manifest) with the user's pre-processing overrides and class
    names applied; ``--crop`` must equal the artifact's input size (it is fixed in the file)."""
    if preprocess is not None and not preprocess.empty and len(spec.shape) == 4:
        if preprocess.crop is not None and (preprocess.crop, preprocess.crop) != spec.image_size:
            raise LoadError(f"--crop {preprocess.crop} but the artifact's input is {fmt_shape(spec.shape)}",
                            hint="drop --crop: the artifact fixes its input size")
        spec = spec.with_preprocessing(with_overrides(spec.pipeline, preprocess))
    if labels is not None:
        names = read_labels(labels)
        if spec.num_classes is not None and len(names) != spec.num_classes:
            raise LoadError(f"--labels {labels} names {len(names)} classes but the model has {spec.num_classes} outputs",
                            hint="one class name per output, line i = class i")
        spec = replace(spec, class_names=names, num_classes=spec.num_classes or len(names))
    return spec
