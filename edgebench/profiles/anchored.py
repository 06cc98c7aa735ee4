"""Projection anchored on reference models measured side by side (pure functions).

The desktop measures the user's artifact *interleaved* with reference artifacts (same runtime,
same threads, :mod:`edgebench.runner.paired`); what leaves the desktop is only the ratio
``user / reference`` per reference — the host's identity and its momentary load cancel. A device
profile carries the reference models' latencies on that device (:class:`ReferenceRow`, each with
its source). For every usable reference ``k`` (all times in ms, logs natural)::

    log estimate_k = log ratio_k                              measured here, paired
                   + log L_D(k)                               the device's latency of k
                   + α · [ log pred_D(u)/pred_D(k) − log pred_H(u)/pred_H(k) ]
                                                              op-class differential: how much more
                                                              (or less) the device favours u's
                                                              operator mix than the host does
    point = exp( Σ w_k log estimate_k / Σ w_k ),   w_k = exp(−½ d(u, k)² / σ²)

``d`` is the distance between the two models' work splits (depthwise share, matmul/attention share,
log10 MACs): a depthwise-heavy model leans on the MobileNets, a dense one on ResNet18, an
attention-heavy one on whatever is closest (and the differential term carries the rest).
``pred`` is the roofline-by-operator-class of :func:`edgebench.profiles.projection.predict`.
On the host side ``pred_H`` is, by default, that roofline refitted on the host's own reference
timings (:func:`fit_host`: one factor for the MAC-bound classes, one for the fixed costs), so that
a host whose SIMD makes MACs relatively cheap (AVX-512) does not pass its own op-mix bias on.

``L_D(k)`` comes, in this order (the first that has a row wins; the row says which):

1. ``device-rows`` — a published or measured row of the device at the runtime, precision and
   thread count asked for;
2. ``device-rows+threads`` — a row of the device at another thread count, scaled by the roofline's
   thread scaling;
3. ``roofline-transfer`` — no row on this device: rows of the same reference on *other* profiles,
   each carried over by the roofline ratio ``pred_D(k) / pred_E(k)`` (with fitted corrections,
   :func:`fit_transfer`), weighted towards the most similar devices.
4. ``roofline-transfer+runtime`` — no profile has a row for the runtime at all: rows of other
   runtimes stand in the same way (the runtimes assumed equally fast; the note says so).

int8 rows carry whether their kernels used the cores' dot-product instructions
(:attr:`ReferenceRow.int8_dot_kernels`, from ``data/reference/sources.toml``): a row measured
without them is carried by the roofline of the core *without* sdot (:func:`kernel_profile`), and the
projection is for today's kernels unless asked otherwise.

When no profile has a row at the precision at all, :func:`project_anchored` returns
None and the caller falls back to the host-efficiency roofline (``projection.project``), saying so.

int8 rows are projected from the device's int8 rows — never from the host's int8/fp32 speed-up.
The host ratio that multiplies them may come from the fp32 artifacts (``HostRatio.precision``):
desktop int8 kernels (x86 without VNNI) rank models differently from phone int8 kernels, while
fp32 rankings carry over (benchmarks/projection_accuracy.py prints both).

The 80 % interval is the point × exp(low / high offset) sized from the log errors of the same path
under leave-one-device-out (split-conformal order statistics, :func:`quantile_band`;
``Anchoring.bands``, written by benchmarks/projection_accuracy.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from edgebench.errors import ConfigError, UnsupportedError
from edgebench.profiles import projection as roofline
from edgebench.profiles.profiles import Profile, host_profile
from edgebench.profiles.projection import Calibration, load_calibration, predict, project, run_precision, run_threads
from edgebench.profiles.references import ReferenceRow
from edgebench.profiles.workload import Workload, from_run
from edgebench.results.model import Projection

METHOD = "ref-anchored-v1"
ANCHORING_FILE = Path(__file__).resolve().parent / "data" / "anchoring.json"
PATHS = ("device-rows", "device-rows+threads", "roofline-transfer", "roofline-transfer+runtime")
# corrections of the device-to-device roofline ratio fitted on pairs of published rows
TRANSFER_PARAMS = ("parallel", "int8_dot", "depthwise", "elementwise", "ops")
# scales of the work-split distance: 0.25 of MACs moved between classes ≈ 10× the MACs ≈ one unit
FEATURE_SCALES = (0.25, 0.25, 1.0)


@dataclass(frozen=True)
class HostRatio:
    """``user / reference`` measured here, paired (same runtime, threads, interleaved rounds).

    ``ratio`` is the median of the per-round ratios; ``precision`` the precision both artifacts
    ran in here (fp32 when the user's fp32 sibling stood in for an int8 artifact)."""

    reference: str  # ReferenceRow.key: "mobilenet_v2@224"
    ratio: float
    precision: str
    threads: int
    round_ratios: tuple[float, ...] = ()
    reference_ms: float | None = None  # the reference's own host time (median of round medians), if known

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "ratio": self.ratio, "precision": self.precision,
                "threads": self.threads, "round_ratios": list(self.round_ratios),
                "reference_ms": self.reference_ms}


@dataclass(frozen=True)
class Anchoring:
    """The fitted knobs of the method: transfer corrections, α, σ and the interval bands (log)."""

    transfer: Calibration = field(default_factory=Calibration)
    alpha: float = 0.5
    sigma: float = 1.0
    bands: dict[str, tuple[float, float]] = field(default_factory=dict)
    workloads: dict[str, Workload] = field(default_factory=dict)  # work of every published reference model
    source: str = "defaults"
    # the host side of the op-class differential: "fitted" = this host's own compute / fixed-cost split
    # fitted on its reference timings (:func:`fit_host`); "profile" = the host profile's roofline
    host_model: str = "fitted"
    host_alpha: float | None = None  # weight of the host side of the differential (None: α)

    def band(self, path: str) -> tuple[float, float]:
        """(low, high) log offsets of the 80 % interval for ``path`` (device rows share one band)."""
        group = "transfer" if path.startswith("roofline-transfer") else "device"
        return self.bands.get(group, self.bands.get("all", (math.log(0.7), math.log(1.3))))

    def to_dict(self) -> dict[str, Any]:
        return {"transfer": self.transfer.to_dict(), "alpha": self.alpha, "sigma": self.sigma,
                "bands": {k: list(v) for k, v in self.bands.items()},
                "workloads": {k: w.to_dict() for k, w in sorted(self.workloads.items())}, "source": self.source,
                "host_model": self.host_model, "host_alpha": self.host_alpha}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Anchoring":
        return cls(transfer=Calibration.from_dict(d.get("transfer", {})), alpha=float(d.get("alpha", 0.5)),
                   sigma=float(d.get("sigma", 1.0)), bands={k: (float(v[0]), float(v[1]))
                                                           for k, v in d.get("bands", {}).items()},
                   workloads={k: Workload.from_dict(w) for k, w in d.get("workloads", {}).items()},
                   source=str(d.get("source", "")), host_model=str(d.get("host_model", "fitted")),
                   host_alpha=None if d.get("host_alpha") is None else float(d["host_alpha"]))


def load_anchoring(path: Path = ANCHORING_FILE) -> Anchoring:
    """The shipped knobs (written by ``benchmarks/projection_accuracy.py --write``)."""
    try:
        return Anchoring.from_dict(json.loads(Path(path).read_text()))
    except FileNotFoundError:
        raise ConfigError(f"anchoring file {path} is missing",
                          hint="run benchmarks/projection_accuracy.py --write") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"anchoring file {path} is not valid JSON: {exc}") from None


