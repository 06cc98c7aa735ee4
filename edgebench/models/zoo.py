"""The model zoo: builders registered by name, each with its InputSpec. Weights are random
(nothing is downloaded); real weights come in through ``--checkpoint``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from edgebench.models.input_spec import InputSpec
from edgebench.registry import Registry


@dataclass(frozen=True)
class ZooEntry:
    """A named architecture: ``build(num_classes, **arch_kwargs)`` returns an eval-mode ``nn.Module``
    (``arch_kwargs`` go to the library's constructor, e.g. ``width_mult=0.5``)."""

    name: str
    build: Callable[..., "object"]
    input_spec: InputSpec
    description: str
    source: str  # torchvision | timm | edgebench
    published_macs: float | None = None  # at the InputSpec resolution (shared/reference/README.md)
    published_params: float | None = None
    extra: str | None = None  # the pip extra it needs, if any


zoo: Registry[ZooEntry] = Registry("model")


# the shape torchvision's ViT builders fix; ``--arch-kwargs num_layers=2`` (any of these keys)
# builds a ViT of that shape with the rest kept, e.g. a ViT-B/16-shaped model of reduced depth
VIT_SHAPES = {"vit_b_16": {"patch_size": 16, "num_layers": 12, "num_heads": 12, "hidden_dim": 768, "mlp_dim": 3072}}


def _tv(name: str, macs: float | None, params: float | None, desc: str) -> None:
    def build(num_classes: int, **arch_kwargs):
        import torch
        import torchvision

        shape = VIT_SHAPES.get(name)
        if shape is not None and set(arch_kwargs) & set(shape):
            # torchvision's vit_* builders fix these themselves (a second value is a TypeError):
            # build the VisionTransformer directly with the builder's values, overridden
            model = torchvision.models.VisionTransformer(num_classes=num_classes,
                                                         image_size=arch_kwargs.pop("image_size", 224),
                                                         **{**shape, **arch_kwargs})
        else:
            model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes, **arch_kwargs)
        head = getattr(getattr(model, "heads", None), "head", None)
        if head is not None and not head.weight.any():
            # torchvision zero-initialises ViT's head (for fine-tuning): all-zero logits would make
            # parity and int8 calibration meaningless, so draw it like the other classifiers' heads
            torch.nn.init.normal_(head.weight, std=0.01)
        return model

    zoo.add(name, ZooEntry(name, build, InputSpec(), desc, "torchvision", macs, params))


_tv("mobilenet_v3_small", 58.9e6, 2.54e6, "MobileNetV3-Small (ImageNet classifier) — the default")
_tv("mobilenet_v3_large", 218e6, 5.48e6, "MobileNetV3-Large")
_tv("mobilenet_v2", 300e6, 3.50e6, "MobileNetV2 1.0")
_tv("resnet18", 1.82e9, 11.69e6, "ResNet-18")
_tv("efficientnet_b0", 0.39e9, 5.29e6, "EfficientNet-B0")
_tv("vit_b_16", 17.6e9, 86.6e6, "ViT-B/16")


def _mobilevit_s(num_classes: int, **arch_kwargs):
    from edgebench.errors import LoadError

    try:
        import timm
    except ImportError:
        raise LoadError("mobilevit_s needs timm", hint="pip install 'edgebench[timm]'") from None
    return timm.create_model("mobilevit_s", pretrained=False, num_classes=num_classes, **arch_kwargs)


# timm's pretrained_cfg for mobilevit_s: no normalisation (mean 0, std 1), 256², crop_pct 0.9
zoo.add("mobilevit_s", ZooEntry("mobilevit_s", _mobilevit_s, InputSpec(shape=(1, 3, 256, 256), mean=(0.0, 0.0, 0.0),
                                                                       std=(1.0, 1.0, 1.0)),
                                "MobileViT-S (timm)", "timm", 2.0e9, 5.6e6, extra="timm"))


def _vit_denoiser(num_classes: int, **arch_kwargs):
    """ViT-B/16 encoder; its class token → LayerNorm → Linear(768 → 3·224·224) → an image."""
    import torch.nn as nn
    import torchvision

    from edgebench.errors import LoadError

    if arch_kwargs:
        raise LoadError(f"vit_denoiser takes no --arch-kwargs (got {', '.join(arch_kwargs)})")

    class ViTDenoiser(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            vit = torchvision.models.vit_b_16(weights=None)
            vit.heads = nn.Identity()  # keep the encoder and the class-token output (768)
            self.encoder = vit
            self.head = nn.Sequential(nn.LayerNorm(768), nn.Linear(768, 3 * 224 * 224),
                                      nn.Unflatten(1, (3, 224, 224)))

        def forward(self, x):
            return self.head(self.encoder(x))

    return ViTDenoiser()


zoo.add("vit_denoiser", ZooEntry(
    "vit_denoiser", _vit_denoiser,
    InputSpec(task="image-to-image", num_classes=None),
    "ViT-B/16 encoder → LayerNorm + Linear(768→3·224·224) → image (phone-photo denoiser)",
    "edgebench", None, None))


def entry(name: str, num_classes: int | None = None) -> ZooEntry:
    """The zoo entry ``name``, its InputSpec adjusted for ``num_classes``."""
    e = zoo.get(name)
    if num_classes is not None and e.input_spec.task == "classification":
        e = replace(e, input_spec=replace(e.input_spec, num_classes=num_classes))
    return e
