"""Calibration inputs for static int8: a folder of images, real scikit-image photos, or InputSpec samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebench.errors import ConfigError
from edgebench.models.images import channels, is_imagenet_rgb, photo_inputs, to_input

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")

def _read_image(path: Path) -> Any:
    import numpy as np

    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # scikit-image is a core dependency; Pillow usually comes with it
        from skimage import io

        try:
            return io.imread(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"calibration image {path} cannot be read: {exc}",
                              hint="remove it or convert it to PNG/JPEG") from None
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise ConfigError(f"calibration image {path} cannot be read: {exc}",
                          hint="remove it or convert it to PNG/JPEG") from None


def image_files(directory: Path) -> list[Path]:
    """Every jpg/png/bmp under ``directory`` (recursive, sorted). ConfigError names a missing,
    non-directory or image-less folder."""
    directory = Path(directory)
    if not directory.exists():
        raise ConfigError(f"calibration folder {directory} does not exist",
                          hint="pass a folder of .jpg/.png/.bmp images, or --calibration-samples N")
    if not directory.is_dir():
        raise ConfigError(f"calibration folder {directory} is not a directory",
                          hint="pass a folder of .jpg/.png/.bmp images")
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"calibration folder {directory} holds no .jpg/.png/.bmp images",
                          hint="add images, or drop --calibration to use built-in samples")
    return files


def _from_folder(input_spec: Any, directory: Path, n: int, seed: int) -> list[Any]:
    import numpy as np

    if channels(input_spec) not in (1, 3):
        raise ConfigError(f"calibration images cannot feed a {channels(input_spec)}-channel input",
                          hint="use --calibration-samples N instead of --calibration")
    files = image_files(directory)
    if len(files) > n:
        rng = np.random.default_rng(seed)
        files = [files[i] for i in sorted(rng.choice(len(files), size=n, replace=False))]
    return [to_input(input_spec, _read_image(p)) for p in files]


def calibration_inputs(input_spec: Any, directory: Path | str | None = None, n: int = 32,
                       seed: int = 0) -> list[Any]:
    """Up to ``n`` batch-1 calibration tensors for a model with ``input_spec``.

    - ``directory``: the images in it (recursive; jpg/png/bmp), preprocessed the model's way;
      more than ``n`` → a seeded random subset. A missing, empty or unreadable folder →
      ConfigError naming it.
    - no directory, ImageNet-normalised 3-channel model: real photos bundled with
      scikit-image (cat, coffee, astronaut, rocket …), plus seeded random crops/flips of them
      to reach ``n``.
    - anything else: ``n`` seeded samples drawn from the InputSpec.
    """
    if n < 1:
        raise ConfigError(f"calibration sample count {n} must be at least 1", hint="e.g. 32")
    if directory is not None:
        return _from_folder(input_spec, Path(directory), n, seed)
    if is_imagenet_rgb(input_spec):
        photos = photo_inputs(input_spec, n, seed)
        if photos:
            return photos
    return [input_spec.example(1, seed=seed + i) for i in range(n)]


def calibration_source(input_spec: Any, directory: Path | str | None = None) -> str:
    """What :func:`calibration_inputs` draws from, in words, for the manifest."""
    if directory is not None:
        return f"images in {directory}"
    if is_imagenet_rgb(input_spec):
        return "scikit-image sample photos with random crops/flips"
    return "random samples drawn from the InputSpec"