@dataclass(frozen=True)
class Anchor:
    """One reference's contribution: the device latency used, the host ratio, the correction, the weight."""

    reference: str
    device_ms: float  # L_D(k) after any thread scaling / transfer
    ratio: float
    correction: float  # log
    weight: float
    estimate_ms: float
    row: ReferenceRow  # the row it comes from (on this device or another)
    how: str

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "device_ms": self.device_ms, "ratio": self.ratio,
                "correction_log": self.correction, "weight": self.weight, "estimate_ms": self.estimate_ms,
                "row": self.row.to_dict(), "how": self.how}


@dataclass(frozen=True)
class AnchoredEstimate:
    """A projected latency (ms) with its 80 % interval, the path taken and every anchor used."""

    point_ms: float
    low_ms: float
    high_ms: float
    path: str
    anchors: tuple[Anchor, ...]
    note: str

    def details(self) -> dict[str, Any]:
        return {"path": self.path, "note": self.note, "anchors": [a.to_dict() for a in self.anchors],
                "interval": f"80 % (conformal) from leave-one-device-out errors of path {self.path}"}


def features(w: Workload) -> tuple[float, float, float]:
    """(depthwise share of MACs, matmul/attention share of MACs, log10 MACs) of a work split."""
    macs = max(w.total_macs, 1.0)
    return (w.depthwise_macs / macs, w.matmul_macs / macs, math.log10(macs))


def similarity(a: Workload, b: Workload, sigma: float) -> float:
    """exp(−½ d²/σ²) with d the scaled distance between :func:`features` (1 for identical splits)."""
    d2 = sum(((x - y) / s) ** 2 for x, y, s in zip(features(a), features(b), FEATURE_SCALES))
    return math.exp(-0.5 * d2 / sigma ** 2)


def _pred(profile: Profile, work: Workload, precision: str, threads: int, cal: Calibration | None) -> float:
    return predict(profile, work, precision, threads, cal).total


@dataclass(frozen=True)
class HostFit:
    """This host's time of a model as ``compute · C + fixed · F`` (ms), where C is the host
    profile's roofline time of the MAC-bound classes (dense, depthwise, matmul) and F that of the
    fixed costs (element-wise traffic, per-operator dispatch): fitted on the host's own reference
    timings, so that a host with wide SIMD (AVX-512: MACs cheap, dispatch not) ranks models as it
    really does, not as the generic x86 profile says."""

    compute: float
    fixed: float
    n: int

    def predict(self, host: Profile, work: Workload, precision: str, threads: int) -> float:
        c, f = split_cost(host, work, precision, threads)
        return self.compute * c + self.fixed * f


def split_cost(host: Profile, work: Workload, precision: str, threads: int) -> tuple[float, float]:
    """(MAC-bound ms, fixed-cost ms) of ``work`` by the host profile's roofline (no corrections)."""
    b = predict(host, work, precision, threads, None)
    return b.dense + b.depthwise + b.matmul, b.elementwise + b.ops


def fit_host(host: Profile, work: Mapping[str, Workload], reference_ms: Mapping[str, float], precision: str,
             threads: int, min_refs: int = 2) -> HostFit | None:
    """Non-negative least squares of the relative error ``(a·C_k + b·F_k) / t_k − 1`` over the
    references ``k`` timed here (``reference_ms``: host ms; keys without a work split are skipped).
    None when fewer than ``min_refs`` references are usable or both factors come out 0."""
    import numpy as np
    from scipy.optimize import nnls

    keys = [k for k in sorted(reference_ms) if k in work and reference_ms[k] and reference_ms[k] > 0]
    if len(keys) < min_refs:
        return None
    rows = [split_cost(host, work[k], precision, threads) for k in keys]
    a = np.array([[c / reference_ms[k], f / reference_ms[k]] for k, (c, f) in zip(keys, rows)])
    sol, _ = nnls(a, np.ones(len(keys)))
    if sol[0] <= 0 and sol[1] <= 0:
        return None
    return HostFit(float(sol[0]), float(sol[1]), len(keys))


