"""Hugging Face image models: a ``save_pretrained`` folder (config.json + model.safetensors
[+ preprocessor_config.json]) loaded with transformers from that folder only — never the hub.

- :func:`load_dir` builds ``AutoModelForImageClassification`` (``AutoModel`` when the config has no
  classification head) with ``local_files_only=True`` and ``HF_HUB_OFFLINE=1``, wraps it so that
  its output is the logits tensor (:class:`TensorOutput`: torch.export, ONNX and LiteRT need a
  tensor, not a ``ModelOutput``), and reads class names (``id2label``), resolution, mean/std and
  resize/crop from the config and the image-processor config.
- :func:`read_safetensors` reads a bare ``.safetensors`` state_dict with the safetensors library.
- :func:`tensor_module` wraps any module whose output is a ``ModelOutput`` / dict / tuple.

transformers is the ``hf`` extra, imported only here and only when such a folder is loaded.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgebench.errors import LoadError
from edgebench.models.preprocessing import Preprocessing, pil_interpolation

CONFIG = "config.json"
PROCESSOR_CONFIG = "preprocessor_config.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")
# output fields an image model's ModelOutput carries, in the order that means "the answer"
OUTPUT_FIELDS = ("logits", "reconstruction", "pooler_output", "last_hidden_state")


def is_model_dir(path: Path | str) -> bool:
    """True for a folder holding a Hugging Face ``config.json``."""
    return Path(path).is_dir() and (Path(path) / CONFIG).is_file()


def read_safetensors(path: Path | str) -> dict[str, Any]:
    """A ``.safetensors`` file as a state_dict of CPU tensors; LoadError for an unreadable file."""
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise LoadError(f"{Path(path).name} is a safetensors file and the safetensors library is not installed",
                        hint="pip install 'edgebench[hf]'") from None
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoadError(f"{Path(path).name} is not a readable safetensors file ({str(exc)[:120]})",
                        hint="re-save it with safetensors.torch.save_file or save_pretrained") from None


def register_output_types(program: Path | str) -> bool:
    """Import transformers when a torch.export archive's program returns its ``ModelOutput`` types
    (their pytree registration happens on import; without it the program cannot be loaded).
    True when it did; False when the archive does not need it or transformers is not installed."""
    import zipfile

    try:
        with zipfile.ZipFile(program) as zf:
            needs = any(n.endswith(".json") and b"transformers." in zf.read(n) for n in zf.namelist()
                        if "/models/" in n)
    except (zipfile.BadZipFile, OSError):
        return False
    if not needs:
        return False
    try:
        _transformers()
        import transformers.modeling_outputs  # noqa: F401 (registers the ModelOutput pytree nodes)
    except (ImportError, LoadError):
        return False
    return True


def config_facts(module: Any) -> dict[str, Any] | None:
    """``{shape, class_names}`` from a transformers model's ``config`` (a pickled / traced
    ``PreTrainedModel``); None for any other module."""
    config = getattr(module, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        inner = getattr(module, "model", None)  # our own TensorOutput wrapper
        config = getattr(inner, "config", None)
        if config is None or not hasattr(config, "to_dict"):
            return None
    size = _image_size(config)
    channels = int(getattr(config, "num_channels", 3) or 3)
    id2label = getattr(config, "id2label", None) or {}
    n = int(getattr(config, "num_labels", 0) or 0)
    names = tuple(str(id2label.get(i, id2label.get(str(i), i))) for i in range(n)) if n and id2label else None
    return {"shape": (1, channels, *size) if size else None, "class_names": names}


def _first_tensor(out: Any) -> Any:
    import torch

    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):  # transformers' ModelOutput is an OrderedDict
        for key in OUTPUT_FIELDS:
            if isinstance(out.get(key), torch.Tensor):
                return out[key]
        values = list(out.values())
    elif isinstance(out, (tuple, list)):
        values = list(out)
    else:
        values = [getattr(out, k, None) for k in OUTPUT_FIELDS]
    for value in values:
        if isinstance(value, torch.Tensor):
            return value
    raise LoadError(f"the model returns {type(out).__name__} with no tensor in it",
                    hint="export a module whose forward returns a tensor")


def _tensor_output_class() -> type:
    import torch

    class TensorOutput(torch.nn.Module):
        """``model(x)`` → the one tensor that answers: ``logits`` of a ModelOutput (else the first
        tensor field); ``pixel_values`` keyword for transformers models."""

        def __init__(self, model: Any, keyword: str | None = None) -> None:
            super().__init__()
            self.model = model
            self.keyword = keyword

        def forward(self, x):
            out = self.model(**{self.keyword: x}) if self.keyword else self.model(x)
            return _first_tensor(out)

    return TensorOutput


def tensor_module(module: Any, example: Any) -> tuple[Any, str | None]:
    """``(module, None)`` when ``module(example)`` is a tensor already; else a wrapper whose output is
    the logits (or first) tensor and a note saying which field it keeps."""
    import torch

    with torch.no_grad():
        out = module(example)
    if isinstance(out, torch.Tensor):
        return module, None
    field = next((k for k in OUTPUT_FIELDS if isinstance(out, dict) and isinstance(out.get(k), torch.Tensor)), None)
    wrapper = _tensor_output_class()(module)
    wrapper.training = False  # not .eval(): a torch.export module refuses train()/eval() calls
    return wrapper, f"the model returns {type(out).__name__}: exported output is its {field or 'first tensor'}"


def _offline() -> None:
    # never the hub: everything comes from the folder (also for transformers' own look-ups)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _transformers() -> Any:
    _offline()
    try:
        import transformers
    except ImportError:
        raise LoadError("a Hugging Face model folder needs transformers", hint="pip install 'edgebench[hf]'") from None
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # "Loading weights" bars are chatter (issue 12 item 10)
    return transformers


def _size(value: Any) -> dict[str, int]:
    """A processor ``size`` / ``crop_size`` (int, dict or SizeDict) as a dict of the set keys."""
    if value is None:
        return {}
    if isinstance(value, int):
        return {"height": value, "width": value}
    items = value.items() if isinstance(value, dict) else vars(value).items()
    return {k: int(v) for k, v in items if v is not None}


def _image_size(config: Any) -> tuple[int, int] | None:
    size = getattr(config, "image_size", None)
    if size is None:
        return None
    if isinstance(size, (list, tuple)):
        return int(size[0]), int(size[-1])
    return int(size), int(size)


def _default_processor(transformers: Any, model_type: str) -> Any:
    from transformers.models.auto import image_processing_auto

    names = image_processing_auto.IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type)
    if not names:
        return None
    if isinstance(names, dict):
        names = tuple(names.values())
    elif isinstance(names, str):
        names = (names,)
    for name in names:
        cls = getattr(transformers, name, None) if name else None
        if cls is not None:
            try:
                return cls()
            except Exception:  # noqa: BLE001 — a processor needing an optional backend: try the next
                continue
    return None


def preprocessing(folder: Path, config: Any) -> Preprocessing:
    """The folder's pre-processing: ``preprocessor_config.json`` when present (through
    transformers' AutoImageProcessor, so class defaults fill what the file leaves out), else the
    model type's default image processor at the config's ``image_size``."""
    transformers = _transformers()
    model_size = _image_size(config)
    if (folder / PROCESSOR_CONFIG).is_file():
        try:
            proc = transformers.AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError, TypeError, json.JSONDecodeError) as exc:
            raise LoadError(f"{folder / PROCESSOR_CONFIG} cannot be read ({str(exc).splitlines()[0][:120]})",
                            hint="fix or remove preprocessor_config.json") from None
        source = f"{PROCESSOR_CONFIG} ({type(proc).__name__})"
        at = None
    else:
        proc = _default_processor(transformers, getattr(config, "model_type", ""))
        if proc is None:
            h, w = model_size or (224, 224)
            from edgebench.models.preprocessing import imagenet

            return imagenet(h, w, source=f"ImageNet default at config image_size {h}x{w} (no {PROCESSOR_CONFIG})")
        source = f"{type(proc).__name__} defaults at config image_size (no {PROCESSOR_CONFIG})"
        at = model_size
    size, crop = _size(getattr(proc, "size", None)), _size(getattr(proc, "crop_size", None))
    do_resize = getattr(proc, "do_resize", True) is not False
    do_crop = bool(getattr(proc, "do_center_crop", False)) and bool(crop)
    crop_pct = getattr(proc, "crop_pct", None)
    if do_crop:
        out = (crop["height"], crop["width"])
    elif "height" in size:
        out = (size["height"], size["width"])
    elif "shortest_edge" in size:
        out = (size["shortest_edge"], size["shortest_edge"])
    else:
        out = model_size or (224, 224)
    resize: Any = None
    if do_resize:
        if "shortest_edge" in size:
            edge = size["shortest_edge"]
            resize = int(edge / crop_pct) if crop_pct and not do_crop else edge
        elif "height" in size:
            resize = (size["height"], size["width"])
    normalize = bool(getattr(proc, "do_normalize", False))
    mean = tuple(float(v) for v in getattr(proc, "image_mean", None) or (0.0, 0.0, 0.0)) if normalize else (0.0, 0.0, 0.0)
    std = tuple(float(v) for v in getattr(proc, "image_std", None) or (1.0, 1.0, 1.0)) if normalize else (1.0, 1.0, 1.0)
    p = Preprocessing(crop=out, resize=resize, mean=mean, std=std,
                      interpolation=pil_interpolation(getattr(proc, "resample", 2)),
                      channel_order="BGR" if getattr(proc, "do_flip_channel_order", False) else "RGB",
                      source=source)
    if at is not None:
        p = p.at_size(*at)
        if isinstance(p.resize, int) and p.resize < min(p.crop):
            # class defaults made for another resolution (MobileViT: resize 224, crop 256) would
            # crop beyond the image; at the config's own size, resize to the crop instead
            p = replace(p, resize=min(p.crop))
    return p


def load_dir(folder: Path | str, num_classes: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Load a ``save_pretrained`` folder. Returns ``(module, facts)``: an eval-mode module whose
    output is one tensor (1×num_labels logits for a classifier), and ``facts`` with ``shape``
    (1, C, H, W), ``class_names`` (by index, or None), ``num_classes``, ``preprocessing``,
    ``architecture``, ``weights`` (the weight file) and ``notes``. LoadError for anything missing."""
    folder = Path(folder)
    transformers = _transformers()
    weights = next((folder / f for f in WEIGHT_FILES if (folder / f).is_file()), None)
    if weights is None:
        raise LoadError(f"{folder} has a config.json but no model weights ({', '.join(WEIGHT_FILES[:2])})",
                        hint="save the model with save_pretrained(folder)")
    try:
        config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise LoadError(f"{folder / CONFIG} is not a transformers config this version knows "
                        f"({str(exc).splitlines()[0][:160]})",
                        hint="upgrade transformers, or export the model with torch.export") from None
    notes: list[str] = []
    kw = {"local_files_only": True}
    try:
        model = transformers.AutoModelForImageClassification.from_pretrained(str(folder), **kw)
        auto = "AutoModelForImageClassification"
    except ValueError:  # the config has no image-classification head: the bare model
        try:
            model = transformers.AutoModel.from_pretrained(str(folder), **kw)
        except (OSError, ValueError) as exc:
            raise LoadError(f"transformers cannot build {folder.name} ({str(exc).splitlines()[0][:160]})",
                            hint="check config.json's model_type / architectures") from None
        auto = "AutoModel"
        notes.append(f"{config.model_type} has no image-classification head: loaded with AutoModel")
    except OSError as exc:
        raise LoadError(f"transformers cannot read the weights in {folder.name} ({str(exc).splitlines()[0][:160]})",
                        hint="re-save the model with save_pretrained") from None
    model = model.eval()
    labels = None
    if auto == "AutoModelForImageClassification":
        n = int(getattr(config, "num_labels", 0) or 0)
        if num_classes is not None and num_classes != n:
            raise LoadError(f"--num-classes {num_classes} but {folder.name}/config.json has {n} labels",
                            hint=f"drop --num-classes (the config says {n})")
        id2label = getattr(config, "id2label", None) or {}
        labels = tuple(str(id2label.get(i, id2label.get(str(i), i))) for i in range(n)) if n else None
    pre = preprocessing(folder, config)
    channels = int(getattr(config, "num_channels", 3) or 3)
    shape = (1, channels, *pre.crop)
    module = _tensor_output_class()(model, keyword="pixel_values").eval()
    return module, {
        "shape": shape, "class_names": labels, "num_classes": len(labels) if labels else None,
        "preprocessing": pre, "architecture": (getattr(config, "architectures", None) or [type(model).__name__])[0],
        "auto_class": auto, "weights": weights, "notes": notes,
    }
