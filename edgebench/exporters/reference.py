"""Eager reference outputs stored at export time, so agreement with eager needs no checkpoint.

Beside the artifacts of one model lands ``<model>.reference-<sha12>.npz``: the calibration and
parity inputs the export drew (``inputs``, float16, NCHW as the PyTorch module takes them) and the
untransformed fp32 eager model's outputs on them (``outputs``, float32, batch dim kept). Every
artifact of that model and input set shares the one file (its name is its content hash); each
manifest records its name and sha256 under ``reference``. ``edgebench run --dataset FLAT_DIR``
compares the artifact with these outputs for every image that is one of these inputs
(:func:`match`), and needs the checkpoint only for the others.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgebench.errors import LoadError
from edgebench.models.checkpoint import sha256_file

SUFFIX = ".npz"
# inputs are stored as float16 (half the bytes); a fresh preprocessing of the same image lands
# within float16 rounding of them (~1e-3 on normalised pixels), another image nowhere near
MATCH_ATOL = 2e-2


def encode(inputs: Sequence[Any], outputs: Sequence[Any]) -> bytes:
    """The npz bytes of batch-1 ``inputs`` (torch tensors or arrays, NCHW) and their eager
    ``outputs`` (one array per input): ``inputs`` (N, …) float16, ``outputs`` (N, …) float32."""
    x = np.concatenate([np.asarray(t, dtype=np.float32) for t in inputs]).astype(np.float16)
    y = np.concatenate([np.asarray(o, dtype=np.float32) for o in outputs])
    buf = io.BytesIO()
    np.savez_compressed(buf, inputs=x, outputs=y)
    return buf.getvalue()


def write(folder: Path | str, model_label: str, data: bytes) -> dict[str, Any]:
    """Write ``data`` (from :func:`encode`) as ``<folder>/<model_label>.reference-<sha12>.npz`` unless
    that file is already there (atomically: temp file, then rename); returns the manifest record
    ``{file, sha256, n, inputs, outputs}``."""
    sha = hashlib.sha256(data).hexdigest()
    path = Path(folder) / f"{model_label}.reference-{sha[:12]}{SUFFIX}"
    if not (path.is_file() and sha256_file(path) == sha):
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    with np.load(io.BytesIO(data)) as z:
        n = int(z["inputs"].shape[0])
    return {"file": path.name, "sha256": sha, "n": n,
            "inputs": "the export's calibration and parity inputs (float16, NCHW)",
            "outputs": "fp32 eager outputs of the untransformed model"}


def load(artifact: Path | str, manifest: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(inputs, outputs) of the reference file ``manifest`` names beside ``artifact``; None when the
    manifest names none (exported before there were reference files). LoadError when the named
    file is missing or its sha256 differs from the manifest's."""
    rec = (manifest or {}).get("reference")
    if not rec:
        return None
    path = Path(artifact).parent / rec["file"]
    if not path.is_file():
        raise LoadError(f"the eager reference {path.name} the manifest names is not beside {Path(artifact).name}",
                        hint="copy it along with the artifact and its manifest, or re-export")
    if rec.get("sha256") and sha256_file(path) != rec["sha256"]:
        raise LoadError(f"the eager reference {path} changed since the export (sha256 differs)",
                        hint="re-export the model")
    with np.load(path) as z:
        return z["inputs"].astype(np.float32), z["outputs"]


def match(rows: np.ndarray, stored: np.ndarray) -> list[int | None]:
    """For each NCHW input row, the index of the stored input it is (within :data:`MATCH_ATOL`
    everywhere), or None."""
    out: list[int | None] = []
    flat = stored.reshape(len(stored), -1)
    for row in rows.reshape(len(rows), -1):
        if flat.shape[1] != row.size:
            out.append(None)
            continue
        err = np.max(np.abs(flat - row), axis=1)
        best = int(np.argmin(err)) if len(err) else -1
        out.append(best if best >= 0 and err[best] <= MATCH_ATOL else None)
    return out
