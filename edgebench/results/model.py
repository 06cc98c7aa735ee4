"""Typed, versioned result records. Stats are derived from raw samples and kept as numbers.

Every record serialises to JSON with ``to_dict()`` and back with ``from_dict()``; the one
serializer is :func:`to_json` / :func:`from_json`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


class Status(str, enum.Enum):
    """Stage-classified outcome of one cell (export, run or projection)."""

    OK = "OK"
    PARITY_FAILED = "PARITY_FAILED"  # artifact written, but its outputs differ from eager too much
    UNSUPPORTED = "UNSUPPORTED"  # the (format, variant, target) cell cannot be done: error says why
    LOAD_FAILED = "LOAD_FAILED"
    EXPORT_FAILED = "EXPORT_FAILED"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    RUN_FAILED = "RUN_FAILED"
    TIMEOUT = "TIMEOUT"
    INTERRUPTED = "INTERRUPTED"


def new_id() -> str:
    """A fresh, sortable-enough run id."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def now_iso() -> str:
    """UTC timestamp in ISO 8601."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ErrorInfo:
    """Where a cell failed and why, in one line, plus what to do."""

    stage: str
    message: str
    hint: str | None = None
    detail: str | None = None  # e.g. the stderr tail of a crashed runner


@dataclass(frozen=True)
class ArtifactInfo:
    """The measured file: format, variant, bytes and identity, and counts from its manifest."""

    path: str
    format: str
    variant: str
    size_bytes: int | None = None
    gzip_bytes: int | None = None
    sha256: str | None = None
    params: int | None = None
    nonzero_params: int | None = None
    macs: int | None = None
    packed_1bit_bytes: int | None = None
    manifest: dict[str, Any] | None = None


@dataclass(frozen=True)
class LatencyStats:
    """Derived latency statistics in milliseconds (see :mod:`edgebench.harness.stats`)."""

    n: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    iqr_ms: float
    cv: float
    median_ci_low_ms: float
    median_ci_high_ms: float
    outliers: int


@dataclass(frozen=True)
class RunResult:
    """One measured (or failed) cell: model × format × variant × target."""

    model: str
    format: str
    variant: str
    target: str
    status: Status
    run_id: str = field(default_factory=new_id)
    spec_hash: str | None = None
    created_at: str = field(default_factory=now_iso)
    schema_version: int = SCHEMA_VERSION
    kind: str = "run"  # "run" (measured) or "export" (an export with its parity, not timed)
    error: ErrorInfo | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    artifact: ArtifactInfo | None = None
    samples: dict[str, Any] | None = None  # the RawSamples JSON as the runner emitted it
    latency: LatencyStats | None = None
    first_inference_ms: float | None = None
    load_ms: float | None = None
    # what one timed iteration contained: "invoke" (the inference call, inputs bound) or
    # "invoke+io" (--include-io: plus pre-processing, copy-in, copy-out, post-processing)
    timed_region: str | None = None
    memory: dict[str, Any] | None = None
    accuracy: dict[str, Any] | None = None
    parity: dict[str, Any] | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return _encode(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunResult":
        return _decode(cls, d)


@dataclass(frozen=True)
class Projection:
    """A projected latency for a device tier. Always its own row, pointing at a measured run."""

    run_id: str
    profile: str
    tier: str
    threads: str  # "1-big" or "all-big"
    point_ms: float
    low_ms: float
    high_ms: float
    method: str
    projection_id: str = field(default_factory=new_id)
    created_at: str = field(default_factory=now_iso)
    schema_version: int = SCHEMA_VERSION
    model: str | None = None
    format: str | None = None
    variant: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _encode(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Projection":
        return _decode(cls, d)


def _encode(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    return obj


_NESTED = {"error": ErrorInfo, "artifact": ArtifactInfo, "latency": LatencyStats}


def _decode(cls: type, d: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in d.items():
        if key not in names:
            continue  # a newer writer's extra field: ignore rather than fail
        if key in _NESTED and isinstance(value, dict):
            value = _decode(_NESTED[key], value)
        elif key == "status":
            value = Status(value)
        elif key == "warnings":
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def to_json(record: RunResult | Projection) -> str:
    """The one serializer for stored records."""
    return json.dumps(record.to_dict(), sort_keys=True)


def from_json(text: str) -> RunResult | Projection:
    """Inverse of :func:`to_json` (dispatches on the record's fields)."""
    d = json.loads(text)
    return Projection.from_dict(d) if "projection_id" in d else RunResult.from_dict(d)
