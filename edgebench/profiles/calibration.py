"""Calibration of the projection on published device latencies: least squares in log space.

Each published row (``data/reference/published_latencies.csv``: model, resolution, precision,
device, threads, runtime, latency, source) is paired with this desktop's measurement of the
same model and its work split. :func:`fit` finds the device-side corrections of
:mod:`edgebench.profiles.projection` that minimise Σ (log published − log projected)² plus a
small ridge term pulling every correction towards 0 (= trust the profiles' priors), so a
correction the table cannot pin down stays near its prior. :func:`leave_one_out` refits without
each row in turn and projects that row: the honest error of the method, used for the shipped
interval and by ``benchmarks/projection_accuracy.py``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from edgebench.errors import ConfigError
from edgebench.profiles.profiles import Profile
from edgebench.profiles.projection import CALIBRATION_FILE, Calibration, project
from edgebench.profiles.references import runtime_name
from edgebench.profiles.workload import Workload

DATA = Path(__file__).resolve().parent / "data"
REFERENCE_CSV = DATA / "reference" / "published_latencies.csv"

# published device name → profile name
DEVICE_PROFILES = {"Pixel 1": "pixel1", "Pixel 2": "pixel2", "Pixel 3": "pixel3", "Pixel 4": "pixel4",
                   "Raspberry Pi 4": "pi4", "Raspberry Pi 5": "pi5"}
# the corrections fitted by default (see projection.Calibration for their meaning)
FIT_PARAMS = ("fp32", "int8", "runtime:pytorch", "runtime:pytorch-qnnpack", "parallel", "int8_dot", "depthwise",
              "elementwise", "ops")
RIDGE = 0.3  # weight of the pull towards 0 per correction, in log units (one row's residual ≈ 1)


def reference_rows(path: Path = REFERENCE_CSV) -> list[dict]:
    """The published latency table: one dict per row, with its source."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def runtime_key(runtime: str) -> str | None:
    """None for TFLite (the runtime the profiles describe); else a short name ("pytorch",
    "pytorch-qnnpack": a different kernel library is a different runtime)."""
    if runtime_name(runtime)[0] == "litert":
        return None
    # the legacy fit's offsets are named after the published labels ("pytorch", "pytorch-qnnpack")
    return "-".join(runtime.lower().split())


def host_precision(precision: str) -> str:
    """uint8 rows (TF's old asymmetric quantisation) are int8 arithmetic."""
    return "int8" if precision in ("int8", "uint8") else precision


@dataclass(frozen=True)
class CalRow:
    """One published latency with this desktop's measurement of the same model."""

    model: str
    resolution: int
    precision: str
    device: str  # profile name
    threads: int
    runtime: str | None
    published_ms: float
    source: str
    host_ms: float
    host_threads: int
    work: Workload
    host_precision: str | None = None  # precision of the host measurement (default: the row's)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "resolution": self.resolution, "precision": self.precision,
                "device": self.device, "threads": self.threads, "runtime": self.runtime,
                "published_ms": self.published_ms, "source": self.source, "host_ms": self.host_ms,
                "host_threads": self.host_threads, "host_precision": self.host_precision,
                "work": self.work.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CalRow":
        return cls(**{**d, "work": Workload.from_dict(d["work"])})


def estimate_row(row: CalRow, profiles: dict[str, Profile], host: Profile, cal: Calibration):
    """The projection (point and interval) of one published row under ``cal``."""
    return project(row.work, row.host_ms, row.precision, host, row.host_threads, profiles[row.device],
                   row.threads, cal, runtime=row.runtime, host_precision=row.host_precision)


def project_row(row: CalRow, profiles: dict[str, Profile], host: Profile, cal: Calibration) -> float:
    """Projected ms of one published row under ``cal``."""
    return estimate_row(row, profiles, host, cal).point_ms


def _params_used(rows: Sequence[CalRow], names: Sequence[str]) -> list[str]:
    # an offset no row exercises (e.g. runtime:pytorch when those rows are left out) stays at 0
    runtimes = {f"runtime:{r.runtime}" for r in rows if r.runtime}
    precisions = {"int8" if r.precision == "int8" else "fp32" for r in rows}
    used = []
    for n in names:
        if n.startswith("runtime:") and n not in runtimes:
            continue
        if n in ("fp32", "int8") and n not in precisions:
            continue
        used.append(n)
    return used


