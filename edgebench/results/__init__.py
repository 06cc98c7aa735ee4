"""Result records, their SQLite store and a pandas view of it."""

from __future__ import annotations

from pathlib import Path

from edgebench.results.model import (
    SCHEMA_VERSION, ArtifactInfo, ErrorInfo, LatencyStats, Projection, RunResult, Status,
)
from edgebench.results.store import DEFAULT_DB, Store

__all__ = ["SCHEMA_VERSION", "ArtifactInfo", "ErrorInfo", "LatencyStats", "Projection", "RunResult",
           "Status", "Store", "DEFAULT_DB", "load", "load_projections"]


def load(db: Path | str = DEFAULT_DB):
    """Every stored result as a flat ``pandas.DataFrame`` (nested fields joined with ``.``)."""
    import pandas as pd

    with Store(db) as store:
        rows = [r.to_dict() for r in store.results()]
    for row in rows:
        row.pop("samples", None)  # raw per-iteration lists stay in the record, not the table
    return pd.json_normalize(rows) if rows else pd.DataFrame()


def load_projections(db: Path | str = DEFAULT_DB):
    """Every stored projection as a ``pandas.DataFrame``."""
    import pandas as pd

    with Store(db) as store:
        rows = [p.to_dict() for p in store.projections()]
    return pd.json_normalize(rows) if rows else pd.DataFrame()
