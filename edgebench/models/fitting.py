"""Fitting a state_dict to a zoo architecture: ``--arch-kwargs``, width multipliers, and a true
hint when shapes disagree.

A MobileNet trained at width 0.5 has every channel count halved, so its state_dict does not fit
``--arch mobilenet_v2`` built at width 1.0. Its first convolution says which width it was built
with: :func:`detect_width` tries the standard multipliers whose first-layer channel count matches
and keeps the one every tensor fits; :func:`mismatch_hint` names ``--arch-kwargs width_mult=…``
(or ``--num-classes`` only when the classifier head is what differs).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from edgebench.errors import ConfigError

# the widths MobileNet papers and torchvision / timm configs use
STANDARD_WIDTHS = (0.25, 0.35, 0.5, 0.75, 1.0, 1.3, 1.4, 1.5, 2.0)


def parse_arch_kwargs(text: str | None) -> tuple[tuple[str, Any], ...]:
    """``"width_mult=0.5,dropout=0.1"`` → ``(("dropout", 0.1), ("width_mult", 0.5))``; values are
    int, float, true/false/none or text. ConfigError for an item without ``=``."""
    if not text:
        return ()
    out: dict[str, Any] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--arch-kwargs item {item.strip()!r} is not key=value",
                              hint="e.g. --arch-kwargs width_mult=0.5")
        out[key.strip()] = _value(raw.strip())
    return tuple(sorted(out.items()))


def _value(raw: str) -> Any:
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


def _shapes_fit(module: Any, sd: dict[str, Any]) -> bool:
    own = module.state_dict()
    return set(own) == set(sd) and all(tuple(own[k].shape) == tuple(sd[k].shape) for k in own)


def first_weight(sd: dict[str, Any]) -> tuple[str, Any] | None:
    """The first ≥2-D weight of a state_dict (the stem convolution of a CNN)."""
    return next(((k, v) for k, v in sd.items() if k.endswith("weight") and v.dim() >= 2), None)


def head_key(module: Any) -> str | None:
    """The weight key of the model's last Linear / 1x1-conv layer (the classifier head)."""
    import torch

    last = None
    for name, sub in module.named_modules():
        if isinstance(sub, (torch.nn.Linear, torch.nn.Conv2d)) and getattr(sub, "weight", None) is not None:
            last = f"{name}.weight" if name else "weight"
    return last


def accepts(build: Callable[..., Any], key: str) -> bool:
    """True when the zoo builder passes ``key`` on to a constructor that takes it (tried on the
    builder's signature; torchvision builders take ``**kwargs``)."""
    try:
        params = inspect.signature(build).parameters
    except (TypeError, ValueError):
        return False
    return key in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def detect_width(build: Callable[..., Any], num_classes: int, sd: dict[str, Any],
                 given: dict[str, Any]) -> tuple[float, str] | None:
    """``(width_mult, note)`` when the state_dict fits the architecture only at another standard
    width multiplier (its stem convolution has fewer / more channels); None otherwise."""
    if "width_mult" in given:
        return None
    stem = first_weight(sd)
    if stem is None:
        return None
    key, tensor = stem
    for width in STANDARD_WIDTHS:
        if width == 1.0:
            continue
        try:
            module = build(num_classes, **{**given, "width_mult": width})
        except TypeError:  # the architecture has no width multiplier
            return None
        own = module.state_dict().get(key)
        if own is None or tuple(own.shape) != tuple(tensor.shape):
            continue
        if _shapes_fit(module, sd):
            return width, (f"width_mult={width} detected from {key} ({tensor.shape[0]} output channels); "
                           f"pass --arch-kwargs width_mult={width} to set it explicitly")
    return None


def mismatch_hint(module: Any, key: str, theirs: Any, ours: Any, arch: str, arch_kwargs: dict[str, Any]) -> str:
    """What to do when ``key`` is ``theirs``-shaped in the checkpoint but ``ours``-shaped in ``--arch``.

    Only the classifier head's rows mean a different ``--num-classes``; a stem / body tensor with
    a different channel count means a different width (``--arch-kwargs width_mult=…``)."""
    if key == head_key(module) or (key.endswith(".bias") and key[:-5] + ".weight" == head_key(module)):
        if tuple(theirs.shape[1:]) == tuple(ours.shape[1:]):
            return f"the checkpoint's head has {theirs.shape[0]} outputs: pass --num-classes {theirs.shape[0]}"
    if key.endswith("pos_embedding") and theirs.dim() == 3 and int(theirs.shape[1]) > 1:
        return (f"its position embedding has {theirs.shape[1]} tokens ({ours.shape[1]} here): another input "
                "resolution — pass --arch-kwargs image_size=<the size it was trained at>")
    if theirs.dim() == ours.dim() and theirs.dim() >= 1 and ours.shape[0]:
        ratio = theirs.shape[0] / ours.shape[0]
        current = float(arch_kwargs.get("width_mult", 1.0))
        guess = round(ratio * current, 3)
        return (f"its channel counts differ ({theirs.shape[0]} vs {ours.shape[0]}): a different width — "
                f"try --arch-kwargs width_mult={guess:g}, or check --arch (see `edgebench models`)")
    return "check --arch (see `edgebench models`)"


def detect_image_size(build: Callable[..., Any], num_classes: int, sd: dict[str, Any],
                      given: dict[str, Any]) -> tuple[int, str] | None:
    """``(image_size, note)`` for a ViT-style state_dict whose position embedding was trained at
    another resolution: (1, 1 + (S/p)², D) tokens with patch size p (the stem convolution's kernel)
    mean S×S inputs; None when the state_dict has no such embedding or it does not fit."""
    import math

    if "image_size" in given:
        return None
    key = next((k for k in sd if k.endswith("pos_embedding") and sd[k].dim() == 3), None)
    stem = first_weight(sd)
    if key is None or stem is None:
        return None
    patch = int(stem[1].shape[-1])
    side = math.isqrt(int(sd[key].shape[1]) - 1)
    if side * side != int(sd[key].shape[1]) - 1:
        return None
    size = side * patch
    try:
        module = build(num_classes, **{**given, "image_size": size})
    except TypeError:
        return None
    if not _shapes_fit(module, sd):
        return None
    return size, (f"image_size={size} detected from {key} ({side}x{side} patches of {patch}); "
                  f"pass --arch-kwargs image_size={size} to set it explicitly")


def detect_kwargs(build: Callable[..., Any], num_classes: int, sd: dict[str, Any],
                  given: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The builder kwargs a state_dict was trained with when they differ from ``given``: a width
    multiplier (MobileNets) or an image size (ViT position embeddings); None when neither fits."""
    width = detect_width(build, num_classes, sd, given)
    if width is not None:
        return {"width_mult": width[0]}, width[1]
    size = detect_image_size(build, num_classes, sd, given)
    if size is not None:
        return {"image_size": size[0]}, size[1]
    return None
