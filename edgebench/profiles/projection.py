"""The hardware roofline by operator class, and the host-efficiency projection built on it.

Since issue 15 the projection of record is :mod:`edgebench.profiles.anchored` (the artifact timed
side by side with reference models, the ratio mapped through the devices' reference rows); it
uses :func:`predict` below for thread scaling, device-to-device transfer and the op-class
differential. :func:`project` / :func:`project_run` remain the fallback when nothing can be
anchored (no reference row for the runtime on any profile, a stored run whose artifact is gone):
linear in the host's own p50, so it inherits the host's noise — the rows say so.
Pure functions; no I/O except the calibration file.

The model (all times in ms)::

    predicted(profile, work, precision, n threads) =
          Σ_class  2·MACs_class / (peak_ops(precision, n) · efficiency_class)      dense conv,
                                                                                   depthwise conv,
                                                                                   matmul / attention
        + element-wise bytes(precision) / (bandwidth · efficiency_elementwise · speedup(n))
        + operators · overhead per operator

    peak_ops(precision, n) = peak of the fastest big core + parallel_efficiency · Σ peaks of the
                             next n−1 big cores        (speedup(n) is the same sum over fp32 peaks,
                                                        relative to the fastest core)

    model efficiency = measured host ms / predicted(host profile, work, precision, host threads)
    projected(device) = model efficiency · predicted_cal(device) · exp(offset(precision, runtime))

``predicted_cal`` is ``predicted`` with the calibrated device-side corrections (a multiplier per
operator class, one on int8 compute for cores with sdot / i8mm, and a thread-scaling factor; they
apply to devices, not to the host profile, because they describe how mobile runtimes differ from
the desktop one). The corrections and
offsets are fitted by least squares on log(published / projected) over the published table
(:mod:`edgebench.profiles.calibration`); the interval is the point times the 10th and 90th
percentiles of the fit's leave-one-out log residuals (an 80 % interval, as wide as the
calibration's own errors).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from edgebench.errors import ConfigError, EdgebenchError, UnsupportedError
from edgebench.profiles.profiles import Profile, host_profile, load_profiles
from edgebench.profiles.workload import Workload

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "int8": 1}
CLASSES = ("dense", "depthwise", "matmul", "elementwise", "ops")
CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "calibration.json"
# short, stable name of the method; every projected column and row carries it
METHOD = "opclass-roofline+host-eff+logLS-v1"


@dataclass(frozen=True)
class Calibration:
    """Fitted device-side corrections (natural-log multipliers) and the residual band.

    ``params`` keys: ``dense``, ``depthwise``, ``matmul``, ``elementwise``, ``ops`` (log
    multipliers on that class's device time), ``parallel`` (log multiplier on every profile's
    parallel efficiency), ``int8_dot`` (log multiplier on int8 compute time on cores with
    sdot / i8mm: how much of the dot-product peak runtimes reach), ``fp32`` / ``int8`` (log
    offset by precision; fp16 uses fp32's) and
    ``runtime:<name>`` (log offset for a runtime other than TFLite/XNNPACK, used for published
    rows measured with e.g. PyTorch). Missing keys are 0.
    """

    params: dict[str, float] = field(default_factory=dict)
    residual_low: float = 0.0  # log; 10th percentile of the residuals (leave-one-out ones when shipped)
    residual_high: float = 0.0  # log; 90th percentile
    n_rows: int = 0
    source: str = "uncalibrated priors"
    details: dict[str, Any] = field(default_factory=dict)

    def p(self, key: str) -> float:
        return float(self.params.get(key, 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "residual_low": self.residual_low, "residual_high": self.residual_high,
                "n_rows": self.n_rows, "source": self.source, "details": self.details}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Calibration":
        return cls(params=dict(d.get("params", {})), residual_low=float(d.get("residual_low", 0.0)),
                   residual_high=float(d.get("residual_high", 0.0)), n_rows=int(d.get("n_rows", 0)),
                   source=str(d.get("source", "")), details=dict(d.get("details", {})))


UNCALIBRATED = Calibration()


def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    """The shipped calibration (written by ``benchmarks/projection_accuracy.py --write-calibration``)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"calibration file {path} is missing",
                          hint="run benchmarks/projection_accuracy.py --write-calibration") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"calibration file {path} is not valid JSON: {exc}") from None
    return Calibration.from_dict(data["calibration"] if "calibration" in data else data)


