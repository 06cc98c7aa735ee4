"""Build ``runner.pyz``: the runner package as one file for a device (standard library ``zipapp``).

``python3 runner.pyz MODEL --runtime NAME …`` needs only numpy and the runtime on the device. The
archive holds ``edgebench/__init__.py`` (a stub: not the real edgebench), ``edgebench/runner/**``
and a ``__main__.py``; it is rebuilt only when the runner's files change (content hash).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipapp
from pathlib import Path

PYZ_NAME = "runner.pyz"
PACKAGE_DIR = Path(__file__).resolve().parent
_SUFFIXES = (".py", ".json")
_STUB = '"""edgebench runner zipapp: only edgebench.runner is inside."""\n'
_MAIN = ("import sys\n\nfrom edgebench.runner.protocol import main\n\nsys.exit(main())\n")


def _files() -> list:
    return sorted(p for p in PACKAGE_DIR.rglob("*")
                  if p.is_file() and p.suffix in _SUFFIXES and "__pycache__" not in p.parts)


def content_hash() -> str:
    """sha256 (hex) over the runner package's file names and bytes (what the zipapp contains)."""
    h = hashlib.sha256()
    for p in _files():
        h.update(p.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    h.update(_STUB.encode() + _MAIN.encode())
    return h.hexdigest()


def build_zipapp(dest_dir) -> Path:
    """``dest_dir/runner.pyz`` (created with its directory when missing; rebuilt only when the
    runner's content hash differs from the one recorded beside it in ``runner.pyz.sha256``).
    Returns its path. OSError when ``dest_dir`` cannot be written."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target, stamp = dest_dir / PYZ_NAME, dest_dir / (PYZ_NAME + ".sha256")
    digest = content_hash()
    if target.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return target
    with tempfile.TemporaryDirectory(prefix="edgebench-pyz-") as tmp:
        src = Path(tmp) / "src"
        pkg = src / "edgebench" / "runner"
        pkg.mkdir(parents=True)
        (src / "edgebench" / "__init__.py").write_text(_STUB)
        (src / "__main__.py").write_text(_MAIN)
        for p in _files():
            dst = pkg / p.relative_to(PACKAGE_DIR)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dst)
        partial = Path(tmp) / PYZ_NAME
        zipapp.create_archive(src, partial, interpreter="/usr/bin/env python3", compressed=True)
        # another process may build the same archive at once: each replace is atomic
        fd, tmp_target = tempfile.mkstemp(prefix=".runner-", suffix=".pyz", dir=dest_dir)
        os.close(fd)
        shutil.copyfile(partial, tmp_target)
        os.chmod(tmp_target, 0o755)
        os.replace(tmp_target, target)
    stamp_tmp = stamp.with_name(stamp.name + ".%d.tmp" % os.getpid())
    stamp_tmp.write_text(digest + "\n")
    os.replace(stamp_tmp, stamp)
    return target
