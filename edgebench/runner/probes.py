"""Host, device-state and memory probes: stdlib + numpy, read in the runner's own process.

Memory (the one definition used for every runtime; bytes) — see :data:`MEMORY_DEFINITION`:
  peak_rss_bytes        high-water resident set of the runner process (VmHWM from /proc/self/status,
                        else ru_maxrss) at the end: interpreter + numpy + runtime library + model.
  baseline_rss_bytes    RSS after importing the runtime, before loading the model.
  load_rss_delta_bytes  RSS right after loading the model and preparing inputs − baseline_rss_bytes.
  pss_bytes             proportional set size from /proc/self/smaps_rollup at the end (shared pages
                        split among the processes sharing them); null where not readable.
So ``peak_rss_bytes − baseline_rss_bytes`` is what the model (not Python or the runtime) costs at peak.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np

MEMORY_DEFINITION = (
    "peak_rss_bytes: runner-process high-water RSS (VmHWM, else ru_maxrss) incl. interpreter and runtime; "
    "baseline_rss_bytes: RSS after importing the runtime, before loading; "
    "load_rss_delta_bytes: RSS after load and input preparation minus baseline; "
    "pss_bytes: Pss from /proc/self/smaps_rollup at the end"
)


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _cpuinfo_value(keys: tuple[str, ...]) -> str | None:
    text = _read("/proc/cpuinfo") or ""
    for key in keys:
        for line in text.splitlines():
            if ":" in line and line.split(":", 1)[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return None


def cpu_model() -> str | None:
    """The CPU's marketing name (``model name`` / ``Hardware`` / ``Model`` in /proc/cpuinfo), else
    ``platform.processor()``; None when nothing says."""
    return _cpuinfo_value(("model name", "Hardware", "Model", "cpu model")) or platform.processor() or None


def cpu_flags() -> list[str] | None:
    """The CPU's feature flags, sorted: ``flags`` (x86) or ``Features`` (Arm) of the first CPU in
    /proc/cpuinfo, e.g. ``avx2``, ``avx512_vnni``, ``avx_vnni``, ``asimddp``; None where /proc is missing."""
    value = _cpuinfo_value(("flags", "Features"))
    return sorted(set(value.split())) if value else None


# the vector / matrix ISA extensions that decide how fast fp32, fp16 and int8 kernels run
ISA_PREFIXES = ("avx", "amx", "fma", "f16c", "sse4", "asimd", "sve", "i8mm", "bf16", "dotprod", "fphp", "neon")


def isa_flags() -> list[str] | None:
    """The CPU's SIMD / matrix feature flags (:data:`ISA_PREFIXES`), sorted; None where unknown."""
    flags = cpu_flags()
    return None if flags is None else [f for f in flags if f.startswith(ISA_PREFIXES)]


def _cpu_dirs() -> list[str]:
    base = "/sys/devices/system/cpu"
    try:
        names = os.listdir(base)
    except OSError:
        return []
    cpus = [n for n in names if n.startswith("cpu") and n[3:].isdigit()]
    return [os.path.join(base, n) for n in sorted(cpus, key=lambda n: int(n[3:]))]


def device_state() -> dict:
    """Per-core governor and current frequency (kHz), thermal zones (°C), load average and the
    wall-clock ``time`` (s since the epoch); each None where the OS does not expose it."""
    governors, freqs = {}, {}
    for d in _cpu_dirs():
        name = os.path.basename(d)
        gov = _read(os.path.join(d, "cpufreq", "scaling_governor"))
        cur = _read(os.path.join(d, "cpufreq", "scaling_cur_freq"))
        if gov is not None:
            governors[name] = gov
        if cur is not None and cur.isdigit():
            freqs[name] = int(cur)
    thermal = {}
    base = "/sys/class/thermal"
    try:
        zones = sorted(z for z in os.listdir(base) if z.startswith("thermal_zone"))
    except OSError:
        zones = []
    for z in zones:
        temp = _read(os.path.join(base, z, "temp"))
        kind = _read(os.path.join(base, z, "type")) or z
        if temp is not None and temp.lstrip("-").isdigit():
            thermal[kind] = int(temp) / 1000.0
    try:
        load = list(os.getloadavg())
    except (OSError, AttributeError):
        load = None
    return {"time": time.time(), "governors": governors or None, "cur_freq_khz": freqs or None,
            "thermal_c": thermal or None, "loadavg": load}


def affinity() -> list[int] | None:
    """CPUs this process may run on (None where the OS does not say)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def host_info() -> dict:
    """The machine: hostname, CPU model, cores, arch, OS, Python, numpy, governors, max frequency
    per core (kHz), this process's CPU affinity and the SIMD feature flags (:func:`isa_flags`)."""
    max_freq = {}
    for d in _cpu_dirs():
        f = _read(os.path.join(d, "cpufreq", "cpuinfo_max_freq"))
        if f is not None and f.isdigit():
            max_freq[os.path.basename(d)] = int(f)
    state = device_state()
    return {
        "hostname": platform.node(), "cpu_model": cpu_model(), "cores": os.cpu_count(),
        "arch": platform.machine(), "os": platform.platform(), "python": platform.python_version(),
        "numpy": np.__version__, "governors": state["governors"], "max_freq_khz": max_freq or None,
        "affinity": affinity(), "isa_flags": isa_flags(),
    }


def _status_kb(key: str) -> int | None:
    text = _read("/proc/self/status")
    if text:
        for line in text.splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def current_rss() -> int | None:
    """Resident set size now, in bytes (VmRSS; None where /proc is missing)."""
    return _status_kb("VmRSS")


def peak_rss() -> int | None:
    """High-water RSS in bytes: VmHWM, else ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm
    try:
        import resource
    except ImportError:
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def pss() -> int | None:
    """Proportional set size in bytes from /proc/self/smaps_rollup (Linux ≥ 4.14), else None."""
    text = _read("/proc/self/smaps_rollup")
    if text:
        for line in text.splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return None
