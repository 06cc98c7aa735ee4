"""Plug-in discovery: import every module of a plug-in package so each registers itself.

Base modules never name a concrete plug-in; a new file in ``edgebench/exporters/`` or
``edgebench/targets/`` is picked up by being there. Plug-in modules import their toolchains
lazily, so discovery is cheap and a missing toolchain is a reason, not an ImportError.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def discover(package: ModuleType, skip: tuple[str, ...] = ()) -> None:
    """Import ``package``'s direct submodules (not subpackages, not names in ``skip``)."""
    for info in pkgutil.iter_modules(package.__path__):
        if info.ispkg or info.name.startswith("_") or info.name in skip:
            continue
        importlib.import_module(f"{package.__name__}.{info.name}")
