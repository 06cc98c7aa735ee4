"""Targets: where artifacts run. Each plug-in file registers itself by URI scheme.

``resolve(uri_or_alias, devices_file=…, **options)`` is the one factory: it applies the alias's
devices-file entry, overlays the caller's options and validates them against the target class's
``Options`` dataclass.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Mapping

from edgebench.plugins import discover
from edgebench.targets.base import (
    Deployed, DeviceInfo, Found, Target, parse_options, register, registry,
)
from edgebench.targets.devices import device_options, scheme_of, unknown_target
from edgebench.targets.transport import Transport

__all__ = ["Deployed", "DeviceInfo", "Found", "Target", "Transport", "register", "registry", "resolve"]


def resolve(uri: str, devices_file: str | os.PathLike | None = None, *,
            flags: Mapping[str, str] | None = None, **options: Any) -> Target:
    """A Target for ``uri``: ``local``, ``ssh:user@host[:port]``, ``adb:SERIAL|ALIAS``, or an alias
    from the devices file (``devices_file``, ``$EDGEBENCH_DEVICES`` or
    ``~/.config/edgebench/devices.toml``).

    ``options`` overlay the devices-file entry's (``None`` leaves the file's value); ``flags`` maps
    an option name to the command-line flag that set it, for error messages. ConfigError (one line
    naming the key) for an unknown target, an option the target class does not take or a wrong type."""
    real_uri, file_opts = device_options(uri, devices_file)
    if scheme_of(real_uri) not in registry:
        raise unknown_target(uri, devices_file)
    cls = registry.get(scheme_of(real_uri))
    given = {k: v for k, v in options.items() if v is not None}
    flags = flags or {}
    for key, value in given.items():  # the caller's own keys first: its errors name its flags
        parse_options(cls.Options, {key: value}, where=f"{flags[key]}: " if key in flags else "option ",
                      kind=cls.name or scheme_of(real_uri))
    merged = parse_options(cls.Options, {**file_opts, **given}, where="option ", kind=scheme_of(real_uri))
    return cls(real_uri, merged)


discover(sys.modules[__name__], skip=("base",))
