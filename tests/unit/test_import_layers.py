"""The import contracts of pyproject.toml hold: layers, a leaf runner, no sibling cycles.

``lint-imports`` (import-linter) also runs in .ci/run; running it here keeps the developer loop
(`make test-fast`) honest about the direction of the pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> list[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]


def test_import_contracts_are_kept():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(_lint_imports(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "3 kept, 0 broken" in proc.stdout


def test_a_cycle_breaks_the_contract(tmp_path):
    """The contract is not vacuous: a copy of the package with runner → harness fails it."""
    pkg = tmp_path / "edgebench"
    shutil.copytree(ROOT / "edgebench", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(pkg / "runner" / "loop.py", "a") as fh:
        fh.write("\nimport edgebench.harness.stats  # noqa: E402,F401\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run(_lint_imports(), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout
