"""Targets: where artifacts run. Each plug-in file registers itself by URI scheme."""

from __future__ import annotations

import sys
from typing import Any

from edgebench.plugins import discover
from edgebench.targets.base import Deployed, DeviceInfo, Target, Transport, register, registry

__all__ = ["Deployed", "DeviceInfo", "Target", "Transport", "register", "registry", "resolve"]


def resolve(uri: str, **options: Any) -> Target:
    """A Target for ``uri``: ``local``, ``ssh:user@host[:port]``, ``adb:SERIAL|ALIAS``, or an alias
    from the devices file (``options['devices_file']`` or ``~/.config/edgebench/devices.toml``)."""
    scheme = uri.split(":", 1)[0]
    if scheme in registry:
        return registry.get(scheme)(uri, **options)
    from edgebench.targets.devices import lookup_alias  # the devices file (aliases → URIs)

    return resolve(lookup_alias(uri, options.get("devices_file")), **options)


discover(sys.modules[__name__], skip=("base",))
