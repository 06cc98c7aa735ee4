"""Accuracy on a folder of images, with the model's own preprocessing (its InputSpec).

A dataset directory is either

- **labelled**: one sub-folder per class, mapped to the model's class indices by class name or
  index-named folder (``281``, ``281-tabby``), never renumbered silently
  (:mod:`edgebench.harness.labels`).
  → accuracy, macro-F1 and the confusion matrix (scikit-learn metrics); predictions outside the
  dataset's classes count as wrong and fall into an ``other`` column;
- **unlabelled**: images directly in the folder → top-1 agreement with the fp32 eager model the
  artifact was exported from: the eager outputs the export stored for its own inputs where the
  images are those inputs, else the model rebuilt from the manifest's source (a checkpoint by
  absolute path + sha256); PSNR / SSIM for an image-to-image model;
- **pairs** (image-to-image models): ``noisy/`` + ``clean/`` → PSNR / SSIM against the clean images
  (:mod:`edgebench.harness.image_pairs`).

The images are preprocessed here and handed to the runner as one ``.npy`` batch (``--inputs``), so
the same path works on a remote target; the runner's batch mode runs them through the runtime code
``edgebench run`` times and sends the outputs back (``--outputs``). The layout of the batch (NCHW
or NHWC) is decided by the runner's own rule (:func:`edgebench.runner.inputs.layout`) on the
model's input shape, and the batch stays float32: the runner quantises it for an int8 input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgebench import models
from edgebench.errors import ConfigError, LoadError
from edgebench.exporters import reference as eager_reference
from edgebench.harness import image_pairs
from edgebench.harness import labels as class_labels
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
    # labelled | flat | pairs (noisy/ + clean/, image-to-image); the folder → class rule used;
    # the clean targets of a pairs dataset; the InputSpec it was read for
    kind: str = "labelled"
    mapping: str | None = None
    targets: tuple[Path, ...] | None = None
    input_spec: Any = None


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def load_dataset(root: Path | str, input_spec: Any = None) -> Dataset:
    """Read a dataset folder (see the module docstring for the layouts). Class folders map to the
    model's class indices by name / index (:mod:`edgebench.harness.labels`, using ``input_spec``'s
    class names and count); an image-to-image ``input_spec`` takes ``noisy/`` + ``clean/`` pairs."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"dataset {root} is not a directory", hint="--dataset DIR with one sub-folder per class")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and _images(p))
    if getattr(input_spec, "task", None) == "image-to-image":
        pairs = image_pairs.find_pairs(root, _images)
        if pairs is not None:
            return Dataset(root, tuple(pairs[0]), None, {}, kind="pairs", targets=tuple(pairs[1]),
                           input_spec=input_spec)
        if folders:
            raise ConfigError(f"{root} has class folders but the model is image-to-image (its output is an image)",
                              hint=f"use {image_pairs.INPUT_DIR}/ + {image_pairs.TARGET_DIR}/ pairs, or a flat "
                                   "folder (compared with eager by PSNR / SSIM)")
    if folders:
        cmap = class_labels.map_folders([f.name for f in folders], getattr(input_spec, "class_names", None),
                                        getattr(input_spec, "num_classes", None))
        index = {f: cmap.index[f.name] for f in folders}
        images, labels = [], []
        for f in folders:
            for img in _images(f):
                images.append(img)
                labels.append(index[f])
        return Dataset(root, tuple(images), tuple(labels), {index[f]: cmap.names[index[f]] for f in folders},
                       mapping=cmap.how, input_spec=input_spec)
    images = _images(root)
    if not images:
        raise ConfigError(f"no images in {root}",
                          hint=f"put {', '.join(sorted(IMAGE_EXTENSIONS))} files in one sub-folder per class")
    return Dataset(root, tuple(images), None, {}, kind="flat", input_spec=input_spec)


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
    recall = {classes[k]: float(np.mean(y_pred[y_true == k] == k)) for k in known if np.any(y_true == k)}
    return {
        "per_class_recall": recall,
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


def _rebuild(source: dict[str, Any], spec_dict: dict[str, Any]) -> dict[str, Any]:
    """The ModelSpec fields that rebuild the exported model as it was: builder kwargs, input shape."""
    from edgebench.spec import arch_kwargs_tuple

    out: dict[str, Any] = {}
    if source.get("arch_kwargs"):
        out["arch_kwargs"] = arch_kwargs_tuple(source["arch_kwargs"])
    if spec_dict.get("shape"):
        out["input_shape"] = tuple(spec_dict["shape"])
    return out


def _checkpoint(source: dict[str, Any]) -> Path:
    """The checkpoint the artifact came from, found by the manifest's absolute path and checked
    against its sha256. LoadError (one line) when it moved or changed."""
    path = source.get("path")
    if not path or not Path(path).exists():
        raise LoadError(f"the checkpoint the artifact came from ({path}) is not there any more",
                        hint="put it back at that path, use the images the export stored a reference for "
                             "(its calibration folder), or use a labelled dataset")
    path = Path(path)
    hashed = path / source["weights"] if path.is_dir() and source.get("weights") else path
    if source.get("sha256") and sha256_file(hashed) != source["sha256"]:
        raise LoadError(f"checkpoint {path} changed since the export (sha256 differs): its outputs are not the "
                        "artifact's reference", hint="re-export from it, or use a labelled dataset")
    return path


def _rebuilt_outputs(manifest: dict[str, Any] | None, inputs: np.ndarray) -> np.ndarray:
    """Outputs of the fp32 eager model rebuilt from the manifest's source on NCHW ``inputs``."""
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
        spec = ModelSpec(name=source.get("name"), num_classes=num_classes, **_rebuild(source, spec_dict))
    else:
        spec = ModelSpec(name=None, checkpoint=_checkpoint(source),
                         arch=source.get("arch") if source.get("kind") == "state_dict" else None,
                         num_classes=num_classes, **_rebuild(source, spec_dict))
    module = models.load(spec).module
    with torch.inference_mode():
        return np.stack([module(torch.from_numpy(np.ascontiguousarray(row[None]))).numpy()[0] for row in inputs])


def eager_outputs(manifest: dict[str, Any] | None, inputs: np.ndarray,
                  artifact: Path | str | None = None) -> np.ndarray:
    """Outputs of the fp32 eager model an artifact was exported from on ``inputs`` (N, *shape[1:])
    as :func:`prepare_inputs` laid them out (NHWC rows are turned to the NCHW a PyTorch module
    takes).

    Rows that are inputs the export stored a reference for (``<model>.reference-*.npz`` beside
    ``artifact``, :mod:`edgebench.exporters.reference`) take the stored outputs: no checkpoint
    needed. The other rows need the model: the zoo rebuilds it; a checkpoint is found by the
    manifest's absolute path and must still have its sha256 (LoadError naming it otherwise)."""
    if inputs.ndim == 4 and layout([1, *inputs.shape[1:]]) == "NHWC":
        inputs = np.ascontiguousarray(inputs.transpose(0, 3, 1, 2))
    stored = eager_reference.load(artifact, manifest) if artifact is not None else None
    found = eager_reference.match(inputs, stored[0]) if stored is not None else [None] * len(inputs)
    missing = [i for i, j in enumerate(found) if j is None]
    if not missing:
        return np.stack([stored[1][j] for j in found])
    try:
        rebuilt = _rebuilt_outputs(manifest, inputs[missing])
    except (LoadError, ConfigError) as err:
        if stored is not None and len(missing) < len(inputs):
            err.message += (f" ({len(inputs) - len(missing)} of the {len(inputs)} images are inputs the export "
                            "stored eager outputs for; the other images need the model)")
        raise
    if stored is None or len(missing) == len(inputs):
        return rebuilt
    out = np.empty((len(inputs), *rebuilt.shape[1:]), dtype=np.float32)
    out[missing] = rebuilt
    for i, j in enumerate(found):
        if j is not None:
            out[i] = stored[1][j].reshape(rebuilt.shape[1:])
    return out


def evaluate(outputs: np.ndarray, dataset: Dataset, reference: np.ndarray | None = None) -> dict[str, Any]:
    """The dataset's metrics, by task: pairs → PSNR / SSIM against the clean images; flat → agreement
    with eager (top-1 for a classifier, PSNR / SSIM for an image-to-image model); labelled →
    accuracy, macro-F1, per-class recall and the confusion matrix with the model's class names."""
    image = getattr(dataset.input_spec, "task", None) == "image-to-image"
    if dataset.kind == "pairs":
        return image_pairs.score_pairs(outputs, list(dataset.targets or ()), dataset.input_spec, read_image)
    if reference is not None:
        return image_pairs.score_vs_eager(outputs, reference) if image else agreement(outputs, reference)
    result = score(outputs, dataset.labels or (), dataset.classes)
    result["class_mapping"] = dataset.mapping
    return result
