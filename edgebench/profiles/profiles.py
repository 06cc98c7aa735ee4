"""Device profiles: what a CPU can do, as data with a source for every number.

A profile is one TOML file::

    name = "pi5"
    tier = "pi"                      # low | mid | high | pi | reference | host
    device_class = "Cortex-A76"      # what the profile stands for
    description = "Raspberry Pi 5 (BCM2712)"
    cpu_match = ["Cortex-A76"]       # optional: host CPU names this profile describes

    [[cluster]]                      # one table per core cluster, fastest first
    core = "Cortex-A76"
    count = 4
    ghz = 2.4
    big = true                       # "1-big" / "all-big" thread settings use big cores only
    fp32_gflops = 38.37              # peak per core
    fp16_gflops = 76.74              # 0 = no fp16 arithmetic (fp16 models run in fp32)
    int8_gops = 153.5                # peak per core, ops = 2 × MACs
    int8_dot = "sdot"                # none | sdot | sdot+i8mm
    source = "pigirons/cpufp benchmark_result (Raspberry Pi 5)"

    [memory]
    bandwidth_gbs = 17.1
    source = "LPDDR4X-4267, 32-bit bus: 4267 MT/s × 4 B"

    published_as = ["Raspberry Pi 5"] # optional: rows of data/reference/published_latencies.csv
                                     # with this device name are the profile's reference rows

    [[reference]]                    # optional, repeatable: a reference model's latency here
    model = "mobilenet_v2"           # a reference model (see edgebench.profiles.references)
    precision = "fp32"
    threads = 4
    runtime = "litert"               # the runner's runtime name
    latency_ms = 21.3
    source = "edgebench run 3f2a… on ssh:pi@pi5"

    [efficiency]                     # optional (default: the shared mobile prior below);
                                     # share of peak a mobile runtime reaches per operator class
    dense_conv = 0.55
    depthwise_conv = 0.2
    matmul = 0.55
    elementwise = 0.4                # share of memory bandwidth
    op_overhead_us = 4.0             # fixed cost per dispatched operator on this device
    parallel_efficiency = 0.85       # each extra big core adds this share of its peak
    source = "…"

A user-written device needs only ``name`` and, per cluster, ``core``, ``count`` and ``ghz``: a core
named in the built-in core table (``data/reference/cores.toml``, ``cortex-a53`` … ``cortex-x3``, each with its
source) fills in the peaks, fp16 / dot-product support and a typical memory bandwidth; any of them
given in the file overrides the table. ``edgebench profile add`` writes such a file.

Built-in profiles live in ``edgebench/profiles/data/``; a user's in ``~/.config/edgebench/profiles/``
and in any ``--profiles DIR``. A later directory overrides an earlier profile of the same name.
A bad file raises :class:`~edgebench.errors.ConfigError` naming the file and the field.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from edgebench.errors import ConfigError
from edgebench.profiles.references import ReferenceRow, rows_for

BUILTIN_DIR = Path(__file__).resolve().parent / "data"
USER_DIR = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "edgebench" / "profiles"
CORES_FILE = BUILTIN_DIR / "reference" / "cores.toml"
TIERS = ("low", "mid", "high", "pi", "reference", "device", "host")
INT8_DOT = ("none", "sdot", "sdot+i8mm", "vnni")
THREAD_SETTINGS = ("1-big", "all-big")


@dataclass(frozen=True)
class Cluster:
    """A group of identical cores."""

    core: str
    count: int
    ghz: float
    big: bool
    fp32_gflops: float
    fp16_gflops: float
    int8_gops: float
    int8_dot: str
    source: str

    def peak_gops(self, precision: str) -> float:
        """Peak per core in G ops/s (2 per MAC) at ``precision``; fp16 without fp16 arithmetic runs as fp32."""
        if precision == "int8":
            return self.int8_gops
        if precision == "fp16" and self.fp16_gflops > 0:
            return self.fp16_gflops
        return self.fp32_gflops


@dataclass(frozen=True)
class Efficiency:
    """Share of peak a runtime reaches per operator class, per-operator overhead, thread scaling."""

    dense_conv: float
    depthwise_conv: float
    matmul: float
    elementwise: float
    op_overhead_us: float
    parallel_efficiency: float
    source: str


@dataclass(frozen=True)
class Profile:
    """One device (or tier, or host) description. See the module docstring for the file format."""

    name: str
    tier: str
    device_class: str
    description: str
    clusters: tuple[Cluster, ...]
    bandwidth_gbs: float
    memory_source: str
    efficiency: Efficiency
    cpu_match: tuple[str, ...] = ()
    # host profiles: CPU feature flags (as /proc/cpuinfo names them) the CPU must have / must lack
    # for the profile to describe it ("AMD EPYC" is Zen 3 without AVX-512 and Zen 4 with VNNI)
    cpu_flags: tuple[str, ...] = ()
    cpu_flags_absent: tuple[str, ...] = ()
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    references: tuple[ReferenceRow, ...] = ()
    published_as: tuple[str, ...] = ()

    @property
    def big_cores(self) -> list[Cluster]:
        """Big cores one by one, fastest (fp32 peak) first."""
        cores = [c for c in self.clusters if c.big for _ in range(c.count)]
        return sorted(cores, key=lambda c: -c.fp32_gflops)

    def threads(self, setting: str | int) -> int:
        """Number of threads for ``"1-big"`` / ``"all-big"`` (or an explicit count)."""
        if isinstance(setting, int):
            return max(1, setting)
        if setting == "1-big":
            return 1
        if setting == "all-big":
            return len(self.big_cores)
        raise ConfigError(f"unknown thread setting {setting!r}", hint=f"one of {', '.join(THREAD_SETTINGS)}")

    @property
    def sources(self) -> dict[str, str]:
        """Where each group of numbers comes from."""
        out = {f"cluster {c.core}": c.source for c in self.clusters}
        out["memory"] = self.memory_source
        out["efficiency"] = self.efficiency.source
        for r in self.references:
            out[f"reference {r.model}@{r.resolution} {r.precision} {r.threads}t {r.runtime}"] = r.source
        return out


# the efficiency prior every mobile profile shares; a profile without [efficiency] gets it
DEFAULT_EFFICIENCY = Efficiency(
    dense_conv=0.6, depthwise_conv=0.25, matmul=0.6, elementwise=0.5, op_overhead_us=5.0,
    parallel_efficiency=0.85,
    source="default prior shared by every mobile profile: XNNPACK GEMM micro-kernels reach roughly 60 % of peak "
           "on dense convolutions, depthwise kernels are load-bound (~25 %); 5 µs dispatch per operator")


def core_table(path: Path = CORES_FILE) -> dict[str, dict[str, Any]]:
    """The built-in core table: lower-case core name (``cortex-a72``) → per-GHz peaks, dot-product
    support, typical memory bandwidth and the source of each."""
    return tomllib.loads(Path(path).read_text())


def core_key(core: str) -> str:
    """``"Cortex-A72"`` / ``"A72"`` / ``"cortex a72"`` → ``"cortex-a72"`` (the core table's key)."""
    k = core.strip().lower().replace(" ", "-").replace("_", "-")
    return k if k.startswith("cortex-") else f"cortex-{k}"


# --- validation -------------------------------------------------------------------------------

class _Reader:
    """Typed access to one TOML table, raising ConfigError that names the file and the field."""

    def __init__(self, path: Path | str, data: dict[str, Any], prefix: str = ""):
        self.path, self.data, self.prefix = path, data, prefix

    def fail(self, key: str, problem: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"profile {self.path}: field {self.prefix}{key} {problem}", hint=hint)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, positive: bool = False,
            choices: Iterable[str] | None = None) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML ints are fine where a float is expected; bools are not numbers here
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(key, f"must be {names}, got {type(value).__name__} {value!r}")
        if positive and value <= 0:
            raise self.fail(key, f"must be > 0, got {value!r}")
        if choices is not None and value not in choices:
            raise self.fail(key, f"is {value!r}", hint=f"one of {', '.join(choices)}")
        return value

    def table(self, key: str) -> "_Reader":
        value = self.get(key, dict)
        return _Reader(self.path, value, f"{self.prefix}{key}.")

    def no_unknown(self, known: Iterable[str]) -> None:
        unknown = sorted(set(self.data) - set(known))
        if unknown:
            raise self.fail(unknown[0], "is not a known field", hint=f"known: {', '.join(sorted(known))}")


