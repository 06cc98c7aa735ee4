#!/usr/bin/env python3
"""Fetch the conformance corpus (tests/integration/test_conformance.py) into a cache outside the checkout.

Real model files that ship inside released wheels, pinned:

    onnx==1.16.2                  onnx/backend/test/data/node/*/ (model.onnx + test_data_set_0/*.pb)
    mediapipe==0.10.14            mediapipe/modules/**/*.tflite
    rapidocr-onnxruntime==1.4.4   rapidocr_onnxruntime/models/*.onnx

Each wheel is downloaded once with ``pip download --no-deps`` (never installed) and only those files
are unpacked, into::

    $EDGEBENCH_CORPUS_DIR   (default ~/.cache/edgebench/conformance)
        wheels/           the downloaded wheels (kept: a re-run unpacks offline)
        onnx-node/<test>/ one folder per backend node test
        mediapipe/        the .tflite files
        rapidocr/         the .onnx files
        <family>/.complete   written last: a family with it is not fetched again

Idempotent: re-running with everything present does nothing and needs no network. Exit 0 when the
corpus is complete, 1 with one line naming what failed (network, disk) otherwise.

    python3 scripts/fetch_conformance_corpus.py [--dir DIR] [--python PYTHON]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("EDGEBENCH_CORPUS_DIR") or Path.home() / ".cache" / "edgebench" / "conformance")

# family -> (pip requirement, wheel-name prefix, member prefix, member suffix, keep folders below the prefix)
FAMILIES = {
    "onnx-node": ("onnx==1.16.2", "onnx-1.16.2-", "onnx/backend/test/data/node/", "", True),
    "mediapipe": ("mediapipe==0.10.14", "mediapipe-0.10.14-", "mediapipe/modules/", ".tflite", False),
    "rapidocr": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime-1.4.4-", "rapidocr_onnxruntime/models/",
                 ".onnx", False),
}


def _wheel(cache: Path, requirement: str, prefix: str, python: str) -> Path:
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob(prefix + "*.whl"))
    if found:
        return found[0]
    # the wheel for this interpreter's platform; --no-deps: the corpus needs the files, not the package
    argv = [python, "-m", "pip", "download", requirement, "--no-deps", "--only-binary=:all:", "-d", str(wheels),
            "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(argv, capture_output=True, text=True)
    found = sorted(wheels.glob(prefix + "*.whl"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"pip download {requirement} failed: {last}")
    return found[0]


def _unpack(wheel: Path, dest: Path, member_prefix: str, suffix: str, keep_folders: bool) -> int:
    """Unpack the members under ``member_prefix`` ending in ``suffix`` into ``dest`` (atomically:
    a temporary folder renamed into place). Returns the number of files."""
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    count = 0
    try:
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                name = info.filename
                if info.is_dir() or not name.startswith(member_prefix) or not name.endswith(suffix):
                    continue
                rel = name[len(member_prefix):] if keep_folders else Path(name).name
                if not rel or ".." in Path(rel).parts:
                    continue
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                count += 1
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return count


def fetch(cache: Path = DEFAULT_DIR, python: str = sys.executable) -> dict[str, Path]:
    """Make sure every family is unpacked under ``cache``; returns family -> folder."""
    cache.mkdir(parents=True, exist_ok=True)
    folders = {}
    for family, (requirement, prefix, member_prefix, suffix, keep) in FAMILIES.items():
        dest = cache / family
        folders[family] = dest
        marker = dest / ".complete"
        if marker.is_file() and marker.read_text().strip() == requirement:
            continue
        wheel = _wheel(cache, requirement, prefix, python)
        count = _unpack(wheel, dest, member_prefix, suffix, keep)
        if count == 0:
            raise RuntimeError(f"{wheel.name} holds no {member_prefix}*{suffix} files")
        marker.write_text(requirement + "\n")
        print(f"{family}: {count} files from {wheel.name} in {dest}")
    return folders


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"cache folder (default {DEFAULT_DIR})")
    p.add_argument("--python", default=sys.executable, help="the Python whose pip downloads (default: this one)")
    args = p.parse_args(argv)
    try:
        folders = fetch(args.dir, args.python)
    except (OSError, RuntimeError, zipfile.BadZipFile) as exc:
        print(f"fetch_conformance_corpus: {exc}", file=sys.stderr)
        return 1
    print("conformance corpus ready: " + ", ".join(f"{k}={v}" for k, v in folders.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
