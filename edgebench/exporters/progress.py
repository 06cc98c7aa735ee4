"""Progress of the long export stages (torch.export, tracing, inputs, conversion, parity) with
elapsed time, for a person watching a minutes-long ViT export.

The library stays silent unless a listener is set (the CLI sets one on a terminal):
``listen(fn)`` → ``fn(stage, seconds)`` is called with ``seconds=None`` when a stage starts and
with its duration when it ends. Stages run in worker processes (``--jobs N``) report nothing.
"""

from __future__ import annotations

import contextlib
import time
from typing import Callable, Iterator

Listener = Callable[[str, "float | None"], None]
_listener: Listener | None = None


def listen(fn: Listener | None) -> Listener | None:
    """Set the listener (None: silence); returns the previous one so callers can restore it."""
    global _listener
    previous, _listener = _listener, fn
    return previous


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Report ``name`` starting and, when the block ends (or fails), how long it took in seconds."""
    fn = _listener
    if fn is None:
        yield
        return
    fn(name, None)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        fn(name, time.perf_counter() - t0)