def parse(data: dict[str, Any], path: Path | str = "<profile>") -> Profile:
    """Validate one profile's TOML data into a :class:`Profile` (ConfigError naming file and field)."""
    r = _Reader(path, data)
    r.no_unknown({"name", "tier", "device_class", "description", "cpu_match", "cpu_flags", "cpu_flags_absent",
                  "cluster", "memory", "efficiency", "notes", "published_as", "reference"})
    name = r.get("name", str)
    tier = r.get("tier", str, "device", choices=TIERS)
    cores = core_table()
    clusters_raw = r.get("cluster", list)
    if not clusters_raw:
        raise r.fail("cluster", "is empty", hint="add at least one [[cluster]] table")
    clusters = []
    for i, raw in enumerate(clusters_raw):
        if not isinstance(raw, dict):
            raise r.fail(f"cluster[{i}]", "must be a table ([[cluster]])")
        c = _Reader(path, raw, f"cluster[{i}].")
        c.no_unknown({f.name for f in Cluster.__dataclass_fields__.values()})
        core, ghz = c.get("core", str), c.get("ghz", float, positive=True)
        known = cores.get(core_key(core))
        if known is None and not any(k in raw for k in ("fp32_gflops", "int8_gops", "int8_dot", "source")):
            raise c.fail("core", f"is {core!r}, not in the built-in core table, and the peaks are not given",
                         hint=f"one of {', '.join(sorted(cores))}, or give fp32_gflops, int8_gops, int8_dot "
                              "and source")
        dflt = {} if known is None else {
            "fp32_gflops": known["fp32_per_ghz"] * ghz, "fp16_gflops": known["fp16_per_ghz"] * ghz,
            "int8_gops": known["int8_per_ghz"] * ghz, "int8_dot": known["int8_dot"],
            "source": f"core table ({core_key(core)} × {ghz:g} GHz): {known['source']}"}
        clusters.append(Cluster(
            core=core, count=c.get("count", int, positive=True), ghz=ghz,
            big=c.get("big", bool, i == 0), fp32_gflops=c.get("fp32_gflops", float, dflt.get("fp32_gflops", ...),
                                                               positive=True),
            fp16_gflops=c.get("fp16_gflops", float, dflt.get("fp16_gflops", 0.0)),
            int8_gops=c.get("int8_gops", float, dflt.get("int8_gops", ...), positive=True),
            int8_dot=c.get("int8_dot", str, dflt.get("int8_dot", ...), choices=INT8_DOT),
            source=c.get("source", str, dflt.get("source", ...))))
    if not any(c.big for c in clusters):
        raise r.fail("cluster", "has no big core", hint="mark the cores the runtime uses with big = true")
    fastest = max((c for c in clusters if c.big), key=lambda c: c.fp32_gflops)
    known = cores.get(core_key(fastest.core))
    if "memory" in data or known is None:
        mem = r.table("memory")
        mem.no_unknown({"bandwidth_gbs", "source"})
        bandwidth, mem_source = mem.get("bandwidth_gbs", float, positive=True), mem.get("source", str)
    else:
        bandwidth = float(known["typical_bandwidth_gbs"])
        mem_source = f"core table default for {core_key(fastest.core)} (typical SoC, not this board): {known['source']}"
    if "efficiency" in data:
        eff = r.table("efficiency")
        eff_fields = [f for f in Efficiency.__dataclass_fields__ if f != "source"]
        eff.no_unknown(eff_fields + ["source"])
        values = {k: eff.get(k, float, positive=True) for k in eff_fields}
        if values["parallel_efficiency"] > 1:
            raise eff.fail("parallel_efficiency", f"must be ≤ 1, got {values['parallel_efficiency']}")
        efficiency = Efficiency(**values, source=eff.get("source", str))
    else:
        efficiency = DEFAULT_EFFICIENCY
    cpu_match = r.get("cpu_match", list, [])
    if not all(isinstance(m, str) for m in cpu_match):
        raise r.fail("cpu_match", "must be a list of strings")
    flags = {k: r.get(k, list, []) for k in ("cpu_flags", "cpu_flags_absent")}
    for k, v in flags.items():
        if not all(isinstance(m, str) for m in v):
            raise r.fail(k, "must be a list of CPU feature flags, e.g. [\"avx512_vnni\"]")
    published_as = r.get("published_as", list, [])
    if not all(isinstance(m, str) for m in published_as):
        raise r.fail("published_as", "must be a list of device names of the published table")
    refs = [replace(x, device=name) for x in rows_for(published_as)]
    for i, raw in enumerate(r.get("reference", list, [])):
        if not isinstance(raw, dict):
            raise r.fail(f"reference[{i}]", "must be a table ([[reference]])")
        x = _Reader(path, raw, f"reference[{i}].")
        x.no_unknown({f for f in ReferenceRow.__dataclass_fields__ if f != "device"})
        refs.append(ReferenceRow(
            model=x.get("model", str), precision=x.get("precision", str, choices=("fp32", "fp16", "int8")),
            threads=x.get("threads", int, positive=True), runtime=x.get("runtime", str),
            latency_ms=x.get("latency_ms", float, positive=True), source=x.get("source", str),
            resolution=x.get("resolution", int, 224, positive=True), engine=x.get("engine", str, None),
            int8_dot_kernels=x.get("int8_dot_kernels", bool, None), device=name))
    return Profile(
        name=name, tier=tier, device_class=r.get("device_class", str, fastest.core),
        description=r.get("description", str, ""),
        clusters=tuple(clusters), bandwidth_gbs=bandwidth, memory_source=mem_source, efficiency=efficiency,
        cpu_match=tuple(cpu_match), cpu_flags=tuple(flags["cpu_flags"]),
        cpu_flags_absent=tuple(flags["cpu_flags_absent"]), path=str(path), extra={"notes": data.get("notes")} if data.get("notes") else {},
        references=tuple(refs), published_as=tuple(published_as),
    )


