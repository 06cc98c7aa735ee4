"""Which of the model's classes each folder of a labelled dataset is — never a silent renumbering.

A labelled folder often holds only some of the model's classes (a 3-class test set for a
10-class model). Numbering its sub-folders from 0 would score the wrong classes, so a folder maps
to a class index

1. by **class name**, when the model knows its names (Hugging Face ``id2label``, ``--labels
   labels.txt``, recorded in the manifest): exact name first, then case / ``_`` / ``-`` / space
   insensitive;
2. by **index**: a folder named ``281`` or ``281-tabby`` / ``281_tabby`` is class 281 (and when the
   model has names, the text after the number must not name another class);
3. by **sorted folder order** (torchvision's ImageFolder) only when the folders are exactly as
   many as the model's classes, so every class is present — and the result says so.

Anything else — a folder that matches no class, two folders on one class, a name shared by two
classes, fewer folders than classes with neither names nor numbers — is a ConfigError that names
the folders and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from edgebench.errors import ConfigError

_INDEXED = re.compile(r"^(\d+)(?:[-_ .](.*))?$")


@dataclass(frozen=True)
class ClassMap:
    """``index``: folder name → the model's class index; ``names``: class index → the name shown in
    reports (the model's class name when it has one, else the folder's); ``how``: the rule used."""

    index: dict[str, int]
    names: dict[int, str]
    how: str


def _norm(name: str) -> str:
    return " ".join(re.split(r"[\s_\-]+", name.strip().casefold()))


def _short(items: Sequence[str], n: int = 4) -> str:
    items = list(items)
    return ", ".join(repr(i) for i in items[:n]) + (f", … ({len(items)})" if len(items) > n else "")


def _by_name(folder: str, class_names: Sequence[str], exact: dict[str, list[int]],
             loose: dict[str, list[int]]) -> int | None:
    hits = exact.get(folder) or loose.get(_norm(folder)) or []
    if len(set(hits)) > 1:
        raise ConfigError(f"class folder {folder!r} matches {len(set(hits))} of the model's classes "
                          f"({', '.join(str(h) for h in sorted(set(hits)))})",
                          hint="name the folder by class index instead, e.g. "
                               f"{sorted(set(hits))[0]}_{folder}")
    return hits[0] if hits else None


def map_folders(folders: Sequence[str], class_names: Sequence[str] | None = None,
                num_classes: int | None = None) -> ClassMap:
    """Map dataset class-folder names to the model's class indices (rules in the module docstring).

    ``class_names``: the model's class names by index (None: unknown); ``num_classes``: its output
    count (None: unknown). Raises ConfigError for anything ambiguous."""
    folders = list(folders)
    if not folders:
        raise ConfigError("the dataset has no class folders")
    if class_names:
        num_classes = num_classes or len(class_names)
    exact: dict[str, list[int]] = {}
    loose: dict[str, list[int]] = {}
    for i, name in enumerate(class_names or ()):
        exact.setdefault(name, []).append(i)
        loose.setdefault(_norm(name), []).append(i)

    index: dict[str, int] = {}
    how: set[str] = set()
    unmatched: list[str] = []
    for folder in folders:
        found = _by_name(folder, class_names, exact, loose) if class_names else None
        if found is not None:
            index[folder] = found
            how.add("class name")
            continue
        m = _INDEXED.match(folder)
        if m:
            i = int(m.group(1))
            rest = m.group(2)
            if class_names and rest:
                named = _by_name(rest, class_names, exact, loose)
                if named is not None and named != i:
                    raise ConfigError(f"class folder {folder!r} says index {i} but {rest!r} is the model's class "
                                      f"{named}", hint="rename the folder so its number and name agree")
            if num_classes is not None and i >= num_classes:
                raise ConfigError(f"class folder {folder!r} names class {i} but the model has {num_classes} classes "
                                  f"(0–{num_classes - 1})", hint=f"rename the folder to an index below {num_classes} or to one of the "
                                  "model's class names: the class count is the model's output size")
            index[folder] = i
            how.add("index-named folder")
            continue
        unmatched.append(folder)

    if unmatched:
        if not index and num_classes is not None and len(folders) == num_classes:
            index = {f: i for i, f in enumerate(sorted(folders))}
            how = {f"sorted folder order (all {num_classes} of the model's classes present)"}
        elif not index and num_classes is None and not class_names:
            index = {f: i for i, f in enumerate(sorted(folders))}
            how = {"sorted folder order (the model's class count is unknown: assumed to be these "
                   f"{len(folders)} folders)"}
        elif class_names:
            raise ConfigError(f"class folder(s) {_short(unmatched)} match none of the model's "
                              f"{len(class_names)} class names ({_short(class_names, 3)})",
                              hint="rename the folders to class names, or prefix each with its class index "
                                   "(e.g. 3_cat)")
        else:
            n = f"{num_classes} classes" if num_classes is not None else "an unknown number of classes"
            raise ConfigError(f"{len(folders)} class folders ({_short(unmatched)}) but the model has {n} and no "
                              "class names: which class each folder is cannot be known",
                              hint="pass --labels labels.txt (one class name per line), or name folders by "
                                   "class index (e.g. 0_cat, 7_dog)")

    by_index: dict[int, list[str]] = {}
    for folder, i in index.items():
        by_index.setdefault(i, []).append(folder)
    clash = {i: fs for i, fs in by_index.items() if len(fs) > 1}
    if clash:
        i, fs = next(iter(sorted(clash.items())))
        raise ConfigError(f"class folders {_short(fs)} both map to class {i}",
                          hint="merge them or rename one")
    names = {i: (class_names[i] if class_names and i < len(class_names) else folder) for folder, i in index.items()}
    return ClassMap(index, names, " + ".join(sorted(how)))
