"""Embedded SQLite store: one row per result, written the moment the result exists (WAL mode)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable, Iterator

from edgebench.errors import EdgebenchError
from edgebench.results.model import Projection, RunResult, from_json, to_json

DEFAULT_DB = Path(".edgebench") / "results.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT PRIMARY KEY,
    spec_hash TEXT,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    model TEXT, format TEXT, variant TEXT, target TEXT, status TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_spec_hash ON results(spec_hash);
CREATE TABLE IF NOT EXISTS projections (
    projection_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    profile TEXT, tier TEXT, threads TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS projections_run ON projections(run_id);
"""


class StoreError(EdgebenchError):
    stage = "store"


class Store:
    """Results database. Each ``add`` commits at once, so a killed process loses nothing written."""

    def __init__(self, path: Path | str = DEFAULT_DB):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"cannot open results database {self.path}: {exc}",
                             hint="pass another --db or remove the damaged file") from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, record: RunResult | Projection) -> None:
        """Write one record and commit."""
        with self._conn:
            if isinstance(record, Projection):
                self._conn.execute(
                    "INSERT OR REPLACE INTO projections VALUES (?,?,?,?,?,?,?)",
                    (record.projection_id, record.run_id, record.created_at, record.profile,
                     record.tier, record.threads, to_json(record)),
                )
            else:
                self._conn.execute(
                    "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (record.run_id, record.spec_hash, record.created_at, record.kind, record.model,
                     record.format, record.variant, record.target, record.status.value,
                     to_json(record)),
                )

    def results(self, kind: str | None = None) -> list[RunResult]:
        """All run/export records, oldest first (``kind`` filters on "run" / "export")."""
        sql, args = "SELECT record FROM results", ()
        if kind:
            sql, args = sql + " WHERE kind = ?", (kind,)
        return [from_json(r[0]) for r in self._conn.execute(sql + " ORDER BY created_at, rowid", args)]

    def get(self, run_id: str) -> RunResult:
        """One record by id (a unique prefix is enough)."""
        rows = self._conn.execute("SELECT record FROM results WHERE run_id LIKE ?", (run_id + "%",)).fetchall()
        if len(rows) != 1:
            what = "no run" if not rows else f"{len(rows)} runs"
            raise StoreError(f"{what} with id {run_id!r} in {self.path}", hint="see `edgebench compare --format json`")
        return from_json(rows[0][0])

    def find_spec(self, spec_hash: str, statuses: Iterable[str] = ("OK", "PARITY_FAILED", "UNSUPPORTED")) -> RunResult | None:
        """The latest record of a sweep cell that finished (used to resume sweeps)."""
        marks = ",".join("?" * len(tuple(statuses)))
        row = self._conn.execute(
            f"SELECT record FROM results WHERE spec_hash = ? AND status IN ({marks}) "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (spec_hash, *statuses),
        ).fetchone()
        return from_json(row[0]) if row else None

    def projections(self, run_id: str | None = None) -> list[Projection]:
        """Stored projections (of one run, if given)."""
        sql, args = "SELECT record FROM projections", ()
        if run_id:
            sql, args = sql + " WHERE run_id = ?", (run_id,)
        return [from_json(r[0]) for r in self._conn.execute(sql + " ORDER BY created_at, rowid", args)]

    def __iter__(self) -> Iterator[RunResult]:
        return iter(self.results())