def load_file(path: Path) -> Profile:
    """Read and validate one profile file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"profile {path}: cannot read: {exc.strerror}") from None
    return parse(data, path)


def profile_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    """Where profiles are read from, lowest priority first: built-in, the user's config, ``--profiles``."""
    dirs = [BUILTIN_DIR, USER_DIR]
    for d in extra:
        d = Path(d)
        if not d.is_dir():
            raise ConfigError(f"--profiles {d} is not a directory")
        dirs.append(d)
    return dirs


def load_profiles(extra_dirs: Iterable[Path] = ()) -> dict[str, Profile]:
    """Every profile by name: built-in, then ``~/.config/edgebench/profiles/``, then each extra dir."""
    out: dict[str, Profile] = {}
    for d in profile_dirs(extra_dirs):
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.toml")):
            p = load_file(path)
            out[p.name] = p
    return out


def select(profiles: dict[str, Profile], names: Iterable[str]) -> list[Profile]:
    """The profiles named (``--tiers low,mid,pi4``); an unknown name is a ConfigError listing the known ones."""
    chosen = []
    for n in names:
        n = n.strip()
        if not n:
            continue
        if n not in profiles:
            raise ConfigError(f"unknown profile {n!r}", hint=f"known: {', '.join(sorted(profiles))}")
        chosen.append(profiles[n])
    return chosen


