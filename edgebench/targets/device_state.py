"""Device state of a remote machine, read with one shell command over any Transport.

Same shape as the runner's in-process ``device_state()`` (``edgebench/runner/probes.py``) (``governors``,
``cur_freq_khz``, ``thermal_c``, ``loadavg``) plus what only the outside can see: the CPU model and SIMD flags (``isa_flags``),
``vcgencmd measure_temp`` / ``get_throttled`` on a Raspberry Pi, and on Android the ``getprop``
identity (model, SoC, platform, Android version), ``dumpsys battery`` temperature and
``dumpsys thermalservice`` status. :func:`cooldown` is the gate that waits for a cool device.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from edgebench.errors import RunError, TargetError
from edgebench.runner.probes import ISA_PREFIXES
from edgebench.targets.transport import Transport


@dataclass(frozen=True)
class CooldownOptions:
    """Target options of the cool-down gate: wait until the device is at or below
    ``cooldown_temp_c`` (°C; None = do not wait) for at most ``cooldown_timeout_s`` seconds,
    reading its temperature every ``cooldown_poll_s`` seconds."""

    cooldown_temp_c: float | None = None
    cooldown_timeout_s: float = 300.0
    cooldown_poll_s: float = 5.0

# Constant scripts (no user input is ever formatted into them); they run under `sh -c` on the
# device and print one `@key value…` line per fact so that a missing file is just a missing line.
LINUX_SCRIPT = r"""
echo "@arch $(uname -m 2>/dev/null)"
grep -m1 -E '^(model name|Hardware|Model|cpu model)[[:space:]]*:' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*:[[:space:]]*/@cpu_model /'
grep -m1 -E '^(flags|Features)[[:space:]]*:' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*:[[:space:]]*/@features /'
echo "@cores $(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null)"
echo "@loadavg $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  [ -d "$c" ] || continue
  echo "@cpu ${c##*/} $(cat "$c/cpufreq/scaling_governor" 2>/dev/null || echo -) $(cat "$c/cpufreq/scaling_cur_freq" 2>/dev/null || echo -)"
done
for z in /sys/class/thermal/thermal_zone[0-9]*; do
  [ -d "$z" ] || continue
  echo "@zone ${z##*/} $(cat "$z/temp" 2>/dev/null || echo -) $(cat "$z/type" 2>/dev/null | tr ' ' _)"
done
if command -v vcgencmd >/dev/null 2>&1; then
  echo "@vcgencmd_temp $(vcgencmd measure_temp 2>/dev/null)"
  echo "@vcgencmd_throttled $(vcgencmd get_throttled 2>/dev/null)"
fi
"""

ANDROID_PROPS = {
    "model": "ro.product.model", "manufacturer": "ro.product.manufacturer",
    "soc_manufacturer": "ro.soc.manufacturer", "soc": "ro.soc.model", "platform": "ro.board.platform",
    "hardware": "ro.hardware", "release": "ro.build.version.release", "sdk": "ro.build.version.sdk",
    "abi": "ro.product.cpu.abi", "fingerprint": "ro.build.fingerprint",
}
ANDROID_SCRIPT = LINUX_SCRIPT + "".join(
    f'echo "@prop {key} $(getprop {prop} 2>/dev/null)"\n' for key, prop in ANDROID_PROPS.items()) + r"""
dumpsys battery 2>/dev/null | sed -n 's/^[[:space:]]*temperature:[[:space:]]*/@battery_temp /p'
dumpsys thermalservice 2>/dev/null | sed -n -e 's/^[[:space:]]*Thermal Status:[[:space:]]*/@thermal_status /p' \
  -e 's/.*Temperature{mValue=\([^,]*\), mType=[^,]*, mName=\([^,]*\),.*/@hal_temp \2 \1/p'
"""

_CPU_ZONE_WORDS = ("cpu", "soc", "tsens", "cluster", "big", "little", "mid", "core", "x86_pkg")


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _zone_c(raw: str) -> float | None:
    value = _num(raw)
    if value is None:
        return None
    # sysfs reports millidegrees; a few vendor zones report whole degrees
    return value / 1000.0 if abs(value) >= 200 else value


def parse_state(text: str) -> dict[str, Any]:
    """The dict for one run of :data:`LINUX_SCRIPT` / :data:`ANDROID_SCRIPT` output."""
    state: dict[str, Any] = {"time": time.time(), "governors": None, "cur_freq_khz": None,
                             "thermal_c": None, "loadavg": None}
    governors: dict[str, str] = {}
    freqs: dict[str, int] = {}
    thermal: dict[str, float] = {}
    props: dict[str, str] = {}
    hal: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("@"):
            continue
        key, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        parts = rest.split()
        if key in ("arch", "cpu_model") and rest:
            state[key] = rest
        elif key == "features" and parts:  # the SIMD flags only, as the runner records them
            state["isa_flags"] = sorted({f for f in parts if f.startswith(ISA_PREFIXES)})
        elif key == "cores" and rest.isdigit():
            state["cores"] = int(rest)
        elif key == "loadavg" and len(parts) == 3:
            state["loadavg"] = [_num(p) for p in parts]
        elif key == "cpu" and len(parts) == 3:
            if parts[1] != "-":
                governors[parts[0]] = parts[1]
            if parts[2].isdigit():
                freqs[parts[0]] = int(parts[2])
        elif key == "zone" and len(parts) >= 2:
            temp = _zone_c(parts[1])
            if temp is not None:
                name = parts[2] if len(parts) > 2 else parts[0]
                thermal[name if name not in thermal else f"{name}#{parts[0]}"] = temp
        elif key == "vcgencmd_temp":
            value = rest.removeprefix("temp=").rstrip("'C").rstrip("C").rstrip("'")
            state.setdefault("vcgencmd", {})["temp_c"] = _num(value)
        elif key == "vcgencmd_throttled":
            state.setdefault("vcgencmd", {})["throttled"] = rest.removeprefix("throttled=") or None
        elif key == "prop" and parts:
            if len(parts) > 1:
                props[parts[0]] = rest[len(parts[0]):].strip()
        elif key == "battery_temp" and _num(rest) is not None:
            state["battery_temp_c"] = _num(rest) / 10.0  # dumpsys battery reports tenths of a degree
        elif key == "thermal_status" and rest:
            state["thermal_status"] = int(rest) if rest.isdigit() else rest
        elif key == "hal_temp" and len(parts) == 2 and _num(parts[1]) is not None:
            hal[parts[0]] = _num(parts[1])
    state["governors"] = governors or None
    state["cur_freq_khz"] = freqs or None
    state["thermal_c"] = thermal or None
    if props:
        state["android"] = props
    if hal:
        state["hal_temps_c"] = hal
    return state


def collect(transport: Transport, *, android: bool = False, timeout: float = 30) -> dict[str, Any]:
    """Device state read over ``transport`` (one remote command). Never raises for a missing
    sensor; raises the transport's TargetError when the device is unreachable."""
    script = ANDROID_SCRIPT if android else LINUX_SCRIPT
    proc = transport.run(["sh", "-c", script], timeout=timeout)
    return parse_state(proc.stdout or "")


