"""Model sources: the zoo and checkpoints, loaded into an eval-mode module with its InputSpec."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edgebench.errors import LoadError
from edgebench.models import huggingface
from edgebench.models.checkpoint import load_checkpoint, sha256_file
from edgebench.models.describe import input_spec_for
from edgebench.models.input_spec import InputSpec
from edgebench.models.resolution import resolve_shape
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
    """Build a zoo model or load a checkpoint (a file, or a Hugging Face ``save_pretrained`` folder).

    The InputSpec's shape comes from the checkpoint itself, ``--input-shape`` or the ``--arch``
    default (``source["input_shape_from"]`` says which — never a silent 224²); its pre-processing
    from the model's own config with the user's overrides; its class names from the config or
    ``--labels``. ``source["path"]`` is the checkpoint's absolute path (with its ``sha256``), so the
    manifest finds it again from any directory. Errors are LoadError (stage ``load``)."""
    if spec.num_classes is not None and spec.num_classes < 1:
        raise LoadError(f"--num-classes {spec.num_classes} must be at least 1")
    kwargs = dict(spec.arch_kwargs)
    user_shape = tuple(spec.input_shape) if spec.input_shape else None
    notes: list[str] = []
    if spec.checkpoint is not None and huggingface.is_model_dir(spec.checkpoint):
        module, facts = huggingface.load_dir(spec.checkpoint, spec.num_classes)
        notes += facts["notes"]
        shape = user_shape or facts["shape"]
        base = InputSpec(shape=shape, num_classes=facts["num_classes"])
        input_spec = input_spec_for(base, module, spec, shape=shape, shape_fixed=False,
                                    preprocessing=facts["preprocessing"], class_names=facts["class_names"],
                                    probe=facts["num_classes"] is None)
        source = {"kind": "huggingface", "path": str(Path(spec.checkpoint).resolve()), "weights": facts["weights"].name,
                  "sha256": sha256_file(facts["weights"]), "arch": facts["architecture"],
                  "loader": f"transformers {facts['auto_class']}",
                  "input_shape_from": "--input-shape" if user_shape else "config / preprocessor_config.json"}
    elif spec.checkpoint is not None:
        module, kind = load_checkpoint(spec.checkpoint, spec.arch, spec.num_classes, spec.trust_checkpoint,
                                       arch_kwargs=kwargs, notes=notes)
        if kind in ("pt2", "jit") and (spec.arch or kwargs):
            # a program carries its own graph: there is no builder for --arch / --arch-kwargs to reach,
            # and labelling the program with them would describe a model that was never built
            given = " and ".join(f for f, on in (("--arch", spec.arch), ("--arch-kwargs", kwargs)) if on)
            raise LoadError(f"{Path(spec.checkpoint).name} is a {'torch.export' if kind == 'pt2' else 'TorchScript'} "
                            f"program: {given} cannot change it",
                            hint=f"drop {given} (the program is the model), or export from a state_dict with --arch")
        e = entry(spec.arch, spec.num_classes) if spec.arch else None
        default = _zoo_shape(e, kwargs) if e is not None else None
        shape, shape_from = resolve_shape(module, kind, Path(spec.checkpoint).name, user_shape, default)
        if e is None:
            module, note = huggingface.tensor_module(as_eval(module), InputSpec(shape=shape).example(1))
            if note:
                notes.append(note)
        base = e.input_spec if e is not None else InputSpec(num_classes=spec.num_classes)
        hf = huggingface.config_facts(module) if e is None else None  # a pickled transformers model
        digest = sha256_file(spec.checkpoint)
        input_spec = input_spec_for(base, module, spec, shape=shape, shape_fixed=kind == "pt2" and not user_shape,
                                    library=e.source if e else None, arch=spec.arch, probe=e is None,
                                    class_names=(hf or {}).get("class_names"), checkpoint=spec.checkpoint,
                                    sha256=digest)
        source = {"kind": kind, "path": str(Path(spec.checkpoint).resolve()), "sha256": digest,
                  "arch": spec.arch, "input_shape_from": shape_from}
    else:
        e = entry(spec.name or "mobilenet_v3_small", spec.num_classes)
        module, weights = build_zoo_model(e, kwargs)
        shape = user_shape or _zoo_shape(e, kwargs)
        input_spec = input_spec_for(e.input_spec, module, spec, shape=shape, shape_fixed=False,
                                    library=e.source, arch=e.name)
        source = {"kind": "zoo", "name": e.name, "library": e.source, "weights": weights, "seed": ZOO_SEED}
    if kwargs:
        source["arch_kwargs"] = kwargs
    if notes:
        source["notes"] = notes
    return LoadedModel(as_eval(module), input_spec, spec.label, source)


def _zoo_shape(e: ZooEntry, arch_kwargs: dict[str, Any]) -> tuple[int, ...]:
    """The zoo entry's input shape, at ``image_size`` when the builder is given one (ViT)."""
    shape = tuple(e.input_spec.shape)
    size = arch_kwargs.get("image_size")
    if isinstance(size, int) and len(shape) == 4:
        return (*shape[:2], size, size)
    return shape


ZOO_SEED = 0
BN_INIT_IMAGES = 8


def build_zoo_model(e: ZooEntry, arch_kwargs: dict[str, Any] | None = None) -> tuple[Any, str]:
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
        try:
            module = e.build(e.input_spec.num_classes or 1000, **(arch_kwargs or {}))
        except TypeError as exc:
            raise LoadError(f"{e.name} does not take --arch-kwargs {', '.join(arch_kwargs or {})} ({exc})",
                            hint="pass only keyword arguments its builder knows") from None
    module = as_eval(module)
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    photos = photo_inputs(replace(e.input_spec, shape=_zoo_shape(e, arch_kwargs or {})), BN_INIT_IMAGES) if norms else []
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
