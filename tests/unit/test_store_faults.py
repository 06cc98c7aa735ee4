"""The results store under faults: a locked, full, read-only, foreign, damaged or misplaced database
never loses a result (it spills to JSON lines and is imported at the next healthy open), never
modifies a file that is not an edgebench store, and says what is really wrong."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgebench.results import RunResult, Status, Store
from edgebench.results.store import APPLICATION_ID, StoreError, fallback_spill_path, spill_path


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """The spill fallback lives under ~/.cache: keep it inside the test's folder."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    return h


def result(**kw) -> RunResult:
    return RunResult(**{"model": "m", "format": "f", "variant": "fp32", "target": "local", "status": Status.OK, **kw})


def spilled_ids(path: Path) -> list[str]:
    return [json.loads(line)["record"]["run_id"] for line in path.read_text().splitlines()]


def test_fresh_store_is_marked_as_edgebench(db):
    with Store(db) as store:
        r = result()
        store.add(r)
        assert store.problem is None and [x.run_id for x in store.results()] == [r.run_id]
    assert sqlite3.connect(db).execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_another_programs_sqlite_file_is_never_modified(tmp_path):
    foreign = tmp_path / "app.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    before = foreign.read_bytes()
    store = Store(foreign)
    r = result()
    store.add(r)
    store.close()
    assert foreign.read_bytes() == before  # not switched to WAL, no application_id, no tables
    assert not (tmp_path / "app.db-wal").exists() and not (tmp_path / "app.db-journal").exists()
    line = str(store.spill_report())
    assert "another program's SQLite database" in line and "(tables: t)" in line
    assert "damaged" not in line and "left it untouched" in line
    assert spilled_ids(spill_path(foreign)) == [r.run_id]
    with pytest.raises(StoreError, match="another program's"):
        store.results()