def kernel_profile(profile: Profile, int8_dot_kernels: bool | None) -> Profile:
    """``profile`` as seen by int8 kernels that do (None/True: as the core table says) or do not
    (False) use the cores' dot-product instructions: without them int8 runs at the widening-multiply
    rate, 2× the fp32 peak, and the fitted ``int8_dot`` correction does not apply."""
    if int8_dot_kernels is not False or all(c.int8_dot == "none" for c in profile.clusters):
        return profile
    clusters = tuple(c if c.int8_dot == "none" else replace(c, int8_dot="none", int8_gops=2.0 * c.fp32_gflops)
                     for c in profile.clusters)
    return replace(profile, clusters=clusters)


def row_profile(profiles: Mapping[str, Profile], row: ReferenceRow) -> Profile:
    """The profile a reference row was measured on, seen by the row's int8 kernels."""
    return kernel_profile(profiles[row.device], row.int8_dot_kernels)


def uses_dot(profile: Profile, int8_dot_kernels: bool | None) -> bool:
    """True when int8 on ``profile`` runs on dot-product instructions with such kernels."""
    return profile.big_cores[0].int8_dot != "none" and int8_dot_kernels is not False


def device_similarity(a: Profile, b: Profile, threads_a: int, threads_b: int, precision: str,
                      dot_a: bool | None = None, dot_b: bool | None = None) -> float:
    """Weight of a row of device ``b`` when carried to ``a``: rows at the same thread count and
    (for int8) the same dot-product class (core and kernels: ``dot_a`` / ``dot_b`` as in
    :func:`kernel_profile`) transfer best; 1 for an identical setting."""
    w = math.exp(-0.5 * (math.log(threads_a / threads_b) / 0.7) ** 2)
    if precision == "int8" and uses_dot(a, dot_a) != uses_dot(b, dot_b):
        w *= 0.5
    return w


def _device_ms(device: Profile, precision: str, threads: int, runtime: str,
               work: Mapping[str, Workload], profiles: Mapping[str, Profile], pool: Sequence[ReferenceRow],
               cal: Calibration, keys: set[str],
               dot_kernels: bool | None = None) -> tuple[str, list[tuple[ReferenceRow, float, float, str]]]:
    """The path and, per usable row, (row, L_D in ms, device weight, how)."""
    target = kernel_profile(device, dot_kernels)
    same = [r for r in device.references if r.runtime == runtime and r.precision == precision and r.key in keys]
    exact = [r for r in same if r.threads == threads and (precision != "int8" or uses_dot(device, r.int8_dot_kernels)
                                                          == uses_dot(device, dot_kernels))]
    if exact:
        return "device-rows", [(r, r.latency_ms, 1.0, f"{device.name} row") for r in exact]
    if same:
        out = []
        for r in same:
            k = work[r.key]
            scale = (_pred(target, k, precision, threads, cal)
                     / _pred(kernel_profile(device, r.int8_dot_kernels), k, precision, r.threads, cal))
            out.append((r, r.latency_ms * scale, 1.0,
                        f"{device.name} row at {r.threads} thread(s) × roofline thread/kernel scaling {scale:.3g}"))
        return "device-rows+threads", out
    # rows of this device at other runtimes also stand in when no profile has a row for the runtime
    own_other = [r for r in device.references if r.runtime != runtime]
    for path, same_runtime in (("roofline-transfer", True), ("roofline-transfer+runtime", False)):
        out = []
        for r in list(pool) + ([] if same_runtime else own_other):
            own = r.device == device.name
            if (own and same_runtime) or (not own and r.device not in profiles) or r.precision != precision \
                    or r.key not in keys or (r.runtime == runtime) != same_runtime:
                continue
            other = kernel_profile(device if own else profiles[r.device], r.int8_dot_kernels)
            k = work[r.key]
            scale = _pred(target, k, precision, threads, cal) / _pred(other, k, precision, r.threads, cal)
            how = f"{r.device} row × roofline {device.name}/{r.device} {scale:.3g}"
            if not same_runtime:
                how += f" (a {r.runtime} row standing in for {runtime}: no profile has a {runtime} row)"
            out.append((r, r.latency_ms * scale, device_similarity(device, device if own else profiles[r.device],
                                                                   threads, r.threads, precision, dot_kernels,
                                                                   r.int8_dot_kernels), how))
        if out:
            return path, out
    return "roofline-transfer", []


