"""Checkpoint loading: state_dict (+ arch), torch.export ``.pt2``, TorchScript, and — only with
``--trust-checkpoint`` — a fully pickled ``nn.Module``. Everything else loads with
``weights_only=True``, so a pickle's payload never runs."""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path
from typing import Any

from edgebench.errors import LoadError

_PREFIXES = ("module.", "model.", "_orig_mod.")
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net", "ema")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


JIT_KIND = "jit"  # a torch.jit.save archive (source manifests record it as the checkpoint kind)


def detect_kind(path: Path) -> str:
    """``pt2`` (torch.export), ``jit`` (a torch.jit archive) or ``pickle`` (a torch.save file or
    anything else)."""
    if path.suffix == ".pt2":
        return "pt2"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError):
            return "pickle"
        if any(n.endswith("/archive_format") or "/models/" in n and n.endswith(".json") for n in names):
            return "pt2"
        if any("/code/" in n or n.endswith("/constants.pkl") for n in names):
            return JIT_KIND
    return "pickle"


def _torch_load(path: Path, trust: bool) -> Any:
    import torch

    with open(path, "rb") as fh:
        magic = fh.read(2)
    # torch.save writes a zip (PK…) or, in the legacy format, a pickle (protocol ≥ 2 starts 0x80)
    if not magic.startswith(b"PK") and not magic.startswith(b"\x80"):
        raise LoadError(f"{path.name} is not a PyTorch checkpoint (unknown bytes, neither zip nor pickle)",
                        hint="pass a state_dict .pt/.pth, a torch.export .pt2 or a TorchScript file")
    try:
        if trust:
            return torch.load(path, map_location="cpu", weights_only=False)
        with torch.serialization.safe_globals(_numpy_scalar_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text or "weights_only" in text:
            first = next((ln.strip() for ln in text.splitlines()
                          if "GLOBAL" in ln or "Unsupported" in ln), "it holds pickled objects")
            raise LoadError(
                f"{path.name} holds pickled code, not just weights ({first[:160]}); it was not run",
                hint="save a state_dict instead, or pass --trust-checkpoint only if you trust its source",
            ) from None
        raise LoadError(f"{path.name} is not a PyTorch checkpoint ({text[:120]})",
                        hint="pass a state_dict .pt/.pth, a torch.export .pt2 or a TorchScript file") from None
    except RuntimeError as exc:
        text = str(exc)
        if "zip archive" in text or "central directory" in text or "PytorchStreamReader" in text:
            raise LoadError(f"{path.name} is truncated or corrupt ({text.split('. ')[0][:120]})",
                            hint="re-copy or re-save the checkpoint") from None
        raise LoadError(f"{path.name} could not be read: {text.splitlines()[0][:160]}",
                        hint="pass a state_dict .pt/.pth, a torch.export .pt2 or a TorchScript file") from None
    except (EOFError, ValueError, OSError, AttributeError, ImportError, ModuleNotFoundError) as exc:
        raise LoadError(f"{path.name} is not a PyTorch checkpoint ({type(exc).__name__}: {str(exc)[:120]})",
                        hint="pass a state_dict .pt/.pth, a torch.export .pt2 or a TorchScript file") from None


def _numpy_scalar_globals() -> list[Any]:
    """numpy scalars (``best_acc = np.float64(…)``, ``epoch = np.int64(…)``) and their dtypes: plain
    data that training scripts save beside the weights; allow-listed for ``weights_only`` loading
    (object arrays and every other global stay refused)."""
    try:
        import numpy as np
    except ImportError:
        return []
    core = getattr(np, "_core", None) or np.core
    kinds = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
             np.float16, np.float32, np.float64)
    return [core.multiarray.scalar, np.dtype, *(type(np.dtype(k)) for k in kinds)]


