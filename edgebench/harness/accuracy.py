"""Accuracy on a folder of images, with the model's own preprocessing (its InputSpec).

A dataset directory is either

- **labelled**: one sub-folder per class. A folder name starting with an integer (``281``,
  ``281-tabby``) is that class index of the model's output; otherwise classes are numbered in
  sorted folder order (torchvision's ImageFolder convention, for models trained on such a folder).
  → accuracy, macro-F1 and the confusion matrix (scikit-learn metrics); predictions outside the
  dataset's classes count as wrong and fall into an ``other`` column;
- **unlabelled**: images directly in the folder → top-1 agreement with the fp32 eager model the
  artifact was exported from (rebuilt from the manifest's source).

The images are preprocessed here and handed to the runner as one ``.npy`` batch (``--inputs``), so
the same path works on a remote target; the runner's batch mode runs them through the runtime code
``edgebench run`` times and sends the outputs back (``--outputs``). The layout of the batch (NCHW
or NHWC) is decided by the runner's own rule (:func:`edgebench.runner.inputs.layout`) on the
model's input shape, and the batch stays float32: the runner quantises it for an int8 input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgebench import models
from edgebench.errors import ConfigError, LoadError
from edgebench.models.checkpoint import sha256_file
from edgebench.models.images import to_input
from edgebench.runner.inputs import layout
from edgebench.spec import ModelSpec

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff"}
OTHER = -1  # a prediction outside the dataset's classes


@dataclass(frozen=True)
class Dataset:
    """Image files, their class indices (None when unlabelled) and the class names by index."""

    root: Path
    images: tuple[Path, ...]
    labels: tuple[int, ...] | None
    classes: dict[int, str]


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def load_dataset(root: Path | str) -> Dataset:
    """Read a dataset folder (see the module docstring for the two layouts)."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"dataset {root} is not a directory", hint="--dataset DIR with one sub-folder per class")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and _images(p))
    if folders:
        numbered = [re.match(r"^(\d+)", f.name) for f in folders]
        if all(numbered):
            index = {f: int(m.group(1)) for f, m in zip(folders, numbered)}
        else:
            index = {f: i for i, f in enumerate(folders)}
        images, labels = [], []
        for f in folders:
            for img in _images(f):
                images.append(img)
                labels.append(index[f])
        return Dataset(root, tuple(images), tuple(labels), {index[f]: f.name for f in folders})
    images = _images(root)
    if not images:
        raise ConfigError(f"no images in {root}",
                          hint=f"put {', '.join(sorted(IMAGE_EXTENSIONS))} files in one sub-folder per class")
    return Dataset(root, tuple(images), None, {})


def read_image(path: Path) -> np.ndarray:
    """An image file as an HxWx3 uint8 RGB array."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ConfigError(f"cannot read image {path}: {exc}", hint="remove or replace the file") from None


def runner_layout(input_spec: Any) -> Any:
    """``input_spec`` with the layout the runner gives its shape (``edgebench.runner.inputs.layout``:
    NHWC when a 4-d shape has 1 or 3 channels last), so the images are laid out as the runtime
    that runs the artifact expects them, whatever the spec said."""
    shape = list(input_spec.shape)
    return replace(input_spec, layout=layout(shape)) if len(shape) == 4 else input_spec


def prepare_inputs(dataset: Dataset, input_spec: Any, out_npy: Path) -> Path:
    """Preprocess every image with ``input_spec``'s normalisation, resized to its shape, in its
    channel count (1 or 3) and laid out by the runner's rule (:func:`runner_layout`); save the
    (N, *shape[1:]) float32 batch."""
    spec = runner_layout(input_spec)
    rows = [to_input(spec, read_image(p)).numpy()[0] for p in dataset.images]
    np.save(out_npy, np.stack(rows).astype(np.float32))
    return out_npy


def score(outputs: np.ndarray, labels: Sequence[int], classes: dict[int, str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over the dataset's classes and the confusion matrix (rows: true class,
    columns: the dataset's classes then ``other``)."""
    from sklearn.metrics import confusion_matrix, f1_score

    y_true = np.asarray(labels)
    pred = np.argmax(outputs.reshape(len(y_true), -1), axis=1)
    known = sorted(classes)
    y_pred = np.where(np.isin(pred, known), pred, OTHER)
    cols = known + [OTHER]
    cm = confusion_matrix(y_true, y_pred, labels=cols)
    return {
        "kind": "labelled", "n": int(y_true.size),
        "accuracy": float(np.mean(y_true == y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=known, average="macro", zero_division=0)),
        "confusion_matrix": cm[: len(known)].tolist(),
        "matrix_labels": [classes[k] for k in known] + ["other"],
        "class_index": {classes[k]: k for k in known},
    }


def agreement(outputs: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Top-1 agreement of the artifact's outputs with reference outputs (same inputs)."""
    n = len(reference)
    a = np.argmax(outputs.reshape(n, -1), axis=1)
    b = np.argmax(reference.reshape(n, -1), axis=1)
    return {"kind": "agreement", "reference": "fp32 eager", "n": int(n), "top1_agreement": float(np.mean(a == b))}


def eager_outputs(manifest: dict[str, Any] | None, inputs: np.ndarray) -> np.ndarray:
    """Outputs of the fp32 eager model an artifact was exported from (rebuilt from its manifest) on
    ``inputs`` (N, *shape[1:]) as :func:`prepare_inputs` laid them out (NHWC rows are turned
    to the NCHW a PyTorch module takes)."""
    import torch

    source = (manifest or {}).get("source") or {}
    if not source:
        raise ConfigError("top-1 agreement needs the fp32 eager model, and this artifact has no edgebench "
                          "manifest saying where it came from",
                          hint="use a labelled dataset (one sub-folder per class)")
    spec_dict = (manifest or {}).get("input_spec") or {}
    num_classes = spec_dict.get("num_classes")
    if source.get("kind") == "zoo":
        # zoo builds are reproducible (fixed seed + photo BatchNorm statistics, recorded as "seed");
        # an artifact from before that has unseeded random weights: nothing to agree with
        if source.get("seed") is None:
            raise ConfigError("the artifact was exported from unseeded random zoo weights, so there is no fp32 "
                              "eager model to agree with",
                              hint="re-export it, export from --checkpoint, or use a labelled dataset")
        spec = ModelSpec(name=source.get("name"), num_classes=num_classes)
    else:
        path = source.get("path")
        if not path or not Path(path).exists():
            raise LoadError(f"the checkpoint the artifact came from ({path}) is not here",
                            hint="run from the machine that exported it, or use a labelled dataset")
        if source.get("sha256") and sha256_file(Path(path)) != source["sha256"]:
            raise LoadError(f"checkpoint {path} changed since the export (sha256 differs)",
                            hint="re-export, or use a labelled dataset")
        spec = ModelSpec(name=None, checkpoint=Path(path), arch=source.get("arch"), num_classes=num_classes)
    module = models.load(spec).module
    if inputs.ndim == 4 and layout([1, *inputs.shape[1:]]) == "NHWC":
        inputs = np.ascontiguousarray(inputs.transpose(0, 3, 1, 2))
    with torch.inference_mode():
        return np.stack([module(torch.from_numpy(row[None])).numpy()[0] for row in inputs])
