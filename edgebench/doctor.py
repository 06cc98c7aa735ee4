"""Environment checks for ``edgebench doctor``: what works here, and exactly why not."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import platform
import shutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    kind: str
    ok: bool
    detail: str


# Python packages behind each optional feature, with the extra that installs them.
OPTIONAL = (
    ("onnx", "onnx", "onnx"), ("onnxruntime", "onnxruntime", "onnx"), ("onnxscript", "onnxscript", "onnx"),
    ("onnxconverter-common", "onnxconverter_common", "onnx"),
    ("litert-torch", "litert_torch", "tflite"), ("ai-edge-litert", "ai_edge_litert", "tflite"),
    ("coremltools", "coremltools", "coreml"), ("timm", "timm", "timm"),
    ("torch-pruning", "torch_pruning", "prune"), ("matplotlib", "matplotlib", "report"),
)


def _dist_version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def checks() -> list[Check]:
    """Every check, in display order. Never raises: a failure is a row."""
    out = [Check("python", "core", True, platform.python_version()),
           Check("torch", "core", True, _dist_version("torch") or "?"),
           Check("torchvision", "core", True, _dist_version("torchvision") or "?")]
    for dist, module, extra in OPTIONAL:
        version = _dist_version(dist)
        if version is None:
            out.append(Check(dist, "package", False, f"not installed: pip install 'edgebench[{extra}]'"))
        else:
            out.append(Check(dist, "package", True, version))
    for group, kind in (("edgebench.exporters", "exporter"), ("edgebench.targets", "target")):
        try:
            mod = importlib.import_module(group)
            reg = getattr(mod, "registry", None)
        except Exception as exc:  # a broken plug-in package must not take doctor down
            out.append(Check(group, kind, False, f"import failed: {exc}"))
            continue
        for name, plugin in (reg.items() if reg is not None else []):
            reason = plugin.unavailable_reason()
            out.append(Check(name, kind, reason is None, "available" if reason is None else reason))
    for binary, why in (("adb", "Android targets: apt-get install adb (or the Android platform-tools)"),
                        ("ssh", "Raspberry Pi / SSH targets: apt-get install openssh-client"),
                        ("scp", "Raspberry Pi / SSH targets: apt-get install openssh-client")):
        path = shutil.which(binary)
        out.append(Check(binary, "binary", path is not None, path or f"not found: {why}"))
    return out
