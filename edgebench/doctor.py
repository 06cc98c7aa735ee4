"""Environment checks for ``edgebench doctor``: what works here, and exactly why not."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import platform
import shutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Check:
    name: str
    kind: str
    ok: bool
    detail: str


CORE = ("torch", "torchvision")
# optional features that are not formats: (pip distribution, the edgebench extra that installs it)
_FEATURES = (("timm", "timm"), ("torch-pruning", "prune"), ("matplotlib", "report"))


def optional(formats: Any) -> tuple[tuple[str, str], ...]:
    """(pip distribution, extra) behind each optional feature: every format plug-in's libraries
    (with its extra) from the ``formats`` registry, then the non-format features. Core packages
    are not listed."""
    rows: dict[str, str] = {}
    for _, exporter in formats.items():
        for dist in exporter.libraries:
            if dist not in CORE:
                rows.setdefault(dist, exporter.extra)
    for dist, extra in _FEATURES:
        rows.setdefault(dist, extra)
    return tuple(rows.items())


def _plugins(group: str) -> tuple[ModuleType | None, str | None]:
    # a broken plug-in package must not take doctor down: it becomes a failed row
    try:
        return importlib.import_module(group), None
    except Exception as exc:  # noqa: BLE001 - any import-time error of a plug-in
        return None, f"import failed: {exc}"


def _dist_version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def checks() -> list[Check]:
    """Every check, in display order. Never raises: a failure is a row."""
    out = [Check("python", "core", True, platform.python_version()),
           *(Check(dist, "core", True, _dist_version(dist) or "?") for dist in CORE)]
    formats, _ = _plugins("edgebench.exporters")
    for dist, extra in optional(formats.registry if formats is not None else {}):
        version = _dist_version(dist)
        if version is None:
            out.append(Check(dist, "package", False, f"not installed: pip install 'edgebench[{extra}]'"))
        else:
            out.append(Check(dist, "package", True, version))
    for group, kind in (("edgebench.exporters", "exporter"), ("edgebench.targets", "target")):
        mod, failed = _plugins(group)
        if mod is None:
            out.append(Check(group, kind, False, failed or "import failed"))
            continue
        reg = getattr(mod, "registry", None)
        for name, plugin in (reg.items() if reg is not None else []):
            reason = plugin.unavailable_reason()
            detail = "available" if reason is None else reason
            runtime = getattr(plugin, "runtime", None)
            if reason is None and runtime:  # a format: say what runs it, or why nothing can here
                cannot = plugin.runnable_reason()
                detail = (f"available (runs with the {runtime} runtime)" if cannot is None
                          else f"available; its {runtime} runtime cannot run here ({cannot})")
            out.append(Check(name, kind, reason is None, detail))
    for binary, why in (("adb", "Android targets: apt-get install adb (or the Android platform-tools)"),
                        ("ssh", "Raspberry Pi / SSH targets: apt-get install openssh-client"),
                        ("scp", "Raspberry Pi / SSH targets: apt-get install openssh-client")):
        path = shutil.which(binary)
        out.append(Check(binary, "binary", path is not None, path or f"not found: {why}"))
    return out
