"""Model sources: the zoo and checkpoints, loaded into an eval-mode module with its InputSpec."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from edgebench.errors import LoadError
from edgebench.models.input_spec import InputSpec
from edgebench.models.zoo import ZooEntry, entry, zoo
from edgebench.spec import ModelSpec

__all__ = ["InputSpec", "LoadedModel", "as_eval", "ZooEntry", "load", "zoo", "entry"]


@dataclass
class LoadedModel:
    """An eval-mode module, what it eats, and where it came from (for the manifest)."""

    module: Any
    input_spec: InputSpec
    label: str
    source: dict[str, Any]


def load(spec: ModelSpec) -> LoadedModel:
    """Build a zoo model or load a checkpoint. Errors are LoadError (stage ``load``)."""
    from edgebench.models.checkpoint import load_checkpoint, sha256_file

    if spec.num_classes is not None and spec.num_classes < 1:
        raise LoadError(f"--num-classes {spec.num_classes} must be at least 1")
    if spec.checkpoint is not None:
        module, kind = load_checkpoint(spec.checkpoint, spec.arch, spec.num_classes, spec.trust_checkpoint)
        if spec.arch:
            input_spec = entry(spec.arch, spec.num_classes).input_spec
        else:
            input_spec = InputSpec(num_classes=spec.num_classes)
        source = {"kind": kind, "path": str(spec.checkpoint), "sha256": sha256_file(spec.checkpoint),
                  "arch": spec.arch}
    else:
        e = entry(spec.name or "mobilenet_v3_small", spec.num_classes)
        module = e.build(e.input_spec.num_classes or 1000)
        input_spec = e.input_spec
        source = {"kind": "zoo", "name": e.name, "library": e.source, "weights": "random-init"}
    if spec.input_shape:
        input_spec = replace(input_spec, shape=tuple(spec.input_shape))
    return LoadedModel(as_eval(module), input_spec, spec.label, source)


def as_eval(module: Any) -> Any:
    """``module.eval()``, except for torch.export modules, which are frozen in the mode they were
    exported in and refuse ``eval()``."""
    try:
        return module.eval()
    except NotImplementedError:
        return module