def project_anchored(user: Workload | None, ratios: Mapping[str, HostRatio], device: Profile, precision: str,
                     threads: int, runtime: str, host: Profile, anchoring: Anchoring,
                     profiles: Mapping[str, Profile], pool: Sequence[ReferenceRow] | None = None,
                     work: Mapping[str, Workload] | None = None,
                     int8_dot_kernels: bool | None = None) -> AnchoredEstimate | None:
    """Project the user's model onto ``device`` at ``precision`` / ``threads`` / ``runtime``.

    ``user`` is the model's work split, or None when it cannot be rebuilt (a third-party file):
    then the references weigh equally and there is no op-class differential (the note says so).
    ``ratios``: host ratios by reference key (``model@resolution``); ``work``: work split of each
    reference (default: the shipped ones); ``pool``: reference rows of other profiles for the
    roofline transfer (default: every row of ``profiles``). ``int8_dot_kernels``: False projects for
    int8 kernels without dot-product instructions (an older runtime, as some published rows were
    measured); None: the core's fastest instruction (today's runtimes). When no profile has a row
    for ``runtime``, rows of other runtimes stand in (path ``roofline-transfer+runtime``, said in the
    note). Returns None when no profile has a reference row at ``precision`` among the measured
    references."""
    work = dict(anchoring.workloads) | dict(work or {})
    keys = {k for k in ratios if k in work}
    if pool is None:
        pool = [r for p in profiles.values() for r in p.references]
    path, rows = _device_ms(device, precision, threads, runtime, work, profiles, pool, anchoring.transfer,
                            keys, int8_dot_kernels)
    target = kernel_profile(device, int8_dot_kernels)
    if not rows:
        return None
    host_fit = None
    if anchoring.host_model == "fitted" and user is not None:
        first = next(iter(ratios.values()))
        host_fit = fit_host(host, work, {k: r.reference_ms for k, r in ratios.items() if r.reference_ms},
                            first.precision, first.threads)

    def host_pred(m: Workload, hr: HostRatio) -> float:
        if host_fit is not None:
            return host_fit.predict(host, m, hr.precision, hr.threads)
        return _pred(host, m, hr.precision, hr.threads, None)

    anchors = []
    for row, device_ms, dev_w, how in rows:
        k = work[row.key]
        hr = ratios[row.key]
        corr = 0.0
        if user is not None:
            beta = anchoring.alpha if anchoring.host_alpha is None else anchoring.host_alpha
            corr = (anchoring.alpha * math.log(_pred(target, user, precision, threads, anchoring.transfer)
                                               / _pred(target, k, precision, threads, anchoring.transfer))
                    - beta * math.log(host_pred(user, hr) / host_pred(k, hr)))
        w = (similarity(user, k, anchoring.sigma) if user is not None else 1.0) * dev_w
        est = hr.ratio * device_ms * math.exp(corr)
        anchors.append(Anchor(row.key, device_ms, hr.ratio, corr, w, est, row, how))
    total = sum(a.weight for a in anchors)
    if total <= 1e-12:  # every reference is far from the model: fall back to equal weights
        anchors = [Anchor(a.reference, a.device_ms, a.ratio, a.correction, 1.0, a.estimate_ms, a.row, a.how)
                   for a in anchors]
        total = float(len(anchors))
    point = math.exp(sum(a.weight * math.log(a.estimate_ms) for a in anchors) / total)
    lo, hi = anchoring.band(path)
    refs = sorted({a.reference for a in anchors})
    note = {"device-rows": f"anchored on {device.name}'s own rows of {', '.join(refs)}",
            "device-rows+threads": f"anchored on {device.name}'s rows of {', '.join(refs)} at another thread count "
                                   f"(roofline thread scaling)",
            "roofline-transfer": f"{device.name} has no {runtime} {precision} reference row: hardware roofline "
                                 f"carries rows of {', '.join(refs)} from "
                                 f"{', '.join(sorted({a.row.device or '?' for a in anchors}))}",
            "roofline-transfer+runtime": f"no profile has a {runtime} {precision} reference row: hardware roofline "
                                         f"carries {', '.join(sorted({a.row.runtime for a in anchors}))} rows of "
                                         f"{', '.join(refs)} from "
                                         f"{', '.join(sorted({a.row.device or '?' for a in anchors}))} (the "
                                         f"runtimes are assumed equally fast; less accurate)"}[path]
    if user is None:
        note += "; the model's work split is unknown: references weighted equally, no op-class differential"
    return AnchoredEstimate(point_ms=point, low_ms=point * math.exp(lo), high_ms=point * math.exp(hi), path=path,
                            anchors=tuple(anchors), note=note)