def _speedup(profile: Profile, n: int, pe: float, precision: str) -> float:
    """Throughput of n big cores in units of the fastest core's, at ``precision``."""
    cores = profile.big_cores[:max(1, n)]
    first = cores[0].peak_gops(precision)
    return 1.0 + pe * sum(c.peak_gops(precision) for c in cores[1:]) / first


@dataclass(frozen=True)
class Breakdown:
    """Predicted ms of one inference, by operator class."""

    dense: float
    depthwise: float
    matmul: float
    elementwise: float
    ops: float

    @property
    def total(self) -> float:
        return self.dense + self.depthwise + self.matmul + self.elementwise + self.ops

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in CLASSES} | {"total": self.total}


def predict(profile: Profile, work: Workload, precision: str, threads: int,
            calibration: Calibration | None = None) -> Breakdown:
    """Roofline-by-operator-class time of ``work`` on ``profile`` (ms), with device-side corrections
    from ``calibration`` (none for the host profile — pass None)."""
    if precision not in BYTES_PER_ELEMENT:
        raise ConfigError(f"unknown precision {precision!r}", hint="fp32, fp16 or int8")
    cal = calibration or UNCALIBRATED
    eff = profile.efficiency
    pe = min(1.0, eff.parallel_efficiency * math.exp(cal.p("parallel")))
    n = min(max(1, threads), len(profile.big_cores))
    core = profile.big_cores[0]
    peak = core.peak_gops(precision) * _speedup(profile, n, pe, precision) * 1e9  # ops/s
    mem_speedup = _speedup(profile, n, pe, "fp32")

    # how much of the sdot / i8mm peak runtimes actually reach (older runtimes had no dot kernels)
    dot = cal.p("int8_dot") if precision == "int8" and core.int8_dot != "none" else 0.0

    def compute_ms(macs: float, share: float, key: str) -> float:
        return 2.0 * macs / (peak * share) * 1e3 * math.exp(cal.p(key) + dot)

    bytes_ = work.elementwise_bytes * BYTES_PER_ELEMENT[precision] / 4.0
    return Breakdown(
        dense=compute_ms(work.dense_macs, eff.dense_conv, "dense"),
        depthwise=compute_ms(work.depthwise_macs, eff.depthwise_conv, "depthwise"),
        matmul=compute_ms(work.matmul_macs, eff.matmul, "matmul"),
        elementwise=bytes_ / (profile.bandwidth_gbs * 1e9 * eff.elementwise * mem_speedup) * 1e3
        * math.exp(cal.p("elementwise")),
        ops=work.ops * eff.op_overhead_us / 1e3 * math.exp(cal.p("ops")),
    )


@dataclass(frozen=True)
class Estimate:
    """One projected latency with its interval and how it was made."""

    profile: str
    tier: str
    threads: str
    n_threads: int
    point_ms: float
    low_ms: float
    high_ms: float
    model_efficiency: float
    details: dict[str, Any]


def offset(calibration: Calibration, precision: str, runtime: str | None = None) -> float:
    """The calibrated log offset for ``precision`` (fp16 shares fp32's) and a non-default runtime."""
    key = "int8" if precision == "int8" else "fp32"
    off = calibration.p(key)
    if runtime:
        off += calibration.p(f"runtime:{runtime}")
    return off