def host_profile(profiles: dict[str, Profile], cpu: str | None, arch: str | None = None,
                 flags: Iterable[str] | None = None) -> tuple[Profile, str]:
    """The host profile describing ``cpu`` (by ``cpu_match``) whose ``cpu_flags`` the CPU has and
    whose ``cpu_flags_absent`` it lacks (``flags``: the run's recorded SIMD flags; None = not
    recorded, then the name alone decides and the reason says so), else the generic one for
    ``arch`` and those flags. A profile whose peaks describe another CPU of the same name (an
    AVX2 Zen 3 for an AVX-512 VNNI Zen 4) would carry the difference into every projection.

    Returns the profile and how it was chosen (stored with every projection)."""
    hosts = [p for p in profiles.values() if p.tier == "host"]
    have = None if flags is None else set(flags)

    def fits(p: Profile) -> bool:
        return have is None or (set(p.cpu_flags) <= have and not set(p.cpu_flags_absent) & have)

    cpu_l = (cpu or "").lower()
    unchecked = " (the run recorded no CPU flags: matched by name only)" if have is None else ""
    for p in hosts:
        if any(m.lower() in cpu_l for m in p.cpu_match if m) and fits(p):
            return p, f"host profile {p.name} matches CPU {cpu!r}{unchecked}"
    x86 = (arch or "").lower() not in ("aarch64", "arm64")
    generics = [p for p in hosts if not p.cpu_match and p.name.startswith(
        "host-generic-x86-64" if x86 else "host-generic-arm64")]
    # the most specific generic that fits first (AVX2 without VNNI before the VNNI catch-all)
    generics.sort(key=lambda p: -(len(p.cpu_flags) + len(p.cpu_flags_absent)))
    generic = next((p for p in generics if fits(p)), None)
    if generic is not None:
        return generic, f"no host profile matches CPU {cpu!r}: generic {generic.name} (less accurate)"
    raise ConfigError(f"no host profile describes CPU {cpu!r}",
                      hint="add one with tier = \"host\" and cpu_match to ~/.config/edgebench/profiles/")


