"""A model's own pre-processing: resize → centre crop → [0, 1] → normalise, as a record.

The record comes from the model's own config where it has one — timm's ``pretrained_cfg``
(:func:`from_timm`), a Hugging Face image-processor config (:mod:`edgebench.models.huggingface`),
torchvision's weights transforms (:func:`from_torchvision`) — and the user's ``--mean``,
``--std``, ``--resize``, ``--crop``, ``--interpolation`` override it (:func:`with_overrides`).
It is recorded in the manifest (``preprocessing``) and accuracy / calibration apply exactly it,
through torchvision.transforms.v2 (:meth:`Preprocessing.transform`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from edgebench.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_CROP_PCT = 224 / 256  # torchvision's eval recipe: resize 256, crop 224
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
# PIL resample codes, as Hugging Face image-processor configs store them
_PIL_RESAMPLE = {0: "nearest", 1: "bicubic", 2: "bilinear", 3: "bicubic", 4: "bilinear", 5: "bicubic"}


@dataclass(frozen=True)
class Preprocessing:
    """Image → model input. Pixels are scaled to [0, 1], then ``(x - mean) / std`` per channel.

    ``resize``: the shorter side in pixels (aspect kept) before the crop, or (height, width) to
    resize to exactly (Hugging Face ``size: {height, width}``), or None to resize straight to ``crop``;
    ``crop``: (height, width) of the centre crop — equal to the model input's spatial size;
    ``interpolation``: nearest / bilinear / bicubic (antialiased); ``channel_order``: RGB, or BGR
    for models trained on flipped channels (MobileViT's Apple weights); ``source``: where the
    values came from (config file, library default, user flags).
    """

    crop: tuple[int, int] = (224, 224)
    resize: int | tuple[int, int] | None = 256
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"
    channel_order: str = "RGB"
    source: str = "ImageNet default (resize 256, crop 224)"

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(f"unknown interpolation {self.interpolation!r}", hint=f"one of {', '.join(INTERPOLATIONS)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what the manifest's ``preprocessing`` field holds)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocessing":
        d = {k: v for k, v in dict(d).items() if k in cls.__dataclass_fields__}
        for key in ("crop", "mean", "std", "resize"):
            if isinstance(d.get(key), list):
                d[key] = tuple(d[key])
        return cls(**d)

    def at_size(self, height: int, width: int) -> "Preprocessing":
        """The same recipe for a model input of ``height``×``width``: the crop becomes that size and
        the resize keeps its ratio to the crop (256/224 stays 256/224)."""
        if self.crop == (height, width):
            return self
        return replace(self, crop=(height, width), resize=_scaled(self.resize, self.crop, (height, width)))

    def transform(self) -> Any:
        """The torchvision.transforms.v2 pipeline: HxWxC uint8 array / PIL image / CxHxW tensor →
        normalised float32 CxHxW tensor of ``crop`` size."""
        import torch
        from torchvision.transforms import InterpolationMode, v2

        mode = InterpolationMode(self.interpolation)
        steps: list[Any] = [v2.ToImage()]
        if self.resize is not None:
            steps.append(v2.Resize(self.resize, interpolation=mode, antialias=True))
        else:
            steps.append(v2.Resize(self.crop, interpolation=mode, antialias=True))
        steps += [v2.CenterCrop(self.crop), v2.ToDtype(torch.float32, scale=True),
                  v2.Normalize(list(self.mean), list(self.std))]
        return v2.Compose(steps)

    def __call__(self, image: Any) -> Any:
        """HxW(x3|x4) uint8 (or float in [0, 1]) numpy image → normalised float32 1xCxHxW tensor.
        BGR models get their channels flipped after normalisation (as Hugging Face processors do)."""
        import numpy as np
        import torch

        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        arr = np.ascontiguousarray(arr[..., :3])
        if arr.dtype != np.uint8:  # float pixels: [0, 1] (or 0..255 floats), kept at full precision
            arr = arr.astype(np.float32)
            if arr.max() > 1.0:
                arr = arr / 255.0
        elif not arr.flags.writeable:  # PIL hands out read-only arrays; torch wants writable memory
            arr = arr.copy()
        t = torch.from_numpy(arr).permute(2, 0, 1)
        out = self.transform()(t)
        if self.channel_order == "BGR":
            out = out.flip(0)
        return out[None].contiguous()


def with_overrides(base: Preprocessing, override: Any) -> Preprocessing:
    """``base`` with the user's non-None fields of ``override`` (a :class:`edgebench.spec.PreprocessSpec`)
    applied; ``source`` says which flags changed it."""
    if override is None or override.empty:
        return base
    changes: dict[str, Any] = {}
    for key in ("mean", "std", "resize", "interpolation"):
        value = getattr(override, key)
        if value is not None:
            changes[key] = tuple(value) if key in ("mean", "std") else value
    if override.crop is not None:
        changes["crop"] = (override.crop, override.crop)
        if override.resize is None:  # keep the model's resize/crop ratio
            changes["resize"] = _scaled(base.resize, base.crop, changes["crop"])
    flags = ", ".join(f"--{k}" for k in ("mean", "std", "resize", "crop", "interpolation")
                      if getattr(override, k) is not None)
    return replace(base, **changes, source=f"{base.source}; overridden by {flags}")


def _scaled(resize: Any, old_crop: tuple[int, int], new_crop: tuple[int, int]) -> Any:
    if resize is None:
        return None
    if isinstance(resize, (tuple, list)):
        return (int(math.floor(resize[0] * new_crop[0] / old_crop[0] + 0.5)),
                int(math.floor(resize[1] * new_crop[1] / old_crop[1] + 0.5)))
    return int(math.floor(resize * min(new_crop) / min(old_crop) + 0.5))


def imagenet(height: int = 224, width: int | None = None, source: str | None = None) -> Preprocessing:
    """ImageNet mean/std, resize 256/224 of the crop, bilinear — at ``height``×``width``."""
    width = width or height
    p = Preprocessing().at_size(height, width)
    return replace(p, source=source or f"ImageNet default (resize {p.resize}, crop {height}x{width})")


def torchvision_weights(arch: str, checkpoint: Path | str | None = None,
                        sha256: str | None = None) -> tuple[Any, bool] | None:
    """torchvision's weights entry for ``arch`` and whether it was matched to ``checkpoint``: the
    entry whose published file is this checkpoint — same file name, or the sha256 prefix
    torchvision puts in its file names (``mobilenet_v2-b0353104.pth``: IMAGENET1K_V1) — else
    DEFAULT (``False``). None when torchvision has no weights for ``arch``."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(arch)
    except (ValueError, KeyError, AttributeError):
        return None
    if checkpoint is not None:
        name = Path(checkpoint).name
        for weights in enum:
            published = Path(weights.url).name
            prefix = Path(published).stem.rsplit("-", 1)[-1]
            if published == name or (sha256 and len(prefix) >= 8 and sha256.startswith(prefix)):
                return weights, True
    return enum.DEFAULT, False


def from_torchvision(arch: str, height: int = 224, width: int | None = None, *,
                     checkpoint: Path | str | None = None, sha256: str | None = None) -> Preprocessing | None:
    """The eval transforms of torchvision's ``arch`` weights (resize, crop, mean, std, interpolation,
    read from the weights enum — nothing downloaded), at ``height``×``width``: those of the weights
    ``checkpoint`` is (:func:`torchvision_weights`), else DEFAULT's (``source`` says it was
    assumed); None when torchvision has no weights for ``arch``."""
    found = torchvision_weights(arch, checkpoint, sha256)
    if found is None:
        return None
    weights, matched = found
    t = weights.transforms()
    crop = list(getattr(t, "crop_size", [224]))
    resize = list(getattr(t, "resize_size", [256]))
    source = f"torchvision {weights} transforms"
    if checkpoint is not None:
        source += (f" ({Path(checkpoint).name} is that published file)" if matched else
                   f" (assumed: {Path(checkpoint).name} is none of torchvision's published {arch} files; "
                   "pass --resize / --crop / --mean / --std if it was trained otherwise)")
    p = Preprocessing(crop=(crop[0], crop[-1]), resize=resize[0], mean=tuple(t.mean), std=tuple(t.std),
                      interpolation=t.interpolation.value, source=source)
    return p.at_size(height, width or height)


def from_timm(module: Any) -> Preprocessing | None:
    """timm's ``resolve_data_config`` for a timm model (mean, std, input size, crop_pct,
    interpolation); None for a module that is not a timm model or without timm installed."""
    if getattr(module, "pretrained_cfg", None) is None and getattr(module, "default_cfg", None) is None:
        return None
    try:
        from timm.data import resolve_data_config
    except ImportError:
        return None
    cfg = resolve_data_config({}, model=module)
    _, h, w = cfg["input_size"]
    crop_pct = cfg.get("crop_pct") or DEFAULT_CROP_PCT
    interpolation = cfg.get("interpolation") or "bilinear"
    if interpolation not in INTERPOLATIONS:
        interpolation = "bicubic" if interpolation == "random" else "bilinear"
    name = (getattr(module, "pretrained_cfg", None) or {}).get("architecture") or type(module).__name__
    return Preprocessing(crop=(h, w), resize=int(math.floor(min(h, w) / crop_pct)), mean=tuple(cfg["mean"]),
                         std=tuple(cfg["std"]), interpolation=interpolation,
                         source=f"timm pretrained_cfg of {name} (resolve_data_config)")


def pil_interpolation(code: Any) -> str:
    """A PIL resample code (as stored by Hugging Face image processors) → our interpolation name."""
    try:
        return _PIL_RESAMPLE.get(int(code), "bilinear")
    except (TypeError, ValueError):
        return "bilinear"