def project(work: Workload, measured_ms: float, precision: str, host: Profile, host_threads: int,
            device: Profile, threads: str | int, calibration: Calibration,
            runtime: str | None = None, host_precision: str | None = None) -> Estimate:
    """Project a host measurement of ``work`` to ``device`` at ``threads`` ("1-big", "all-big" or a count).

    ``measured_ms`` is the host's median latency at ``host_threads`` and ``host_precision``
    (default ``precision``: the same artifact); ``runtime`` names a device runtime other than
    TFLite/XNNPACK when the calibration has an offset for it."""
    if not measured_ms or measured_ms <= 0:
        raise UnsupportedError("the run has no latency to project from", stage="project")
    host_precision = host_precision or precision
    host_pred = predict(host, work, host_precision, host_threads)
    model_eff = measured_ms / host_pred.total
    n = device.threads(threads)
    dev = predict(device, work, precision, n, calibration)
    point = model_eff * dev.total * math.exp(offset(calibration, precision, runtime))
    return Estimate(
        profile=device.name, tier=device.tier, threads=str(threads), n_threads=n, point_ms=point,
        low_ms=point * math.exp(calibration.residual_low), high_ms=point * math.exp(calibration.residual_high),
        model_efficiency=model_eff,
        details={"host_profile": host.name, "host_threads": host_threads, "measured_host_ms": measured_ms,
                 "host_precision": host_precision,
                 "predicted_host_ms": host_pred.total, "predicted_host_breakdown_ms": host_pred.as_dict(),
                 "predicted_device_breakdown_ms": dev.as_dict(), "precision": precision,
                 "calibration": calibration.source, "interval": "10th–90th percentile of calibration residuals"},
    )


# --- from stored runs ---------------------------------------------------------------------------

def run_precision(variant: str) -> str:
    """The arithmetic precision a variant label runs in (``pruned50-int8`` → int8; dynamic int8 → int8)."""
    from edgebench.spec import Variant

    try:
        return Variant.from_label(variant).precision
    except ConfigError:
        return "fp32"  # a third-party artifact's "unknown" variant: assume float


def run_threads(run: Any, host_cores: int | None) -> int:
    """Threads the run was measured with (the bench spec's, else all host cores)."""
    bench = (run.spec or {}).get("bench") or {}
    t = bench.get("threads")
    if isinstance(t, int) and t > 0:
        return t
    return int(host_cores or 1)


def project_run(run: Any, profiles: Iterable[Profile] | dict[str, Profile],
                threads: Sequence[str] = ("1-big", "all-big"), *, all_profiles: dict[str, Profile] | None = None,
                calibration: Calibration | None = None, work: Workload | None = None) -> list:
    """Projections of a measured :class:`~edgebench.results.RunResult` onto each profile × thread setting.

    Returns :class:`~edgebench.results.Projection` records (``run_id`` = the measured run) with the
    point estimate, the interval, the method and, in ``details``, the host profile, the model
    efficiency, the per-class breakdown and the work split. The host profile is picked from
    ``all_profiles`` (default: every loaded profile) by the run's CPU name.
    """
    from edgebench.profiles.workload import from_run
    from edgebench.results.model import Projection, Status

    if run.kind != "run" or run.status != Status.OK or run.latency is None or not run.latency.p50_ms:
        raise UnsupportedError(f"run {run.run_id} is not a successful measurement ({run.kind}, {run.status.value})",
                               hint="project from a run with status OK", stage="project")
    targets = list(profiles.values()) if isinstance(profiles, dict) else list(profiles)
    everything = all_profiles if all_profiles is not None else load_profiles()
    host_env = (run.environment or {}).get("host") or {}
    if not str(run.target).startswith("local"):
        raise UnsupportedError(f"run {run.run_id} was measured on {run.target}, not on this desktop",
                               hint="projection starts from a local (desktop) measurement", stage="project")
    host, host_how = host_profile(everything, host_env.get("cpu_model"), host_env.get("arch"),
                                  host_env.get("isa_flags"))
    cal = calibration or load_calibration()
    w = work or from_run(run)
    precision = run_precision(run.variant)
    host_threads = run_threads(run, host_env.get("cores"))
    out = []
    for device in targets:
        for t in threads:
            e = project(w, run.latency.p50_ms, precision, host, host_threads, device, t, cal)
            out.append(Projection(
                run_id=run.run_id, profile=device.name, tier=device.tier, threads=t, point_ms=e.point_ms,
                low_ms=e.low_ms, high_ms=e.high_ms, method=METHOD, model=run.model, format=run.format,
                variant=run.variant,
                details=e.details | {"host_choice": host_how, "n_threads": e.n_threads,
                                     "host_warning": host_noise_warning(run),
                                     "model_efficiency": e.model_efficiency, "workload": w.to_dict()}))
    return out