def checkpoint_kind(path: Path) -> str | None:
    """What a PyTorch file that is not a runnable artifact is — ``"torch.save checkpoint"`` (a
    zip with ``data.pkl`` and no TorchScript code, or a legacy pickle) or ``"torch.export
    program"`` — or None (TorchScript, or not a PyTorch file). Reads only the file's header and
    zip directory."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
    except OSError:
        return None
    if magic.startswith(b"\x80"):
        return "torch.save checkpoint"
    if not magic.startswith(b"PK"):
        return None
    kind = detect_kind(Path(path)) if Path(path).suffix != ".pt2" else "pt2"
    if kind == "pt2":
        return "torch.export program"
    if kind == "pickle":
        try:
            with zipfile.ZipFile(path) as zf:
                if any(n.endswith("data.pkl") for n in zf.namelist()):
                    return "torch.save checkpoint"
        except (zipfile.BadZipFile, OSError):
            return None
    return None


_INFIXES = ("module.", "_orig_mod.")  # DataParallel / torch.compile wrappers around a sub-module


def _strip_infixes(sd: dict[str, Any], own: dict[str, Any]) -> dict[str, Any] | None:
    """``layer1.module.0.conv1.weight`` → ``layer1.0.conv1.weight`` when that makes every key fit."""
    out = {}
    for k, v in sd.items():
        parts = k.split(".")
        kept = [p for p in parts if p + "." not in _INFIXES]
        out[".".join(kept)] = v
    return out if len(out) == len(sd) and set(out) == set(own) else None


def unwrap_state_dict(obj: Any) -> dict[str, Any]:
    """Find the tensor dict inside common wrappers and strip ``module.``/``model.`` prefixes."""
    import torch

    for _ in range(3):
        if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        if isinstance(obj, dict):
            inner = next((obj[k] for k in _NESTED_KEYS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    sd = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)} if isinstance(obj, dict) else {}
    if not sd:
        raise LoadError("the checkpoint holds no state_dict (no dict of tensors found)",
                        hint="save model.state_dict(), or pass a .pt2 / TorchScript file")
    for prefix in _PREFIXES:
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def _fit(module, sd: dict[str, Any], arch: str, num_classes_given: bool,
         arch_kwargs: dict[str, Any] | None = None) -> None:
    own = module.state_dict()
    if set(sd) != set(own) and (stripped := _strip_infixes(sd, own)) is not None:
        sd = stripped  # a wrapper inside the model (e.g. layer1 = DataParallel(...)) saved its name
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        def first(keys: list[str]) -> str:
            return ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "")

        parts = []
        if missing:
            parts.append(f"{len(missing)} keys missing ({first(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({first(unexpected)})")
        infix = next((f".{i}" for i in _INFIXES if any(f".{i}" in k for k in unexpected)), None)
        hint = "check --arch (see `edgebench models`)"
        if infix:
            hint = (f"the checkpoint's keys carry a wrapper infix '{infix}' (a DataParallel / compiled "
                    f"sub-module); even without it they do not fit --arch {arch}: check --arch")
        raise LoadError(f"the state_dict does not fit --arch {arch}: " + "; ".join(parts), hint=hint)
    for key, tensor in sd.items():
        if tuple(own[key].shape) != tuple(tensor.shape):
            from edgebench.models.fitting import mismatch_hint

            hint = mismatch_hint(module, key, tensor, own[key], arch, arch_kwargs or {})
            raise LoadError(f"{key} is {tuple(tensor.shape)} in the checkpoint but {tuple(own[key].shape)} "
                            f"in --arch {arch}" + (" with that --num-classes" if num_classes_given else ""),
                            hint=hint)
    module.load_state_dict(sd, strict=True)


def load_checkpoint(path: Path, arch: str | None, num_classes: int | None, trust: bool,
                    arch_kwargs: dict[str, Any] | None = None, notes: list[str] | None = None):
    """Return ``(module, kind)``; raise LoadError with one line for anything wrong.

    ``arch_kwargs`` go to the ``arch`` builder of a state_dict; builder kwargs detected from the
    weights (a width multiplier, a ViT image size) are added to that dict and said in ``notes``."""
    import torch

    path = Path(path)
    if not path.exists():
        raise LoadError(f"checkpoint {path} does not exist", hint="check the path")
    if path.is_dir():
        raise LoadError(f"checkpoint {path} is a directory", hint="pass the checkpoint file")
    if not path.is_file():  # a FIFO or device would block or never end: refused before reading
        raise LoadError(f"checkpoint {path} is not a regular file (a FIFO, device or socket); it was not read",
                        hint="pass the checkpoint file")
    kind = detect_kind(path)
    if kind == "pt2":
        from edgebench.models.huggingface import register_output_types

        # a program exported from a transformers model returns a ModelOutput: torch can only
        # rebuild it once transformers has registered that type (importing it does)
        register_output_types(path)
        try:
            ep = torch.export.load(str(path))
        except Exception as exc:  # torch raises many types for a bad archive
            raise LoadError(f"{path.name} is not a loadable torch.export archive ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:120] if str(exc) else ''})",
                            hint="re-save it with torch.export.save") from None
        return ep.module(), "pt2"
    if kind == JIT_KIND:
        try:
            return torch.jit.load(str(path), map_location="cpu").eval(), JIT_KIND
        except Exception as exc:  # a corrupt TorchScript archive raises RuntimeError subclasses
            raise LoadError(f"{path.name} is not a loadable TorchScript file ({str(exc).splitlines()[0][:120]})",
                            hint="re-save it with torch.jit.save") from None
    if path.suffix == ".safetensors":
        from edgebench.models.huggingface import read_safetensors

        obj = read_safetensors(path)
    else:
        obj = _torch_load(path, trust)
    if isinstance(obj, torch.nn.Module):
        return obj.eval(), "pickled-module"
    if arch is None:
        raise LoadError(f"{path.name} is a state_dict: it needs --arch", hint="e.g. --arch resnet18 (see `edgebench models`)")
    from edgebench.models.zoo import entry

    from edgebench.models.fitting import detect_kwargs

    e = entry(arch, num_classes)
    n_out = num_classes if num_classes is not None else (e.input_spec.num_classes or 1000)
    kwargs = arch_kwargs if arch_kwargs is not None else {}
    sd = unwrap_state_dict(obj)
    try:
        module = e.build(n_out, **kwargs)
    except TypeError as exc:
        raise LoadError(f"--arch {arch} does not take --arch-kwargs {', '.join(kwargs)} ({exc})",
                        hint="pass only keyword arguments its builder knows") from None
    detected = None if _fits(module, sd) else detect_kwargs(e.build, n_out, sd, kwargs)
    if detected is not None:
        kwargs.update(detected[0])
        module = e.build(n_out, **kwargs)
        if notes is not None:
            notes.append(detected[1])
    _fit(module, sd, arch, num_classes is not None, kwargs)
    return module.eval(), "state_dict"


def _fits(module, sd: dict[str, Any]) -> bool:
    own = module.state_dict()
    return set(own) == set(sd) and all(tuple(own[k].shape) == tuple(sd[k].shape) for k in own)
