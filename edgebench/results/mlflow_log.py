"""Log results to MLflow: one MLflow run per cell (``--mlflow [TRACKING_URI]`` on run, sweep, export).

Each :class:`~edgebench.results.RunResult` becomes an MLflow run in the experiment ``edgebench``
(or ``$MLFLOW_EXPERIMENT_NAME``), named ``model format variant @ target``:

- params: model, format, variant, target, threads, input_shape (+ kind, status);
- metrics (units in the names): p50_ms, p90_ms, p99_ms, mean_ms, ci_low_ms, ci_high_ms, cv,
  load_ms, first_inference_ms, peak_mb, size_bytes, gzip_bytes, packed_1bit_bytes, params,
  nonzero_params, macs, accuracy, macro_f1, top1_agreement, parity_sqnr_db, parity_top1_agreement,
  parity_max_abs — each only when the record has it;
- artifacts: ``manifest.json`` (the artifact's manifest) and ``raw_samples.json`` (the runner's
  RawSamples, per-iteration times included);
- tags: ``edgebench.run_id`` (the id in the results database), status, error.

The tracking URI defaults to MLflow's own default (``$MLFLOW_TRACKING_URI``, else the local store
``mlflow ui`` opens without arguments: ``sqlite:///mlflow.db`` with artifacts under ``./mlruns``
in MLflow 3; a ``./mlruns`` file store before). MLflow is an optional extra
(``pip install 'edgebench[mlflow]'``), imported only when a logger is made.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable

from edgebench.errors import EdgebenchError
from edgebench.results.model import RunResult

EXPERIMENT = "edgebench"
MB = 1024 * 1024


class MlflowError(EdgebenchError):
    stage = "mlflow"


def params(r: RunResult) -> dict[str, str]:
    """The cell's identity as MLflow params (strings)."""
    samples, bench = r.samples or {}, (r.spec or {}).get("bench") or {}
    threads = samples.get("threads") if samples.get("threads") is not None else bench.get("threads")
    shapes = samples.get("input_shapes") or ([bench["input_shape"]] if bench.get("input_shape") else None)
    if not shapes and r.artifact and r.artifact.manifest:
        shapes = [i.get("shape") for i in r.artifact.manifest.get("inputs") or [] if i.get("shape")]
    return {"model": r.model, "format": r.format, "variant": r.variant, "target": r.target or "-",
            "threads": "default" if threads is None else str(threads),
            "input_shape": ";".join("x".join(str(d) for d in s) for s in shapes) if shapes else "-",
            "kind": r.kind, "status": r.status.value}


def metrics(r: RunResult) -> dict[str, float]:
    """Every number the record has, under unit-bearing names (absent ones left out)."""
    out: dict[str, Any] = {}
    lat = r.latency
    if lat is not None:
        out |= {"p50_ms": lat.p50_ms, "p90_ms": lat.p90_ms, "p99_ms": lat.p99_ms, "mean_ms": lat.mean_ms,
                "ci_low_ms": lat.median_ci_low_ms, "ci_high_ms": lat.median_ci_high_ms, "cv": lat.cv,
                "n_runs": lat.n}
    out |= {"load_ms": r.load_ms, "first_inference_ms": r.first_inference_ms}
    mem = r.memory or {}
    if mem.get("peak_rss_bytes") is not None:
        out["peak_mb"] = mem["peak_rss_bytes"] / MB
    if mem.get("model_peak_bytes") is not None:
        out["model_peak_mb"] = mem["model_peak_bytes"] / MB
    a = r.artifact
    if a is not None:
        out |= {"size_bytes": a.size_bytes, "gzip_bytes": a.gzip_bytes, "packed_1bit_bytes": a.packed_1bit_bytes,
                "params": a.params, "nonzero_params": a.nonzero_params, "macs": a.macs}
    acc = r.accuracy or {}
    out |= {"accuracy": acc.get("accuracy"), "macro_f1": acc.get("macro_f1"),
            "top1_agreement": acc.get("top1_agreement")}
    vs = (r.parity or {}).get("vs_eager") or {}
    out |= {"parity_sqnr_db": vs.get("sqnr_db"), "parity_top1_agreement": vs.get("top1_agreement"),
            "parity_max_abs": vs.get("max_abs")}
    return {k: float(v) for k, v in out.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class MlflowLogger:
    """Callable sink: ``logger(record)`` logs one record as an MLflow run.

    ``kinds``: which records to log ("run" for measurements, "export" for export rows). Raises
    MlflowError (one line, with a hint) when MLflow is missing or the tracking store refuses."""

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None,
                 kinds: Iterable[str] = ("run",)):
        try:
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise MlflowError("mlflow is not installed", hint="pip install 'edgebench[mlflow]'") from None
        self._errors = (MlflowException, OSError)
        self.kinds = tuple(kinds)
        self.experiment = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri or None)
            self.tracking_uri = self.client.tracking_uri
            found = self.client.get_experiment_by_name(self.experiment)
            self.experiment_id = found.experiment_id if found else self.client.create_experiment(self.experiment)
        except self._errors as exc:
            raise self._error(exc, tracking_uri) from None

    @staticmethod
    def _error(exc: BaseException, uri: str | None) -> MlflowError:
        text = " ".join(str(getattr(exc, "message", exc)).split())[:300]
        hint = "pass a reachable tracking URI, e.g. --mlflow sqlite:///mlflow.db or --mlflow http://host:5000"
        if "filesystem tracking backend" in text or "MLFLOW_ALLOW_FILE_STORE" in text:
            hint = ("MLflow refuses new file stores: use --mlflow sqlite:///mlflow.db, or set "
                    "MLFLOW_ALLOW_FILE_STORE=true to keep a ./mlruns file store")
        return MlflowError(f"cannot log to MLflow at {uri or 'the default tracking URI'}: {text}", hint=hint)

    def __call__(self, record: Any) -> str | None:
        """Log ``record`` (a RunResult of a logged kind; anything else is ignored); returns the MLflow run id."""
        if not isinstance(record, RunResult) or record.kind not in self.kinds:
            return None
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        name = f"{record.model} {record.format} {record.variant}" + (f" @ {record.target}" if record.target else "")
        tags = {"edgebench.run_id": record.run_id, "edgebench.status": record.status.value,
                "edgebench.created_at": record.created_at}
        if record.error:
            tags["edgebench.error"] = f"{record.error.stage}: {record.error.message}"[:5000]
        if (record.spec or {}).get("sweep"):
            tags["edgebench.sweep"] = str(record.spec["sweep"])
        try:
            run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
            run_id = run.info.run_id
            self.client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics(record).items()],
                                  params=[Param(k, v) for k, v in params(record).items()],
                                  tags=[RunTag("edgebench.warnings", str(len(record.warnings)))])
            if record.artifact is not None and record.artifact.manifest:
                self.client.log_dict(run_id, record.artifact.manifest, "manifest.json")
            if record.samples:
                self.client.log_dict(run_id, record.samples, "raw_samples.json")
            ok = record.status.value in ("OK", "PARITY_FAILED", "UNSUPPORTED")
            self.client.set_terminated(run_id, status="FINISHED" if ok else "FAILED")
        except self._errors as exc:
            raise self._error(exc, self.tracking_uri) from None
        return run_id