def fit(rows: Sequence[CalRow], profiles: dict[str, Profile], host: Profile,
        names: Sequence[str] = FIT_PARAMS, ridge: float = RIDGE, source: str = "") -> Calibration:
    """Least squares in log space: the corrections ``names`` that best explain ``rows``."""
    import numpy as np
    from scipy.optimize import least_squares

    if not rows:
        raise ConfigError("cannot calibrate on an empty table")
    used = _params_used(rows, names)
    y = np.log([r.published_ms for r in rows])

    def residuals(theta: Any) -> Any:
        cal = Calibration(params=dict(zip(used, map(float, theta))))
        pred = np.log([project_row(r, profiles, host, cal) for r in rows])
        return np.concatenate([y - pred, math.sqrt(ridge) * theta])

    sol = least_squares(residuals, np.zeros(len(used)), method="trf", x_scale=1.0)
    params = {n: round(float(v), 6) for n, v in zip(used, sol.x)}
    res = residuals(sol.x)[: len(rows)]
    return Calibration(params=params, residual_low=float(np.quantile(res, 0.1)),
                       residual_high=float(np.quantile(res, 0.9)), n_rows=len(rows),
                       source=source or f"log-LS fit on {len(rows)} published rows (in-sample residual band)",
                       details={"rms_log_residual": float(np.sqrt(np.mean(res ** 2)))})


@dataclass(frozen=True)
class HeldOut:
    """One leave-one-out projection: the row, what the calibration without it projects, and the error."""

    row: CalRow
    projected_ms: float
    low_ms: float | None = None  # the interval from the fold's own (in-sample) residual band
    high_ms: float | None = None

    @property
    def ratio(self) -> float:
        """projected / published."""
        return self.projected_ms / self.row.published_ms


def leave_one_out(rows: Sequence[CalRow], profiles: dict[str, Profile], host: Profile,
                  names: Sequence[str] = FIT_PARAMS, ridge: float = RIDGE) -> list[HeldOut]:
    """For every row: calibrate on the others, project the row."""
    out = []
    for i, row in enumerate(rows):
        cal = fit([r for j, r in enumerate(rows) if j != i], profiles, host, names, ridge)
        e = estimate_row(row, profiles, host, cal)
        out.append(HeldOut(row, e.point_ms, e.low_ms, e.high_ms))
    return out


def summary(held: Sequence[HeldOut], tolerance: float = 0.30) -> dict[str, float]:
    """Share of rows within ±tolerance, Spearman rank correlation, median |error|, log RMS, and
    the share of published values inside their projected interval (when the rows carry one)."""
    import numpy as np
    from scipy.stats import spearmanr

    ratios = np.array([h.ratio for h in held])
    within = float(np.mean(np.abs(ratios - 1) <= tolerance))
    rho = float(spearmanr([h.projected_ms for h in held], [h.row.published_ms for h in held]).statistic)
    out = {"rows": len(held), "within": within, "spearman": rho,
           "median_abs_error": float(np.median(np.abs(ratios - 1))),
           "rms_log": float(np.sqrt(np.mean(np.log(ratios) ** 2)))}
    banded = [h for h in held if h.low_ms is not None and h.high_ms is not None]
    if banded:
        out["interval_coverage"] = float(np.mean([h.low_ms <= h.row.published_ms <= h.high_ms for h in banded]))
    return out


def shipped_calibration(rows: Sequence[CalRow], profiles: dict[str, Profile], host: Profile,
                        held: Sequence[HeldOut], provenance: dict[str, Any]) -> dict[str, Any]:
    """The calibration file's content: the fit on every row, with the band of the leave-one-out
    residuals (an 80 % interval from errors the fit did not see), the rows and where they came from."""
    import numpy as np

    cal = fit(rows, profiles, host)
    loo = np.log([1 / h.ratio for h in held])  # log(published / projected)
    cal = Calibration(params=cal.params, residual_low=float(np.quantile(loo, 0.1)),
                      residual_high=float(np.quantile(loo, 0.9)), n_rows=len(rows),
                      source=f"log-LS fit on {len(rows)} published rows; band = 10th–90th percentile of "
                             f"leave-one-out residuals (host {host.name})",
                      details=cal.details | summary(held))
    return {"calibration": cal.to_dict(), "host_profile": host.name, "provenance": provenance,
            "rows": [r.to_dict() for r in rows]}


def load_rows(path: Path = CALIBRATION_FILE) -> list[CalRow]:
    """The rows the shipped calibration was fitted on (with their host measurements and work split)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"calibration file {path} is missing",
                          hint="run benchmarks/projection_accuracy.py --write-calibration") from None
    return [CalRow.from_dict(d) for d in data.get("rows", [])]
