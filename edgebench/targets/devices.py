"""The devices file: short aliases for targets plus per-device options.

``~/.config/edgebench/devices.toml`` (or ``--devices FILE``, or ``$EDGEBENCH_DEVICES``), one table
per alias::

    [pi4]
    uri = "ssh:pi@raspberrypi.local"
    python = "/home/pi/venv/bin/python"   # remote interpreter (default python3)
    accept_new_host_key = true

    [pixel]
    uri = "adb:1A2B3C4D"
    runner = "benchmark_model"            # or "app"
    benchmark_binary = "~/android/benchmark_model"
    cooldown_temp_c = 40

Besides ``uri`` and ``description`` a table holds the options of its target class: the fields of
that class's ``Options`` dataclass (``edgebench doctor`` and the errors list them). A wrong key or
type is one line naming the file and ``[alias].key``. ``edgebench run --target pi4`` and
``--target adb:pixel`` both find their entry here.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.errors import ConfigError
from edgebench.targets.base import parse_options, registry

DEFAULT_PATH = Path("~/.config/edgebench/devices.toml")
GENERIC_KEYS = ("uri", "description")


@dataclass(frozen=True)
class Device:
    """One entry of the devices file: its alias, target URI and target options (validated)."""

    alias: str
    uri: str
    options: dict[str, Any] = field(default_factory=dict)


def devices_path(devices_file: str | os.PathLike | None = None) -> Path:
    """The devices file in use: ``devices_file``, ``$EDGEBENCH_DEVICES`` or the default path."""
    if devices_file:
        return Path(devices_file).expanduser()
    env = os.environ.get("EDGEBENCH_DEVICES")
    return Path(env).expanduser() if env else DEFAULT_PATH.expanduser()


def scheme_of(uri: str) -> str:
    """The target scheme of a URI (``ssh:pi@x`` → ``ssh``, ``local`` → ``local``)."""
    return uri.split(":", 1)[0]


def load_devices(devices_file: str | os.PathLike | None = None) -> dict[str, Device]:
    """Every alias in the devices file (empty when the default file does not exist).

    A named file that is missing, unparsable or has a wrong key raises ConfigError (one line)
    naming the file and ``[alias].key``; options are checked against the ``Options`` of the
    target class the alias's URI names."""
    path = devices_path(devices_file)
    if not path.exists():
        if devices_file:
            raise ConfigError(f"devices file {path} does not exist",
                              hint="create it (see `edgebench devices --help`) or drop --devices")
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"devices file {path}: {exc}", hint="fix the TOML syntax") from None
    out: dict[str, Device] = {}
    for alias, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"devices file {path}: `{alias}` must be a table like [{alias}] with uri = \"…\"")
        where = f"devices file {path}: [{alias}]."
        uri = table.get("uri")
        if not uri or not isinstance(uri, str):
            raise ConfigError(f"{where}uri is missing or not a string",
                              hint='e.g. uri = "ssh:pi@raspberrypi.local" or uri = "adb:SERIAL"')
        if scheme_of(uri) not in registry:
            raise ConfigError(f"{where}uri {uri!r} names no target kind",
                              hint=f"start it with one of: {', '.join(registry.names())}")
        if not isinstance(table.get("description", ""), str):
            raise ConfigError(f"{where}description must be str")
        opts = {k: v for k, v in table.items() if k not in GENERIC_KEYS}
        cls = registry.get(scheme_of(uri))
        parse_options(cls.Options, opts, where=where, kind=scheme_of(uri))  # validates; raises one line
        out[alias] = Device(alias, uri, opts)
    return out


def unknown_target(name: str, devices_file: str | os.PathLike | None = None) -> ConfigError:
    """The error for a target that is neither a URI of a registered kind nor an alias."""
    devices = load_devices(devices_file)
    known = ", ".join(sorted(devices)) or "none"
    kinds = ", ".join(registry.names())
    return ConfigError(f"unknown target {name!r} (no target kind {scheme_of(name)!r} among {kinds}, and not an "
                       f"alias in {devices_path(devices_file)}; aliases: {known})",
                       hint="use local, ssh:user@host[:port], adb:SERIAL or add the alias to the devices file")


def lookup_alias(name: str, devices_file: str | os.PathLike | None = None) -> str:
    """The target URI behind an alias (``pi4`` → ``ssh:pi@raspberrypi.local``).

    Raises ConfigError when the alias is not in the devices file."""
    devices = load_devices(devices_file)
    if name in devices:
        return devices[name].uri
    raise unknown_target(name, devices_file)


def device_options(uri: str, devices_file: str | os.PathLike | None = None) -> tuple[str, dict[str, Any]]:
    """(uri, options) for a target URI or alias after applying its devices-file entry.

    ``pixel`` and ``adb:pixel`` both resolve through the ``[pixel]`` entry (the latter only when
    that entry is an adb one); a full URI picks up the options of the entry whose ``uri`` is exactly
    that URI; anything else comes back unchanged with no options. Options given on the command
    line win over the file (the caller merges them on top)."""
    devices = load_devices(devices_file)
    scheme, sep, rest = uri.partition(":")
    for candidate in (uri, rest if sep else None):
        if candidate and candidate in devices:
            dev = devices[candidate]
            if candidate == rest and scheme_of(dev.uri) != scheme:
                continue
            return dev.uri, dict(dev.options)
    for dev in devices.values():
        if dev.uri == uri:
            return dev.uri, dict(dev.options)
    return uri, {}
