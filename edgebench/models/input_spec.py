"""InputSpec: what a model eats — shape, dtype, layout, normalisation and task."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputSpec:
    """Batch-1 input description. ``mean``/``std`` apply to [0, 1] RGB pixels."""

    shape: tuple[int, ...] = (1, 3, 224, 224)
    dtype: str = "float32"
    layout: str = "NCHW"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    task: str = "classification"  # or "image-to-image"
    num_classes: int | None = 1000

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) for NCHW / NHWC inputs."""
        return (self.shape[2], self.shape[3]) if self.layout == "NCHW" else (self.shape[1], self.shape[2])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InputSpec":
        d = dict(d)
        for key in ("shape", "mean", "std"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)

    def example(self, batch: int = 1, seed: int = 0):
        """A deterministic random input tensor of this spec (normalised-image statistics)."""
        import torch

        g = torch.Generator().manual_seed(seed)
        shape = (batch, *self.shape[1:])
        return torch.randn(shape, generator=g)

    def preprocess(self, image):
        """HxWx3 uint8 (or float in [0,1]) numpy image → normalised float32 batch-1 tensor."""
        import numpy as np
        import torch
        import torch.nn.functional as F

        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        arr = arr[..., :3].astype(np.float32)
        if arr.max() > 1.0:
            arr = arr / 255.0
        t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None]
        h, w = self.image_size
        # resize the short side to 256/224 of the target, then centre-crop (torchvision's eval recipe)
        scale = (h * 256 / 224) / min(t.shape[2], t.shape[3])
        size = (max(h, round(t.shape[2] * scale)), max(w, round(t.shape[3] * scale)))
        t = F.interpolate(t, size=size, mode="bilinear", antialias=True, align_corners=False)
        top, left = (t.shape[2] - h) // 2, (t.shape[3] - w) // 2
        t = t[:, :, top:top + h, left:left + w]
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        t = (t - mean) / std
        if self.layout == "NHWC":
            t = t.permute(0, 2, 3, 1)
        return t.contiguous()