# --- fitting -----------------------------------------------------------------------------------

def transfer_pairs(rows: Sequence[ReferenceRow]) -> list[tuple[ReferenceRow, ReferenceRow]]:
    """Ordered pairs of rows of the same reference, precision and runtime on different devices."""
    return [(a, b) for a in rows for b in rows
            if a is not b and a.device != b.device
            and (a.key, a.precision, a.runtime) == (b.key, b.precision, b.runtime)]


def fit_transfer(rows: Sequence[ReferenceRow], profiles: Mapping[str, Profile], work: Mapping[str, Workload],
                 names: Sequence[str] = TRANSFER_PARAMS, ridge: float = 0.3) -> Calibration:
    """Corrections of the device-to-device roofline ratio: least squares in log space over every
    pair of ``rows`` (:func:`transfer_pairs`), with a ridge pulling each towards 0 (the priors)."""
    import numpy as np
    from scipy.optimize import least_squares

    pairs = [(a, b) for a, b in transfer_pairs(rows) if a.key in work]
    if not pairs:
        return Calibration(source="no pair of rows to fit the transfer on: priors")
    y = np.array([math.log(b.latency_ms / a.latency_ms) for a, b in pairs])

    def residuals(theta: Any) -> Any:
        cal = Calibration(params=dict(zip(names, map(float, theta))))
        pred = np.array([math.log(_pred(row_profile(profiles, b), work[a.key], b.precision, b.threads, cal)
                                  / _pred(row_profile(profiles, a), work[a.key], a.precision, a.threads, cal))
                         for a, b in pairs])
        return np.concatenate([y - pred, math.sqrt(ridge * len(pairs) / 10) * theta])

    sol = least_squares(residuals, np.zeros(len(names)))
    return Calibration(params={n: round(float(v), 6) for n, v in zip(names, sol.x)}, n_rows=len(pairs),
                       source=f"log-LS fit of the device-to-device roofline ratio on {len(pairs)} pairs of rows")


def quantile_band(log_errors: Iterable[float], low: float = 0.1, high: float = 0.9) -> tuple[float, float]:
    """(low, high) offsets of the interval from held-out log(published / projected) errors.

    Split-conformal order statistics: with n errors sorted, the ⌊(n+1)·low⌋-th and ⌈(n+1)·high⌉-th
    (clamped to 1…n), so that a new case falls inside with probability ≥ high − low even for a
    small n, where plain sample quantiles cover too little. Raises ConfigError for no errors."""
    e = sorted(float(x) for x in log_errors)
    if not e:
        raise ConfigError("cannot size an interval from no held-out errors")
    n = len(e)
    lo = min(n, max(1, math.floor((n + 1) * low)))
    hi = min(n, max(1, math.ceil((n + 1) * high)))
    return e[lo - 1], e[hi - 1]


# --- from a measured run ------------------------------------------------------------------------

