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
        module, weights = build_zoo_model(e)
        input_spec = e.input_spec
        source = {"kind": "zoo", "name": e.name, "library": e.source, "weights": weights, "seed": ZOO_SEED}
    if spec.input_shape:
        input_spec = replace(input_spec, shape=tuple(spec.input_shape))
    return LoadedModel(as_eval(module), input_spec, spec.label, source)


ZOO_SEED = 0
BN_INIT_IMAGES = 8


def build_zoo_model(e: ZooEntry) -> tuple[Any, str]:
    """Build a zoo model reproducibly: the same random weights in every process (seed 0), and
    BatchNorm statistics taken from real photos.

    Random-initialised MobileNets / EfficientNets leave BatchNorm at mean 0 / var 1, so activations
    shrink layer after layer (torchvision's MobileNetV3-Small gives logits of ~1e-9): int8
    calibration, parity and even fp32 timing (denormals) stop meaning anything. One forward pass
    in BatchNorm-train mode over a few scikit-image photos sets each BatchNorm's statistics to what
    it really sees, so activations keep a realistic scale. Returns (module, how the weights were made).
    """
    import torch

    from edgebench.models.images import photo_inputs

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ZOO_SEED)
        module = e.build(e.input_spec.num_classes or 1000)
    module = as_eval(module)
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    photos = photo_inputs(e.input_spec, BN_INIT_IMAGES) if norms else []
    if not photos:
        return module, f"random-init (seed {ZOO_SEED})"
    # eval-mode forward with a pre-hook per BatchNorm that sets its statistics from its own input:
    # what a train-mode pass would store, at eval-mode speed (train-mode BN is ~20× slower on CPU)
    def set_stats(bn, args):
        x = args[0]
        dims = [d for d in range(x.dim()) if d != 1]
        bn.running_mean.copy_(x.mean(dims))
        bn.running_var.copy_(x.var(dims, unbiased=False))

    hooks = [bn.register_forward_pre_hook(set_stats) for bn in norms]
    try:
        with torch.no_grad():
            module(torch.cat(photos))
    finally:
        for h in hooks:
            h.remove()
    return module, (f"random-init (seed {ZOO_SEED}), BatchNorm statistics from {len(photos)} "
                    "scikit-image photos")


def as_eval(module: Any) -> Any:
    """``module.eval()``, except for torch.export modules, which are frozen in the mode they were
    exported in and refuse ``eval()``."""
    try:
        return module.eval()
    except NotImplementedError:
        return module
