"""Format options: each plug-in's own frozen dataclass, and how values reach it.

A plug-in declares ``Options`` (a frozen dataclass; ``None`` when the format has none). Every
field is one option; its ``metadata["help"]`` is the CLI help. Values arrive three ways and are
checked the same way by :func:`make_options`:

- the library: ``ExportSpec(format_options={"<fmt>": <fmt's Options>(…)})``;
- a sweep file: a ``[format_options.<fmt>]`` table (a mapping of field → value);
- the CLI: one flag per field, ``--<field-name-with-dashes>`` (``--<fmt>-<field>`` where two
  formats declare the same field name), built from :func:`option_fields`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from edgebench.errors import ConfigError


@dataclass(frozen=True)
class OptionField:
    """One format option as a command-line flag: ``flag`` (``--opset``), the format it belongs to,
    the Options field ``name``, its Python ``type`` (bool / int / float / str), default and help."""

    fmt: str
    name: str
    flag: str
    type: type
    default: Any
    help: str


def _hints(options_cls: type) -> dict[str, Any]:
    return typing.get_type_hints(options_cls)


def _base_type(hint: Any) -> tuple[type, bool]:
    """(scalar type, accepts None) of a field annotation such as ``int`` or ``str | None``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return inner[0], True
    return hint, False


def _check(fmt: str, name: str, value: Any, hint: Any) -> Any:
    kind, nullable = _base_type(hint)
    if value is None and nullable:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(f"format option {fmt}.{name} = {value!r} is not of type {getattr(kind, '__name__', kind)}",
                          hint=f"[format_options.{fmt}] {name} takes a {getattr(kind, '__name__', kind)}")
    return value


def make_options(fmt: str, options_cls: type | None, values: Any) -> Any:
    """``options_cls`` built from ``values``: None (the defaults), an ``options_cls`` instance, or a
    mapping of field → value. ConfigError names an unknown field (listing the known ones), a value
    of the wrong type, or options given to a format that takes none."""
    if options_cls is None:
        if values:
            raise ConfigError(f"format {fmt} takes no options (got {dict(values) if isinstance(values, Mapping) else values})",
                              hint=f"drop [format_options.{fmt}]")
        return None
    if values is None:
        return options_cls()
    if isinstance(values, options_cls):
        return values
    if not isinstance(values, Mapping):
        raise ConfigError(f"format options for {fmt} must be a table of option = value, got {values!r}",
                          hint=f"e.g. [format_options.{fmt}]")
    hints = _hints(options_cls)
    known = [f.name for f in dataclasses.fields(options_cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown {fmt} option(s) {', '.join(unknown)}",
                          hint=f"{fmt} options: {', '.join(known)}")
    return options_cls(**{k: _check(fmt, k, v, hints[k]) for k, v in values.items()})


def options_dict(options: Any) -> dict[str, Any]:
    """An Options instance as a plain dict (empty for None), for manifests and spec hashes."""
    return {} if options is None else dataclasses.asdict(options)


def option_fields(plugins: Iterable[tuple[str, type | None]]) -> list[OptionField]:
    """One :class:`OptionField` per field of every ``(format, Options)`` pair, in order. A field
    name two formats share gets a format-prefixed flag (``--<fmt>-<field>``) for each of them."""
    rows = []
    for fmt, cls in plugins:
        if cls is None:
            continue
        hints = _hints(cls)
        for f in dataclasses.fields(cls):
            kind, _ = _base_type(hints[f.name])
            default = f.default if f.default is not dataclasses.MISSING else None
            rows.append((fmt, f.name, kind, default, str(f.metadata.get("help", ""))))
    counts: dict[str, int] = {}
    for _, name, *_ in rows:
        counts[name] = counts.get(name, 0) + 1
    out = []
    for fmt, name, kind, default, help_ in rows:
        dashed = name.replace("_", "-")
        flag = f"--{dashed}" if counts[name] == 1 else f"--{fmt}-{dashed}"
        out.append(OptionField(fmt, name, flag, kind, default, help_))
    return out