# --- writing a user's profile -------------------------------------------------------------------

def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def reference_toml(row: ReferenceRow) -> str:
    """One ``[[reference]]`` table for ``row``."""
    lines = ["[[reference]]", f"model = {_toml_str(row.model)}", f"resolution = {row.resolution}",
             f"precision = {_toml_str(row.precision)}", f"threads = {row.threads}",
             f"runtime = {_toml_str(row.runtime)}", f"latency_ms = {row.latency_ms:.6g}",
             f"source = {_toml_str(row.source)}"]
    if row.engine:
        lines.insert(-1, f"engine = {_toml_str(row.engine)}")
    if row.int8_dot_kernels is not None:
        lines.insert(-1, f"int8_dot_kernels = {'true' if row.int8_dot_kernels else 'false'}")
    return "\n".join(lines) + "\n"


def render_profile(name: str, clusters: Iterable[tuple[str, float, int]], *, description: str = "",
                   references: Iterable[ReferenceRow] = (), bandwidth_gbs: float | None = None,
                   memory_source: str | None = None) -> str:
    """The TOML of a user's device profile: ``clusters`` as (core, GHz, count), fastest first; peaks,
    fp16 / dot-product support, memory and efficiency come from the core table and the defaults.
    Raises ConfigError (naming the field) when the result would not load."""
    parts = [f"name = {_toml_str(name)}", 'tier = "device"']
    if description:
        parts.append(f"description = {_toml_str(description)}")
    parts.append("")
    for i, (core, ghz, count) in enumerate(clusters):
        parts += ["[[cluster]]", f"core = {_toml_str(core)}", f"count = {int(count)}", f"ghz = {float(ghz):g}",
                  f"big = {'true' if i == 0 else 'false'}", ""]
    if bandwidth_gbs is not None:
        parts += ["[memory]", f"bandwidth_gbs = {bandwidth_gbs:g}",
                  f"source = {_toml_str(memory_source or 'given by the user')}", ""]
    text = "\n".join(parts) + "".join("\n" + reference_toml(r) for r in references)
    parse(tomllib.loads(text), f"<profile {name}>")
    return text


def write_user_profile(name: str, text: str, *, directory: Path | None = None, append: bool = False) -> Path:
    """Write (or, with ``append``, extend) ``<directory>/<name>.toml`` (default: the user's config
    directory) and check that the file loads. Raises ConfigError when the name is not a plain file
    name or the written file does not validate (the previous content is restored)."""
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ConfigError(f"profile name {name!r} is not a plain name", hint="letters, digits, - and _")
    d = Path(directory or USER_DIR)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.toml"
    before = path.read_text() if path.exists() else None
    path.write_text((before.rstrip("\n") + "\n\n" if append and before else "") + text)
    try:
        load_file(path)
    except ConfigError:
        if before is None:
            path.unlink()
        else:
            path.write_text(before)
        raise
    return path
