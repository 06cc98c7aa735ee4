"""The devices file: short aliases for remote targets plus per-device options.

``~/.config/edgebench/devices.toml`` (or ``--devices FILE``), one table per alias::

    [pi4]
    uri = "ssh:pi@raspberrypi.local"
    python = "/home/pi/venv/bin/python"   # remote interpreter (default python3)
    accept_new_host_key = true

    [pixel]
    uri = "adb:1A2B3C4D"
    runner = "benchmark_model"            # or "app"
    benchmark_binary = "~/android/benchmark_model"
    cooldown_temp_c = 40

``edgebench run --target pi4`` and ``--target adb:pixel`` both find their entry here.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.errors import ConfigError

DEFAULT_PATH = Path("~/.config/edgebench/devices.toml")

# option name → accepted Python types; anything else in the file is a typo worth one clear line
OPTIONS: dict[str, tuple[type, ...]] = {
    "uri": (str,),
    "description": (str,),
    # ssh
    "python": (str,),
    "accept_new_host_key": (bool,),
    "identity_file": (str,),
    "ssh_options": (list,),
    "workdir": (str,),
    # adb
    "runner": (str,),
    "benchmark_binary": (str,),
    "benchmark_args": (list,),
    "apk": (str,),
    "app_timeout_s": (int, float),
    # both
    "timeout_s": (int, float),
    "connect_timeout_s": (int, float),
    "cooldown_temp_c": (int, float),
    "cooldown_timeout_s": (int, float),
    "cooldown_poll_s": (int, float),
    "retries": (int,),
}


@dataclass(frozen=True)
class Device:
    """One entry of the devices file."""

    alias: str
    uri: str
    options: dict[str, Any] = field(default_factory=dict)


def devices_path(devices_file: str | os.PathLike | None = None) -> Path:
    """The devices file in use: ``devices_file``, ``$EDGEBENCH_DEVICES`` or the default path."""
    if devices_file:
        return Path(devices_file).expanduser()
    env = os.environ.get("EDGEBENCH_DEVICES")
    return Path(env).expanduser() if env else DEFAULT_PATH.expanduser()


def load_devices(devices_file: str | os.PathLike | None = None) -> dict[str, Device]:
    """Every alias in the devices file (empty when the default file does not exist).

    A named file that is missing, unparsable or has a wrong field raises ConfigError naming the
    file and the field."""
    path = devices_path(devices_file)
    if not path.exists():
        if devices_file:
            raise ConfigError(f"devices file {path} does not exist",
                              hint="create it (see `edgebench devices --help`) or drop --devices")
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"devices file {path}: {exc}", hint="fix the TOML syntax") from None
    out: dict[str, Device] = {}
    for alias, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"devices file {path}: `{alias}` must be a table like [{alias}] with uri = \"…\"")
        for key, value in table.items():
            where = f"devices file {path}: [{alias}].{key}"
            if key not in OPTIONS:
                raise ConfigError(f"{where} is not a known option",
                                  hint=f"known: {', '.join(sorted(OPTIONS))}")
            if not isinstance(value, OPTIONS[key]) or (isinstance(value, bool) and bool not in OPTIONS[key]):
                raise ConfigError(f"{where} must be {' or '.join(t.__name__ for t in OPTIONS[key])}, "
                                  f"not {type(value).__name__}")
        uri = table.get("uri")
        if not uri:
            raise ConfigError(f"devices file {path}: [{alias}].uri is missing",
                              hint='e.g. uri = "ssh:pi@raspberrypi.local" or uri = "adb:SERIAL"')
        if not uri.startswith(("ssh:", "adb:", "local")):
            raise ConfigError(f"devices file {path}: [{alias}].uri {uri!r} is not ssh:…, adb:… or local")
        opts = {k: v for k, v in table.items() if k not in ("uri", "description")}
        out[alias] = Device(alias, uri, opts)
    return out


def lookup_alias(name: str, devices_file: str | os.PathLike | None = None) -> str:
    """The target URI behind an alias (``pi4`` → ``ssh:pi@raspberrypi.local``).

    Raises ConfigError when the alias is not in the devices file."""
    devices = load_devices(devices_file)
    if name in devices:
        return devices[name].uri
    path = devices_path(devices_file)
    known = ", ".join(sorted(devices)) or "none"
    raise ConfigError(f"unknown target {name!r} (not local, ssh:…, adb:… nor an alias in {path}; aliases: {known})",
                      hint="use local, ssh:user@host[:port], adb:SERIAL or add the alias to the devices file")


def device_options(uri: str, devices_file: str | os.PathLike | None = None) -> tuple[str, dict[str, Any]]:
    """(uri, options) for a target URI or alias after applying its devices-file entry.

    ``adb:pixel`` and ``pixel`` both resolve through the ``[pixel]`` entry; a full URI picks up the
    options of the entry whose ``uri`` is exactly that URI. Options given on the command line win
    over the file (the caller merges them on top)."""
    devices = load_devices(devices_file)
    scheme, _, rest = uri.partition(":")
    for candidate in (uri, rest if scheme in ("ssh", "adb") else None):
        if candidate and candidate in devices:
            dev = devices[candidate]
            if scheme in ("ssh", "adb") and not dev.uri.startswith(scheme + ":"):
                continue
            return dev.uri, dict(dev.options)
    for dev in devices.values():
        if dev.uri == uri:
            return dev.uri, dict(dev.options)
    return uri, {}


def target_checks(uri: str, devices_file: str | os.PathLike | None = None, **options: Any) -> list:
    """``edgebench doctor --target URI`` rows (edgebench.doctor.Check, kind ``target``): the
    client, reachability, the device's Python / runtimes / tools, and the exact command that
    installs whatever is missing. Never raises for an unreachable device: that is a row."""
    from edgebench.doctor import Check
    from edgebench.errors import EdgebenchError
    from edgebench.targets import resolve

    try:
        target = resolve(uri, devices_file=devices_file, **options)
    except EdgebenchError as err:
        return [Check(uri, "target", False, str(err))]
    doctor = getattr(target, "doctor", None)
    if doctor is None:
        reason = target.unavailable_reason()
        return [Check(uri, "target", reason is None, reason or "available")]
    return [Check(f"{uri}: {name}", "target", ok, detail) for name, ok, detail in doctor()]


def list_devices(devices_file: str | os.PathLike | None = None, *, probe: bool = True) -> list[dict[str, Any]]:
    """What ``edgebench devices`` shows: every device ``adb devices -l`` reports, then every alias
    of the devices file with its URI and (``probe``) whether it answers right now."""
    import shutil

    from edgebench.errors import EdgebenchError

    rows: list[dict[str, Any]] = []
    adb_devices: list[dict[str, str]] = []
    if shutil.which("adb"):
        from edgebench.targets.adb import list_adb_devices

        try:
            adb_devices = list_adb_devices()
        except EdgebenchError as err:
            rows.append({"name": "adb", "uri": "", "source": "adb", "reachable": False, "detail": str(err)})
        for d in adb_devices:
            detail = " ".join(f"{k}:{v}" for k, v in d.items() if k not in ("serial", "state"))
            rows.append({"name": d.get("model", d["serial"]).replace("_", " "), "uri": f"adb:{d['serial']}",
                         "source": "adb", "reachable": d["state"] == "device", "detail": f"{d['state']} {detail}"})
    for dev in load_devices(devices_file).values():
        reachable, detail = None, ""
        if probe and dev.uri.startswith("adb:"):
            serial = dev.uri[4:]
            match = [d for d in adb_devices if d["serial"] == serial]
            reachable = bool(match) and match[0]["state"] == "device"
            detail = match[0]["state"] if match else "not in adb devices"
        elif probe and dev.uri.startswith("ssh:"):
            from edgebench.targets import resolve

            try:
                target = resolve(dev.uri, devices_file=devices_file, retries=0, connect_timeout_s=5)
                proc = target.transport.run(["uname", "-srm"], timeout=20, stage="probe")
                reachable, detail = proc.returncode == 0, proc.stdout.strip() or proc.stderr.strip()
            except EdgebenchError as err:
                reachable, detail = False, str(err)
        rows.append({"name": dev.alias, "uri": dev.uri, "source": str(devices_path(devices_file)),
                     "reachable": reachable, "detail": detail})
    return rows
