"""Embedded SQLite store: one row per result, written the moment the result exists (WAL mode).

A measurement is never lost to the store:

- ``database is locked`` (another writer) is retried with back-off for up to ``lock_wait_s``;
- when the store still cannot take a row (disk full, read-only file or mount, a directory, a file
  that is not an edgebench store), the record goes to a JSON-lines *spill file* beside the
  database, ``<db>.spill.jsonl``, or — when that folder cannot be written — to
  ``~/.cache/edgebench/spill/<hash of the db path>-<db name>.spill.jsonl``. :attr:`Store.spilled`
  counts them; the CLI names the file in one line and exits non-zero;
- the next open of a healthy store imports every spilled record (``INSERT OR REPLACE`` on the run
  id, so importing twice is harmless) and removes the spill file.

A file is only written to when it is an edgebench store: its ``application_id`` is edgebench's,
or it is an empty database, or it already holds edgebench's tables (stores from before the id).
That check reads only; no PRAGMA that writes runs before it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from edgebench.errors import EdgebenchError
from edgebench.results.model import Projection, RunResult, from_json, to_json

DEFAULT_DB = Path(".edgebench") / "results.db"
APPLICATION_ID = 0x45444742  # "EDGB" in the SQLite header: marks a file as an edgebench store
SPILL_SUFFIX = ".spill.jsonl"
SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT PRIMARY KEY,
    spec_hash TEXT,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    model TEXT, format TEXT, variant TEXT, target TEXT, status TEXT,
    record TEXT NOT NULL,
    session TEXT
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
_OUR_RESULT_COLUMNS = {"run_id", "spec_hash", "created_at", "kind", "record"}
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) if hasattr(sqlite3, "SQLITE_BUSY") else (5, 6)

T = TypeVar("T")


class StoreError(EdgebenchError):
    stage = "store"


def spill_path(db: Path | str) -> Path:
    """The spill file beside ``db`` (``results.db`` → ``results.db.spill.jsonl``)."""
    db = Path(db)
    return db.with_name(db.name + SPILL_SUFFIX)


def fallback_spill_path(db: Path | str) -> Path:
    """Where records spill when the database's folder cannot be written:
    ``~/.cache/edgebench/spill/<sha256(absolute db path)[:12]>-<db name>.spill.jsonl``."""
    db = Path(db).absolute()
    tag = hashlib.sha256(str(db).encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "edgebench" / "spill" / f"{tag}-{db.name}{SPILL_SUFFIX}"


def _is_busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY
    return "locked" in str(exc) or "busy" in str(exc)


def _classify(exc: BaseException, path: Path) -> StoreError:
    """A true one-line StoreError for a write that failed (never 'damaged' unless SQLite says so)."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc)
    err_no = getattr(exc, "errno", None)
    folder = path.parent if str(path.parent) else Path(".")
    full = code == 13 or err_no == errno.ENOSPC or "disk is full" in text
    if not full and (code == 10 or "disk I/O" in text):
        try:  # SQLite reports some ENOSPC writes (WAL, journal) as I/O errors
            full = shutil.disk_usage(folder).free < 1 << 20
        except OSError:
            pass
    if full:
        return StoreError(f"the disk holding {path} is full", hint="free some space, or pass --db on another disk")
    if code == 8 or err_no in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text or "read-only" in text:
        where = "file system" if err_no == errno.EROFS or _read_only_fs(folder) else "file or its folder"
        return StoreError(f"results database {path} is read-only ({where})",
                          hint="pass --db on a writable disk, or make it writable")
    if code in (11, 26) or "malformed" in text or "not a database" in text:
        return StoreError(f"results database {path} is damaged ({text})",
                          hint="move the damaged file aside (sqlite3's .recover may rescue its rows) or pass another --db")
    if code == 10 or "disk I/O" in text:
        return StoreError(f"disk I/O error writing {path} ({text})", hint="check the disk; or pass another --db")
    if _is_busy(exc):
        return StoreError(f"results database {path} stayed locked by another program",
                          hint="wait for the other edgebench (or sqlite3 session) to finish, then re-run to import")
    return StoreError(f"cannot write results database {path}: {text}", hint="pass another --db")


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _retry(fn: Callable[[], T], wait_s: float) -> T:
    """``fn()``, retried with exponential back-off (50 ms … 2 s) while the database is locked."""
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class Store:
    """Results database. Each ``add`` commits at once, so a killed process loses nothing written.

    Opening never modifies a file that is not an edgebench store. A store that cannot be written
    still opens: :attr:`problem` holds the reason, reads work where the file is readable, and
    ``add`` spills records to :attr:`spill` (see the module docstring). Reads of a store that is
    not readable raise :class:`StoreError`, one line with a true hint.
    """

    def __init__(self, path: Path | str = DEFAULT_DB, *, lock_wait_s: float = 120.0):
        self.path = Path(path)
        self.lock_wait_s = lock_wait_s
        self.session = uuid.uuid4().hex[:12]  # rows written by this open share it (see latest_runs)
        self.problem: StoreError | None = None  # why rows cannot be written (None: healthy)
        self.readable = False
        self.spilled = 0
        self.spill: Path | None = None
        self.imported = 0
        self._conn: sqlite3.Connection | None = None
        self._opened_at = time.time()
        _OPENED.append(self)
        self._open()
        if self.problem is None:
            self._import_spills()

    # -- opening -------------------------------------------------------------------------------

    def _open(self) -> None:
        path = self.path
        if path.is_dir():
            self.problem = StoreError(f"results database {path} is a directory",
                                      hint="pass a file path to --db, e.g. --db results.db")
            return
        if path.exists() or path.is_symlink():
            try:
                st = path.stat()
            except OSError as exc:
                self.problem = StoreError(f"cannot read results database {path}: {exc.strerror}", hint="pass another --db")
                return
            if not stat.S_ISREG(st.st_mode):
                self.problem = StoreError(f"results database {path} is not a regular file",
                                          hint="pass a file path to --db, e.g. --db results.db")
                return
            try:
                with open(path, "rb") as fh:
                    head = fh.read(len(SQLITE_MAGIC))
            except OSError as exc:
                self.problem = StoreError(f"cannot read results database {path}: {exc.strerror}",
                                          hint="check its permissions, or pass another --db")
                return
            if head and head != SQLITE_MAGIC:
                self.problem = StoreError(f"{path} is not a SQLite database, so not an edgebench results store",
                                          hint="edgebench left it untouched: pass another --db")
                return
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.problem = _classify(exc, path)
                return
        writable = self._writable()
        try:
            if writable:
                self._conn = sqlite3.connect(path, timeout=min(5.0, self.lock_wait_s))
            else:
                self._conn = self._connect_read_only()
            ours = _retry(self._check_ours, self.lock_wait_s)
        except sqlite3.DatabaseError as exc:
            self.problem = _classify(exc, path)
            self._close_conn()
            return
        if not ours:
            self._close_conn()
            return
        self.readable = True
        if not writable:
            self.problem = _classify(OSError(errno.EROFS if _read_only_fs(path.parent) else errno.EACCES,
                                             "read-only"), path)
            return
        try:
            _retry(self._prepare, self.lock_wait_s)
        except sqlite3.DatabaseError as exc:
            self.problem = _classify(exc, path)

    def _writable(self) -> bool:
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            return False
        # WAL and journal files are created beside the database
        return os.access(folder, os.W_OK) and not _read_only_fs(folder)

    def _connect_read_only(self) -> sqlite3.Connection:
        uri = self.path.absolute().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=min(5.0, self.lock_wait_s))
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            # a WAL store on a read-only mount cannot create its -shm file: read it as immutable
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)

    def _check_ours(self) -> bool:
        """Read-only look at the header and tables: is this an edgebench store (or an empty file)?"""
        conn = self._conn
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if app_id == APPLICATION_ID:
            return True
        if app_id == 0 and not tables:
            return True
        if app_id == 0 and "results" in tables:
            cols = {r[1] for r in conn.execute("PRAGMA table_info(results)")}
            if _OUR_RESULT_COLUMNS <= cols:  # a store written before edgebench set its application_id
                return True
        shown = ", ".join(sorted(tables)[:4]) + (", …" if len(tables) > 4 else "")
        owner = f"application_id {app_id:#x}" if app_id else f"tables: {shown or 'none'}"
        self.problem = StoreError(f"{self.path} is another program's SQLite database ({owner}), not an edgebench store",
                                  hint="edgebench left it untouched: pass another --db")
        return False

    def _prepare(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")
        with conn:
            conn.executescript(_SCHEMA)
        cols = {r[1] for r in conn.execute("PRAGMA table_info(results)")}
        if "session" not in cols:  # a store written before sessions existed
            with conn:
                conn.execute("ALTER TABLE results ADD COLUMN session TEXT")
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._close_conn()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def add(self, record: RunResult | Projection) -> None:
        """Write one record and commit; if the store cannot take it, append it to the spill file
        (see the module docstring). Raises StoreError only when not even the spill can be written."""
        if self.problem is None:
            try:
                _retry(lambda: self._insert(record, self.session), self.lock_wait_s)
                return
            except sqlite3.DatabaseError as exc:
                self.problem = _classify(exc, self.path)
        self._spill(record)

    def _insert(self, record: RunResult | Projection, session: str | None) -> None:
        with self._conn:
            if isinstance(record, Projection):
                self._conn.execute(
                    "INSERT OR REPLACE INTO projections VALUES (?,?,?,?,?,?,?)",
                    (record.projection_id, record.run_id, record.created_at, record.profile,
                     record.tier, record.threads, to_json(record)),
                )
            else:
                self._conn.execute(
                    "INSERT OR REPLACE INTO results (run_id, spec_hash, created_at, kind, model, format, variant, "
                    "target, status, record, session) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (record.run_id, record.spec_hash, record.created_at, record.kind, record.model,
                     record.format, record.variant, record.target, record.status.value,
                     to_json(record), session),
                )

    def _spill(self, record: RunResult | Projection) -> None:
        line = json.dumps({"session": self.session, "record": json.loads(to_json(record))}) + "\n"
        errors = []
        for candidate in (spill_path(self.path), fallback_spill_path(self.path)):
            try:
                candidate.parent.mkdir(parents=True, exist_ok=True)
                _append_locked(candidate, line)
            except OSError as exc:
                errors.append(f"{candidate}: {exc.strerror or exc}")
                continue
            self.spill = candidate
            self.spilled += 1
            return
        raise StoreError(f"{self.problem.message if self.problem else 'cannot write the store'}, and no spill "
                         f"file could be written ({'; '.join(errors)})",
                         hint="free space or pass --db on a writable disk")

    def spill_report(self) -> StoreError | None:
        """One line for the user when records went to the spill file (None when none did)."""
        if not self.spilled:
            return None
        reason = self.problem.message if self.problem else "the store could not take them"
        hint = self.problem.hint if self.problem else "pass another --db"
        return StoreError(f"{reason}: {self.spilled} result(s) saved to {self.spill} instead; edgebench imports "
                          f"them the next time it opens {self.path} as a healthy store", hint=hint)

    def _spilled_elsewhere(self) -> Path | None:
        # worker processes of this command open their own Store: their spill shows up as a fresh file
        if self.problem is None:
            return None
        for candidate in (spill_path(self.path), fallback_spill_path(self.path)):
            try:
                if candidate.stat().st_size and candidate.stat().st_mtime >= self._opened_at - 1:
                    return candidate
            except OSError:
                continue
        return None

    def _import_spills(self) -> None:
        for candidate in (spill_path(self.path), fallback_spill_path(self.path)):
            if candidate.is_file():
                try:
                    self.imported += self._import_one(candidate)
                except (OSError, sqlite3.DatabaseError):
                    continue  # still spilled; tried again at the next open

    def _import_one(self, candidate: Path) -> int:
        n = 0
        with open(candidate, "r+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            if os.fstat(fh.fileno()).st_nlink == 0:  # another process imported it meanwhile
                return 0
            bad = []
            for line in fh:
                try:
                    item = json.loads(line)
                    record = from_json(json.dumps(item["record"]))
                except (ValueError, KeyError, TypeError):
                    if line.strip():
                        bad.append(line if line.endswith("\n") else line + "\n")  # e.g. cut by kill -9
                    continue
                _retry(lambda: self._insert(record, item.get("session")), self.lock_wait_s)
                n += 1
            if bad:  # kept for a person to look at, never silently dropped
                with open(candidate.with_name(candidate.name + ".rejected"), "a", encoding="utf-8") as rej:
                    rej.writelines(bad)
            candidate.unlink()
        return n

    # -- reading -------------------------------------------------------------------------------

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        if not self.readable:
            raise self.problem or StoreError(f"cannot read {self.path}")
        try:
            return _retry(lambda: self._conn.execute(sql, args).fetchall(), self.lock_wait_s)
        except sqlite3.DatabaseError as exc:
            raise _classify(exc, self.path) from None

    def results(self, kind: str | None = None) -> list[RunResult]:
        """All run/export records, oldest first (``kind`` filters on "run" / "export")."""
        sql, args = "SELECT record FROM results", ()
        if kind:
            sql, args = sql + " WHERE kind = ?", (kind,)
        return [from_json(r[0]) for r in self._read(sql + " ORDER BY created_at, rowid", args)]

    def latest_runs(self) -> list[RunResult]:
        """The run records (kind "run") written by the latest ``edgebench run`` / ``sweep`` — one
        open of the store — oldest first; [] when the store holds no run. Cells a sweep skipped
        because they were already stored belong to the sweep that measured them."""
        row = self._read("SELECT session, run_id FROM results WHERE kind = 'run' "
                         "ORDER BY created_at DESC, rowid DESC LIMIT 1")
        if not row:
            return []
        session, run_id = row[0]
        if session is None:  # written before sessions were recorded: the latest run alone
            return [self.get(run_id)]
        rows = self._read("SELECT record FROM results WHERE kind = 'run' AND session = ? "
                          "ORDER BY created_at, rowid", (session,))
        return [from_json(r[0]) for r in rows]

    def get(self, run_id: str) -> RunResult:
        """One record by id (a unique prefix is enough)."""
        rows = self._read("SELECT record FROM results WHERE run_id LIKE ?", (run_id + "%",))
        if len(rows) != 1:
            what = "no run" if not rows else f"{len(rows)} runs"
            raise StoreError(f"{what} with id {run_id!r} in {self.path}", hint="see `edgebench compare --format json`")
        return from_json(rows[0][0])

    def find_spec(self, spec_hash: str, statuses: Iterable[str] = ("OK", "PARITY_FAILED", "UNSUPPORTED")) -> RunResult | None:
        """The latest record of a sweep cell that finished (used to resume sweeps); None also when
        the store cannot be read (the cell is then run again and its row spilled)."""
        if not self.readable:
            return None
        statuses = tuple(statuses)
        marks = ",".join("?" * len(statuses))
        rows = self._read(f"SELECT record FROM results WHERE spec_hash = ? AND status IN ({marks}) "
                          "ORDER BY created_at DESC, rowid DESC LIMIT 1", (spec_hash, *statuses))
        return from_json(rows[0][0]) if rows else None

    def projections(self, run_id: str | None = None) -> list[Projection]:
        """Stored projections (of one run, if given)."""
        sql, args = "SELECT record FROM projections", ()
        if run_id:
            sql, args = sql + " WHERE run_id = ?", (run_id,)
        return [from_json(r[0]) for r in self._read(sql + " ORDER BY created_at, rowid", args)]

    def __iter__(self) -> Iterator[RunResult]:
        return iter(self.results())


_OPENED: list[Store] = []


def forget_opened() -> None:
    """Start a new command: stores opened by an earlier command in this process (an in-process
    caller running several commands) are not reported again by :func:`unsaved`."""
    _OPENED.clear()


def unsaved(include_waiting: bool = True) -> list[StoreError]:
    """One line per store opened by this command whose records went to a spill file instead of the
    database (the CLI prints them and exits non-zero). Each store is reported once: the list of
    opened stores is emptied."""
    out, seen = [], set()
    for store in _OPENED:
        key = str(store.path.absolute())
        report = store.spill_report()
        # records an EARLIER command spilled (still waiting for a healthy store): said unless the
        # command already failed with its own one-line error about this store
        if report is None and include_waiting and (where := store._spilled_elsewhere()) is not None:
            report = StoreError(f"{store.problem.message}: results saved to {where} instead; edgebench imports "
                                f"them the next time it opens {store.path} as a healthy store",
                                hint=store.problem.hint)
        if report is not None and key not in seen:
            seen.add(key)
            out.append(report)
    _OPENED.clear()
    return out


def _append_locked(path: Path, line: str) -> None:
    """Append one line under an exclusive lock (an importer may remove the file meanwhile)."""
    for _ in range(5):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink == 0:  # imported and removed between open and lock: reopen
                continue
            size = os.fstat(fd).st_size
            data = line.encode()
            try:
                while data:
                    data = data[os.write(fd, data):]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # no half line left behind (e.g. the disk filled up)
                raise
            return
        finally:
            os.close(fd)
    raise OSError(errno.EAGAIN, "the spill file kept being removed")
