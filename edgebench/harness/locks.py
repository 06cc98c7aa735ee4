"""Advisory locks shared by every sweep writing to one results database.

Lock files live in ``<db>.locks/`` beside the database (or, when that folder cannot be written,
``~/.cache/edgebench/locks/<sha256(absolute db path)[:12]>-<db name>/``). They are ``fcntl.flock``
locks: the kernel releases them when the holding process exits, even after ``kill -9``, so a
crashed sweep never leaves a stale lock behind. Each file holds the holder's pid and what it is
doing, for the line the waiting sweep prints.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def _folder(db: Path) -> Path | None:
    db = Path(db)
    tag = hashlib.sha256(str(db.absolute()).encode()).hexdigest()[:12]
    for folder in (db.with_name(db.name + ".locks"),
                   Path.home() / ".cache" / "edgebench" / "locks" / f"{tag}-{db.name}"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    return None


class Locks:
    """Named exclusive locks for the sweeps of one database (see the module docstring)."""

    def __init__(self, db: Path | str):
        self.folder = _folder(Path(db))

    def path(self, name: str) -> Path | None:
        """The lock file of ``name`` (any text; made file-name safe, with a hash against collisions)."""
        if self.folder is None:
            return None
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
        return self.folder / f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}.lock"

    @contextmanager
    def hold(self, name: str, doing: str, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold lock ``name`` for the ``with`` block, waiting for another holder to finish first
        (``on_wait`` gets one line saying who holds it). ``doing`` is what the holder does, shown to
        whoever waits. Without a writable lock folder the block runs unlocked."""
        path = self.path(name)
        if path is None:
            yield
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
                    on_wait(f"{holder}; this sweep waits for it")
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} is {doing}".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock
