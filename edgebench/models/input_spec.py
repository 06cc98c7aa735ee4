"""InputSpec: what a model eats — shape, dtype, layout, normalisation and task."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from edgebench.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing


@dataclass(frozen=True)
class InputSpec:
    """Batch-1 input description. ``mean``/``std`` apply to [0, 1] RGB pixels.

    ``preprocessing`` is the model's own image pipeline (resize, crop, mean/std, interpolation and
    where it came from); None means ImageNet's (resize 256/224 of the input, ``mean``/``std``).
    ``class_names`` are the output classes by index (from the model's config or ``--labels``).
    """

    shape: tuple[int, ...] = (1, 3, 224, 224)
    dtype: str = "float32"
    layout: str = "NCHW"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    task: str = "classification"  # or "image-to-image"
    num_classes: int | None = 1000
    preprocessing: Preprocessing | None = None
    class_names: tuple[str, ...] | None = None

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) for NCHW / NHWC inputs."""
        return (self.shape[2], self.shape[3]) if self.layout == "NCHW" else (self.shape[1], self.shape[2])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InputSpec":
        d = dict(d)
        for key in ("shape", "mean", "std", "class_names"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        if isinstance(d.get("preprocessing"), dict):
            d["preprocessing"] = Preprocessing.from_dict(d["preprocessing"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def with_preprocessing(self, p: Preprocessing) -> "InputSpec":
        """This spec with ``p`` as its pipeline (``mean``/``std`` follow it)."""
        return replace(self, preprocessing=p, mean=tuple(p.mean), std=tuple(p.std))

    @property
    def pipeline(self) -> Preprocessing | None:
        """The pre-processing at this spec's input size (ImageNet's when the model has none); None
        for an input that is not an image (not 4-D)."""
        if len(self.shape) != 4:
            return None
        h, w = self.image_size
        if self.preprocessing is not None:
            return self.preprocessing.at_size(h, w)
        return replace(Preprocessing(mean=tuple(self.mean), std=tuple(self.std)).at_size(h, w),
                       source="ImageNet resize/crop recipe (the model has no pre-processing config)")

    def example(self, batch: int = 1, seed: int = 0):
        """A deterministic random input tensor of this spec (normalised-image statistics)."""
        import torch

        g = torch.Generator().manual_seed(seed)
        shape = (batch, *self.shape[1:])
        return torch.randn(shape, generator=g)

    def preprocess(self, image):
        """HxWx3 uint8 (or float in [0,1]) numpy image → normalised float32 batch-1 tensor, with
        :attr:`pipeline` (torchvision.transforms.v2)."""
        pipeline = self.pipeline
        if pipeline is None:
            raise ValueError(f"input {self.shape} is not an image (N, C, H, W): images cannot feed it")
        t = pipeline(image)
        if self.layout == "NHWC":
            t = t.permute(0, 2, 3, 1)
        return t.contiguous()
