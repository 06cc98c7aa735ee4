#!/usr/bin/env python3
"""Copy an edgebench-exported .tflite (with its manifest) into the app's assets for the demo screen.

Writes into ASSETS: the model file, ``labels.txt`` (one label per class index), ``model.json``
(model and labels file names, the preprocessing from the manifest's input_spec, where the weights
came from) and ``sample.jpg`` (scikit-image's bundled "chelsea" cat photo). Called by
bundle_model.sh after ``edgebench export``; usable on its own:

    python android_app/scripts/bundle_assets.py ARTIFACT.tflite [--assets DIR]

ImageNet-1k class names come from torchvision's weight metadata, which ships inside torchvision
(nothing is downloaded).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

DEFAULT_ASSETS = Path(__file__).resolve().parents[1] / "app" / "src" / "main" / "assets"
IMAGENET_CLASSES = 1000


class BundleError(Exception):
    """Why the artifact cannot be bundled (printed as one line, exit 2)."""


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names in torchvision's class-index order."""
    import torchvision

    return list(torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1.meta["categories"])


def labels_for(num_classes: int | None) -> list[str]:
    """Labels for a classifier with ``num_classes`` outputs (ImageNet names for 1000)."""
    if not num_classes or num_classes < 1:
        raise BundleError("the manifest's input_spec has no num_classes: not a classifier the demo can label")
    if num_classes == IMAGENET_CLASSES:
        return imagenet_labels()
    return [f"class {i}" for i in range(num_classes)]


def weights_note(source: dict) -> str:
    """Where the weights came from, as the demo shows it."""
    if source.get("kind") == "zoo":
        weights = source.get("weights", "unknown")
        if weights == "random-init":
            return "random-init (zoo model without trained weights: the labels are not meaningful)"
        return str(weights)
    sha = str(source.get("sha256") or "")[:12]
    return f"checkpoint {Path(str(source.get('path', '?'))).name} (sha256 {sha}…)"


def write_sample(path: Path) -> None:
    """A real photo for the demo: scikit-image's bundled 'chelsea' (a tabby cat), as JPEG."""
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.chelsea()).save(path, format="JPEG", quality=92)


def bundle(artifact: Path, assets: Path) -> dict:
    """Copy ``artifact`` and write labels.txt, model.json and sample.jpg into ``assets``; returns model.json."""
    if artifact.suffix != ".tflite" or not artifact.is_file():
        raise BundleError(f"{artifact} is not a .tflite file")
    manifest_path = artifact.with_name(artifact.name + ".manifest.json")
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path.name} is missing: bundle an artifact edgebench exported")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("status") != "OK":
        raise BundleError(f"{artifact.name} failed its parity check (status {manifest.get('status')}); "
                          "not bundling a model whose outputs disagree with the PyTorch model")
    spec = manifest.get("input_spec") or {}
    if spec.get("task", "classification") != "classification":
        raise BundleError(f"{artifact.name} is a {spec.get('task')} model; the demo classifies images")
    labels = labels_for(spec.get("num_classes"))

    assets.mkdir(parents=True, exist_ok=True)
    for old in assets.glob("*.tflite"):
        old.unlink()
    shutil.copyfile(artifact, assets / artifact.name)
    (assets / "labels.txt").write_text("\n".join(labels) + "\n")
    info = {
        "model": artifact.name,
        "labels": "labels.txt",
        "mean": list(spec.get("mean") or (0.0, 0.0, 0.0)),
        "std": list(spec.get("std") or (1.0, 1.0, 1.0)),
        "layout": spec.get("layout", "NCHW"),
        "input_shape": list(spec.get("shape") or []),
        "num_classes": len(labels),
        "weights": weights_note(manifest.get("source") or {}),
        "description": f"{manifest.get('model', artifact.stem)} · {manifest.get('variant', '?')} · "
                       f"{manifest.get('size_bytes', artifact.stat().st_size) / 1e6:.1f} MB tflite",
        "sha256": manifest.get("sha256"),
        "edgebench_version": manifest.get("edgebench_version"),
    }
    (assets / "model.json").write_text(json.dumps(info, indent=2) + "\n")
    write_sample(assets / "sample.jpg")
    return info


def main(argv: list[str] | None = None) -> int:
    """CLI entry: bundle one artifact; errors are one line on stderr and exit status 2."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", type=Path, help="the exported .tflite (its .manifest.json beside it)")
    parser.add_argument("--assets", type=Path, default=DEFAULT_ASSETS, help="the app's assets dir")
    args = parser.parse_args(argv)
    try:
        info = bundle(args.artifact, args.assets)
    except BundleError as e:
        print(f"bundle_assets: {e}", file=sys.stderr)
        return 2
    print(f"bundled {info['model']} ({info['num_classes']} labels, weights: {info['weights']}) into {args.assets}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