def test_a_foreign_application_id_is_not_ours_even_with_our_table_names(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE results (run_id, spec_hash, created_at, kind, record)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    store = Store(other)
    assert store.problem is not None and "application_id 0x4d2" in store.problem.message
    assert other.read_bytes() == before


def test_a_store_from_before_the_application_id_is_adopted(tmp_path):
    legacy = tmp_path / "old.db"
    conn = sqlite3.connect(legacy)
    conn.execute("CREATE TABLE results (run_id TEXT PRIMARY KEY, spec_hash TEXT, created_at TEXT NOT NULL, "
                 "kind TEXT NOT NULL, model TEXT, format TEXT, variant TEXT, target TEXT, status TEXT, "
                 "record TEXT NOT NULL)")
    from edgebench.results.model import to_json

    old = result()
    conn.execute("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (old.run_id, None, old.created_at, "run", "m", "f", "fp32", "local", "OK", to_json(old)))
    conn.commit()
    conn.close()
    with Store(legacy) as store:
        assert store.problem is None
        assert [r.run_id for r in store.latest_runs()] == [old.run_id]  # no session: the latest run alone
        new = result()
        store.add(new)
        assert [r.run_id for r in store.results()] == [old.run_id, new.run_id]


@pytest.mark.parametrize("make,needle,not_needle", [
    (lambda p: p.mkdir(), "is a directory", "damaged"),
    (lambda p: p.write_text("model,format\n"), "is not a SQLite database", "damaged"),
    (lambda p: os.mkfifo(p), "is not a regular file", "damaged"),
    (lambda p: p.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20), "is damaged", None),
])
def test_each_unusable_file_gets_its_own_true_hint_and_the_row_spills(tmp_path, make, needle, not_needle):
    path = tmp_path / "x.db"
    make(path)
    store = Store(path, lock_wait_s=1)
    r = result()
    store.add(r)
    line = str(store.spill_report())
    assert needle in line and str(spill_path(path)) in line
    if not_needle:
        assert not_needle not in line
    assert spilled_ids(spill_path(path)) == [r.run_id]


def test_spill_is_imported_at_the_next_healthy_open_and_cut_lines_are_kept(tmp_path):
    path = tmp_path / "r.db"
    path.mkdir()  # first: unusable
    store = Store(path)
    a, b = result(), result(kind="export")
    store.add(a)
    store.add(b)
    with open(spill_path(path), "a") as fh:
        fh.write('{"session": "x", "record": {"model": "cut by kill -')  # a line cut mid-write
    path.rmdir()  # fixed
    with Store(path) as healthy:
        assert healthy.imported == 2 and healthy.problem is None
        assert sorted(r.run_id for r in healthy.results()) == sorted([a.run_id, b.run_id])
        assert [r.run_id for r in healthy.latest_runs()] == [a.run_id]  # same session; runs only
    assert not spill_path(path).exists()
    assert "cut by kill" in spill_path(path).with_name(spill_path(path).name + ".rejected").read_text()
    with Store(path) as again:  # nothing imported twice
        assert again.imported == 0 and len(again.results()) == 2


def test_latest_runs_are_those_of_the_latest_open(db):
    with Store(db) as first:
        first.add(result())
    with Store(db) as second:
        mine = [result(), result()]
        for r in mine:
            second.add(r)
        second.add(result(kind="export"))
    with Store(db) as reader:
        assert [r.run_id for r in reader.latest_runs()] == [r.run_id for r in mine]


HOLD = textwrap.dedent("""
    import sqlite3, sys, time
    c = sqlite3.connect(sys.argv[1], isolation_level=None)
    c.execute("begin exclusive")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
""")


def hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_locked_store_is_retried_with_back_off(db):
    Store(db).close()
    holder = hold_lock(db, 2)
    with Store(db, lock_wait_s=30) as store:
        r = result()
        store.add(r)  # waits for the other writer, then writes
        assert store.problem is None and store.spilled == 0
    holder.wait()
    with Store(db) as store:
        assert [x.run_id for x in store.results()] == [r.run_id]


def test_a_store_locked_for_too_long_spills_then_imports(db):
    Store(db).close()
    holder = hold_lock(db, 3)
    store = Store(db, lock_wait_s=0.5)
    r = result()
    store.add(r)
    assert "stayed locked" in str(store.spill_report()) and "damaged" not in str(store.spill_report())
    holder.wait()
    with Store(db) as store:
        assert store.imported == 1 and [x.run_id for x in store.results()] == [r.run_id]


def _unshare_ok() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_unshare = pytest.mark.skipif(not _unshare_ok(), reason="needs unprivileged user+mount namespaces (unshare -rm)")

PROBE = textwrap.dedent("""
    import json, sys
    from edgebench.results import RunResult, Status, Store
    store = Store(sys.argv[1])
    r = RunResult(model="m", format="f", variant="fp32", target="local", status=Status.OK,
                  samples={"iterations_ms": [0.5] * int(sys.argv[2])})
    store.add(r)
    rows = len(store.results()) if store.readable else None
    print(json.dumps({"report": str(store.spill_report()), "spill": str(store.spill), "rows": rows,
                      "run_id": r.run_id}))
""")


def in_namespace(mount: str, folder: Path, db: Path, samples: int, home: Path) -> dict:
    script = f'{mount} && exec "$0" -c "$1" "$2" "$3"'
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script, sys.executable, PROBE, str(db), str(samples)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


@needs_unshare
def test_read_only_mount_spills_to_the_cache_and_keeps_reading(tmp_path, home):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "r.db"
    with Store(db) as store:
        store.add(result())
    out = in_namespace(f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}", folder, db, 1, home)
    assert "read-only (file system)" in out["report"] and "damaged" not in out["report"]
    assert out["rows"] == 1  # the old row can still be read
    assert out["spill"] == str(fallback_spill_path(db)) and fallback_spill_path(db).is_file()
    with Store(db) as store:  # writable again: imported from the fallback
        assert store.imported == 1 and len(store.results()) == 2
    assert not fallback_spill_path(db).exists()


@needs_unshare
def test_full_disk_spills_and_says_the_disk_is_full(tmp_path, home):
    folder = tmp_path / "small"
    folder.mkdir()
    db = folder / "r.db"
    out = in_namespace(f"mount -t tmpfs -o size=64k tmpfs {folder}", folder, db, 50_000, home)
    assert "is full" in out["report"] and "damaged" not in out["report"] and "read-only" not in out["report"]
    assert out["spill"] == str(fallback_spill_path(db))
    ids = spilled_ids(fallback_spill_path(db))
    assert ids == [out["run_id"]]
    with Store(db) as store:  # the tmpfs is gone: a fresh healthy store at the same path imports it
        assert store.imported == 1 and [r.run_id for r in store.results()] == ids