def reference_keys_for(runtime: str, precision: str, profiles: Iterable[Profile],
                       available: Iterable[str]) -> list[str]:
    """Reference models (``model@resolution`` among ``available``) that some profile has a
    ``runtime`` / ``precision`` row for: the ones worth measuring beside the user's artifact. When no
    profile has a ``runtime`` row at all, the ones with a row of any runtime at ``precision`` (they
    stand in, see :func:`project_anchored`)."""
    profiles = list(profiles)
    have = {r.key for p in profiles for r in p.references if r.runtime == runtime and r.precision == precision}
    if not have:  # no profile has a row for the runtime: rows of other runtimes stand in (roofline-transfer+runtime)
        have = {r.key for p in profiles for r in p.references if r.precision == precision}
    return sorted(k for k in available if k in have)


def project_run_anchored(run: Any, targets: Sequence[Profile], threads: Sequence[str], *,
                         ratios: Mapping[str, HostRatio], runtime: str, all_profiles: Mapping[str, Profile],
                         anchoring: Anchoring | None = None, work: Workload | None = None,
                         ref_work: Mapping[str, Workload] | None = None, paired: Mapping[str, Any] | None = None,
                         calibration: Calibration | None = None) -> list:
    """Projections of a measured run onto each profile × thread setting, anchored on references.

    ``ratios`` are this run's artifact over each reference, measured here paired (same runtime
    ``runtime``, same threads); ``paired`` is the raw paired session (stored in every row's
    details). A profile with no usable reference row for ``runtime`` anywhere falls back to the
    host-efficiency roofline (:func:`edgebench.profiles.projection.project`), and the row says so.
    Returns :class:`~edgebench.results.Projection` rows pointing at ``run``."""
    anchoring = anchoring or load_anchoring()
    host_env = (run.environment or {}).get("host") or {}
    host, host_how = host_profile(dict(all_profiles), host_env.get("cpu_model"), host_env.get("arch"),
                                  host_env.get("isa_flags"))
    w = work
    if w is None:
        try:
            w = from_run(run)
        except UnsupportedError:
            w = None  # a third-party file: the ratio alone still projects it (equal weights)
    precision = run_precision(run.variant)
    devices = {n: p for n, p in all_profiles.items() if p.tier != "host"}
    out = []
    for device in targets:
        for t in threads:
            n = device.threads(t)
            est = project_anchored(w, ratios, device, precision, n, runtime, host, anchoring, devices,
                                   work=ref_work)
            details: dict[str, Any] = {"n_threads": n, "runtime": runtime, "precision": precision,
                                       "host_ratios": {k: r.to_dict() for k, r in ratios.items()},
                                       "workload": w.to_dict() if w else None, "anchoring": anchoring.source,
                                       "host_profile": host.name, "host_choice": host_how}
            if paired is not None:
                details["paired"] = dict(paired)
            if est is not None:
                out.append(Projection(
                    run_id=run.run_id, profile=device.name, tier=device.tier, threads=t, point_ms=est.point_ms,
                    low_ms=est.low_ms, high_ms=est.high_ms, method=f"{METHOD} ({est.path})", model=run.model,
                    format=run.format, variant=run.variant, details=details | est.details()))
                continue
            if not run.latency or not run.latency.p50_ms or w is None:
                continue
            cal = calibration or load_calibration()
            legacy = project(w, run.latency.p50_ms, precision, host, run_threads(run, host_env.get("cores")),
                             device, t, cal)
            note = (f"no profile has a {precision} reference row of {runtime} or any other runtime among the "
                    f"measured references: "
                    f"host-efficiency roofline from this machine's p50 (inherits the host's noise; less accurate)")
            out.append(Projection(
                run_id=run.run_id, profile=device.name, tier=device.tier, threads=t, point_ms=legacy.point_ms,
                low_ms=legacy.low_ms, high_ms=legacy.high_ms, method=roofline.METHOD,
                model=run.model, format=run.format, variant=run.variant,
                details=details | legacy.details | {"path": "host-roofline", "note": note, "host_choice": host_how}))
    return out
