"""A checkpoint's input shape, read from the checkpoint itself — never a silent 224×224.

- torch.export ``.pt2``: the program's placeholder (its example input's) shape;
- timm models: ``pretrained_cfg["input_size"]``; transformers models: ``config.image_size``;
- TorchScript: a saved file keeps no input sizes, so ``--input-shape`` is required;
- a state_dict: the ``--arch`` default, said out loud (the weights of a CNN fit any size).

:func:`resolve_shape` combines that with the user's ``--input-shape`` and says where the shape
came from (it goes into the manifest's ``source.input_shape_from``).
"""

from __future__ import annotations

from typing import Any

from edgebench.errors import LoadError
from edgebench.models.huggingface import config_facts


def fmt_shape(shape: Any) -> str:
    """(1, 3, 160, 160) → '1,3,160,160' (how --input-shape takes it)."""
    return ",".join(str(d) for d in shape)


def graph_input_shape(module: Any) -> tuple[tuple[int, ...], bool] | None:
    """``(shape, dynamic)`` of the first user input of an FX graph module (what
    ``ExportedProgram.module()`` returns) from its placeholder's ``val``; dynamic dims take the
    value the program was traced with. None when the module has no such graph."""
    graph = getattr(module, "graph", None)
    nodes = getattr(graph, "nodes", None)
    if nodes is None:
        return None
    for node in nodes:
        if node.op != "placeholder":
            continue
        val = node.meta.get("val")
        shape = getattr(val, "shape", None)
        if shape is None:
            continue
        dims, dynamic = [], False
        for d in shape:
            if isinstance(d, int):
                dims.append(d)
                continue
            dynamic = True
            hint = getattr(getattr(d, "node", None), "hint", None)
            if hint is None:
                return None
            dims.append(int(hint))
        return tuple(dims), dynamic
    return None


def config_input_shape(module: Any) -> tuple[tuple[int, ...], str] | None:
    """``(shape, where)`` from a timm model's ``pretrained_cfg`` input size; None otherwise."""
    cfg = getattr(module, "pretrained_cfg", None) or getattr(module, "default_cfg", None)
    if isinstance(cfg, dict) and cfg.get("input_size"):
        return (1, *(int(d) for d in cfg["input_size"])), "timm pretrained_cfg input_size"
    facts = config_facts(module)
    if facts and facts["shape"]:
        return facts["shape"], "transformers config image_size"
    return None


def resolve_shape(module: Any, kind: str, name: str, user: tuple[int, ...] | None,
                  default: tuple[int, ...] | None) -> tuple[tuple[int, ...], str]:
    """The input shape of a loaded checkpoint and where it came from.

    ``kind`` is pt2 / jit (TorchScript) / pickled-module / state_dict; ``user`` the ``--input-shape``;
    ``default`` the ``--arch`` default for a state_dict. LoadError when nothing says (TorchScript,
    a pickled module without a config) or when ``user`` contradicts a program's static shape."""
    if kind == "pt2":
        found = graph_input_shape(module)
        if found is not None:
            shape, dynamic = found
            if user is not None:
                if not dynamic and tuple(user) != shape:
                    raise LoadError(f"--input-shape {fmt_shape(user)} but {name} was exported for "
                                    f"{fmt_shape(shape)} (static shape)",
                                    hint=f"drop --input-shape, or re-export the program at {fmt_shape(user)}")
                return tuple(user), "--input-shape"
            return shape, "the program's input" + (" (dynamic dims: its example value)" if dynamic else "")
    if user is not None:
        return tuple(user), "--input-shape"
    found_cfg = config_input_shape(module)
    if found_cfg is not None:
        return found_cfg
    if kind == "state_dict" and default is not None:
        return tuple(default), "the --arch default (a state_dict does not record its resolution)"
    what = {"jit": "TorchScript keeps no input sizes",
            "pickled-module": "a pickled module does not record its input size",
            "pt2": "the program does not record a static input"}.get(kind, "the checkpoint does not record it")
    raise LoadError(f"{name}: the input shape is unknown ({what})",
                    hint="pass --input-shape, e.g. --input-shape 1,3,224,224")