def projected_columns(rows: list[dict[str, Any]], projections: Iterable[Any]) -> list[tuple[str, str]]:
    """Add projected numbers to compare-table rows (matched on ``run_id``), in their own keys.

    For each (profile, threads) present, every row gets ``proj:<profile>:<threads>:point_ms`` /
    ``…:low_ms`` / ``…:high_ms`` (None when that run has no such projection). Returns
    ``[(key prefix, header)]`` with headers like ``"pi4 all-big ms — projected (<method>)"``: a
    projected column is always labelled as projected, with every method its rows used, each row
    carries its own in ``…:method``, and measured keys such as ``p50_ms`` are never touched. The newest projection per (run, profile, threads) wins.
    """
    latest: dict[tuple[str, str, str], Any] = {}
    for p in sorted(projections, key=lambda p: p.created_at):
        latest[(p.run_id, p.profile, p.threads)] = p
    shown = {r.get("run_id") for r in rows}
    methods: dict[str, list[str]] = {}
    for (run_id, profile, threads), p in sorted(latest.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        used = methods.setdefault(f"proj:{profile}:{threads}", [])
        if run_id in shown and p.method not in used:
            used.append(p.method)
    # one column can hold rows projected by different methods (a run projected with `edgebench
    # project` next to one projected on the fly): the header names every method in it, each row
    # says its own (``…:method``), so no number is read under another method's name
    columns = {key: f"{key.split(':')[1]} {key.split(':')[2]} ms — projected ({' | '.join(m) or '—'})"
               for key, m in methods.items()}
    for row in rows:
        for key in columns:
            _, profile, threads = key.split(":")
            p = latest.get((row.get("run_id"), profile, threads))
            row[f"{key}:point_ms"] = p.point_ms if p else None
            row[f"{key}:low_ms"] = p.low_ms if p else None
            row[f"{key}:high_ms"] = p.high_ms if p else None
            row[f"{key}:method"] = p.method if p else None
    return list(columns.items())


def host_noise_warning(run: Any, cv_limit: float = 0.2) -> str | None:
    """A warning when the host measurement is too noisy to project from (a shared or busy machine)."""
    lat = run.latency
    if lat is not None and lat.cv is not None and lat.cv > cv_limit:
        return (f"the host measurement of {run.model} {run.variant} is noisy (cv {lat.cv:.2f}, min "
                f"{lat.min_ms:.3g} vs p50 {lat.p50_ms:.3g} ms): the projection inherits it — re-measure on an idle machine")
    return None


def made_with_current_host(projection: Any, run: Any, all_profiles: dict | None = None) -> bool:
    """Whether a stored ``projection`` of ``run`` used the host profile that would be chosen for
    that run today (:func:`edgebench.profiles.profiles.host_profile`, by CPU name and recorded SIMD
    flags). A projection made with another host profile — before the run's flags were matched, or
    before a profile for its CPU existed — carries that profile's peaks into every tier: the
    callers that reuse stored projections make it again instead. True when the projection names no
    host profile (nothing to judge it by) or no host profile fits the run."""
    import re


    host_env = (getattr(run, "environment", None) or {}).get("host") or {}
    try:
        now, _ = host_profile(all_profiles if all_profiles is not None else load_profiles(),
                              host_env.get("cpu_model"), host_env.get("arch"), host_env.get("isa_flags"))
    except EdgebenchError:
        return True  # nothing to compare with: keep what is stored
    details = getattr(projection, "details", None) or {}
    used = details.get("host_profile")
    if used is None:  # stored before the name was recorded: it is in the words of host_choice
        found = re.search(r"(host-[A-Za-z0-9_.-]+)", str(details.get("host_choice") or ""))
        used = found.group(1) if found else None
    return used is None or used == now.name  # a projection that names no host profile cannot be judged