def temperature(state: dict[str, Any]) -> tuple[float, str] | None:
    """The temperature the cool-down gate watches, and where it came from: the hottest CPU/SoC
    thermal zone, else ``vcgencmd``, else the hottest zone, else the Android HAL, else the battery."""
    zones = state.get("thermal_c") or {}
    cpu = {k: v for k, v in zones.items() if any(w in k.lower() for w in _CPU_ZONE_WORDS)}
    if cpu:
        name = max(cpu, key=cpu.get)
        return cpu[name], f"thermal_zone:{name}"
    vc = (state.get("vcgencmd") or {}).get("temp_c")
    if vc is not None:
        return vc, "vcgencmd"
    if zones:
        name = max(zones, key=zones.get)
        return zones[name], f"thermal_zone:{name}"
    hal = state.get("hal_temps_c") or {}
    if hal:
        name = max(hal, key=hal.get)
        return hal[name], f"thermalservice:{name}"
    if state.get("battery_temp_c") is not None:
        return state["battery_temp_c"], "battery"
    return None


def cooldown(read_state: Callable[[], dict[str, Any]], threshold_c: float, *, timeout_s: float = 300,
             poll_s: float = 5, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Wait until the device is at or below ``threshold_c`` (°C), at most ``timeout_s`` seconds,
    polling every ``poll_s``. Returns the record kept with the measurement: threshold, start and end
    temperature, sensor, seconds waited, polls and ``reached`` (False on timeout, None when no
    sensor is readable). Measuring goes on either way; the record says how warm it started."""
    start = clock()
    reading = temperature(read_state())
    record: dict[str, Any] = {"threshold_c": threshold_c, "start_temp_c": reading[0] if reading else None,
                              "source": reading[1] if reading else None, "polls": 1}
    while reading is not None and reading[0] > threshold_c and clock() - start < timeout_s:
        sleep(min(poll_s, max(0.0, timeout_s - (clock() - start))))
        reading = temperature(read_state())
        record["polls"] += 1
    record["end_temp_c"] = reading[0] if reading else None
    record["waited_s"] = round(clock() - start, 3)
    record["reached"] = None if reading is None else reading[0] <= threshold_c
    return record


def merge(runner_state: dict[str, Any] | None, remote_state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The runner's in-process state completed with what only the shell sees (CPU model,
    vcgencmd, Android identity …); the runner's own readings win where both have a value."""
    if runner_state is None:
        return remote_state
    if remote_state is None:
        return runner_state
    out = dict(remote_state)
    out.update({k: v for k, v in runner_state.items() if v is not None})
    return out


def collect_or_none(transport: Transport, *, android: bool = False) -> dict[str, Any] | None:
    """:func:`collect`, or None when the read hangs or the device vanished: a state snapshot must
    never cost the measurement it brackets."""
    try:
        return collect(transport, android=android)
    except (RunError, TargetError):
        return None


def gate(options: CooldownOptions, transport: Transport, *, android: bool = False) -> dict[str, Any] | None:
    """The cool-down record (:func:`cooldown`) when ``options.cooldown_temp_c`` is set, else None."""
    if options.cooldown_temp_c is None:
        return None
    return cooldown(lambda: collect(transport, android=android), float(options.cooldown_temp_c),
                    timeout_s=float(options.cooldown_timeout_s), poll_s=float(options.cooldown_poll_s))


def record(raw: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any] | None,
           cool: dict[str, Any] | None) -> dict[str, Any]:
    """``raw`` with its ``device_state`` recorded the one way every target does it: ``before`` /
    ``after`` are the runner's own in-process readings (if it made any) completed with the shell
    readings taken around the run (:func:`merge`), plus the cool-down record when there was one.
    Returns ``raw`` (changed in place)."""
    ds = raw.get("device_state") or {}
    raw["device_state"] = {**ds, "before": merge(ds.get("before"), before), "after": merge(ds.get("after"), after)}
    if cool is not None:
        raw["device_state"]["cooldown"] = cool
    return raw
