"""The timed loop's inputs when they are given (``run --inputs``) or shipped beside the model (a
format's test-data folder), and the check of the outputs against the expected ones shipped with them.

The runner reads numpy files only: a format's own test-data files (TensorProto ``.pb``…) are turned
into one ``.npz`` here, by the format plug-in that knows them, before the runner sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebench import exporters
from edgebench.errors import ConfigError

# expected-output tolerance: the ONNX backend test runner's rtol, an atol just above float32 noise
RTOL = 1e-3
ATOL = 1e-5
NUMPY_SUFFIXES = (".npz", ".npy")


@dataclass(frozen=True)
class Feed:
    """The ``.npz`` / ``.npy`` the runner feeds (``path``), where it came from (``source``) and the
    expected outputs shipped with it (empty: nothing to check)."""

    path: Path
    source: Path
    expected: tuple[Any, ...] = ()


def prepare(given: Path | None, model: Path, fmt: str, work: Path) -> Feed | None:
    """The feed of one run: ``given`` (``--inputs``: a .npz / .npy, or test-data files a format
    plug-in reads) or else the test-data folder shipped beside ``model`` (``Exporter.file_test_data``);
    None when there is neither (the runner makes synthetic inputs). Test data is converted into
    ``work/feed.npz``. ConfigError (stage input) for a missing or unreadable file."""
    exporter = exporters.registry.get(fmt) if fmt in exporters.registry else None
    if given is None:
        folder = exporter.file_test_data(Path(model)) if exporter is not None else None
        if folder is None:
            return None
        given = folder
    given = Path(given)
    if not given.exists():
        raise ConfigError(f"--inputs {given} does not exist", stage="input",
                          hint="a .npz with one array per input name (numpy.savez), or test-data .pb files")
    if given.is_file() and given.suffix.lower() in NUMPY_SUFFIXES:
        return Feed(given, given)
    plugins = [exporter] if exporter is not None else []
    plugins += [e for _, e in exporters.registry.items() if e is not exporter]
    for plugin in plugins:
        data = plugin.read_test_data(given)
        if data is None:
            continue
        inputs, expected = data
        names = [name for name, _ in inputs]
        keys = names if all(names) and len(set(names)) == len(names) else [f"input_{k}" for k in range(len(inputs))]
        out = Path(work) / "feed.npz"
        with open(out, "wb") as fh:
            np.savez(fh, **{k: arr for k, (_, arr) in zip(keys, inputs)})
        return Feed(out, given, tuple(expected))
    raise ConfigError(f"--inputs {given}: neither a .npz / .npy nor test data a format reads", stage="input",
                      hint="a .npz with one array per input name (numpy.savez), or a folder of input_<k>.pb files")


def check_outputs(outputs_npz: Path, expected: tuple[Any, ...]) -> dict[str, Any]:
    """Compare the runner's outputs (``output_<k>`` arrays) with the expected ones: ``{checked,
    match, max_abs_err, mismatch}`` — floats within ``RTOL`` / ``ATOL`` (NaN where NaN is expected),
    other dtypes exactly; shapes must agree. ``mismatch`` names the first output that differs."""
    with np.load(outputs_npz, allow_pickle=False) as data:
        actual = [data[f"output_{k}"] for k in range(len(data.files))]
    worst, mismatch = 0.0, None
    for k, want in enumerate(expected):
        got = actual[k] if k < len(actual) else None
        want = np.asarray(want)
        if got is None or got.shape != want.shape:
            mismatch = mismatch or (f"output {k}: shape {None if got is None else list(got.shape)} "
                                    f"≠ expected {list(want.shape)}")
            continue
        if want.dtype.kind in "fc" or got.dtype.kind in "fc":
            g, w = got.astype(np.float64), want.astype(np.float64)
            both = np.isfinite(g) & np.isfinite(w)
            if both.any():
                worst = max(worst, float(np.max(np.abs(g[both] - w[both]))))
            ok = np.allclose(g, w, rtol=RTOL, atol=ATOL, equal_nan=True)
        else:
            ok = np.array_equal(got, want)
        if not ok:
            mismatch = mismatch or f"output {k} differs"
    return {"checked": len(expected), "match": mismatch is None, "max_abs_err": worst, "mismatch": mismatch}
