"""The faults of ../shared/cases/faults.sh through the real CLI: a locked, foreign or unusable store,
FIFOs and temp files named like models, checkpoints handed to `run`, sweep files that try to grant
trust or carry mistakes, two sweeps on one store, `--db` after the sub-command and piped tables.
Each ends as a measured row or one clean line (exit ≠ 0), never a traceback or a hang."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

FAST = ["--threads", "1", "--warmup", "1", "--warmup-seconds", "0", "--runs", "5", "--min-seconds", "0",
        "--input-shape", "1,3,32,32"]


def eb(*args: str, cwd: Path | None = None, columns: int = 200, timeout: float = 300,
       home: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns)}
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "edgebench", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)


def one_error(proc: subprocess.CompletedProcess) -> str:
    """The single error line of a failed command (asserts there is exactly one, and no traceback)."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def stored_runs(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT run_id, spec_hash, model, status FROM results WHERE kind = 'run'").fetchall()


@pytest.fixture(scope="module")
def tiny_pt(tmp_path_factory) -> Path:
    """The test CNN as a frozen TorchScript file (seconds to make, measured in well under a second)."""
    import torch

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from conftest import make_tiny_cnn

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny") / "tiny.pt"
    model = make_tiny_cnn()
    torch.jit.freeze(torch.jit.trace(model, torch.randn(1, 3, 32, 32))).save(str(path))
    return path


@pytest.fixture
def home(tmp_path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def ts_format() -> str:
    """The format whose files end in .pt (named through the registry, not spelled here)."""
    from edgebench.exporters import registry

    return next(name for name, e in registry.items() if ".pt" in e.file_suffixes())


# -- CLI habits ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_db_after_the_subcommand(tmp_path, tiny_pt):
    proc = eb("run", tiny_pt, *FAST, "--db", "x.db", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "x.db").is_file() and not (tmp_path / ".edgebench").exists()
    rows = json.loads(eb("compare", "-o", "json", "--db=x.db", cwd=tmp_path).stdout)
    assert [r["model"] for r in rows] == ["tiny"]


@pytest.mark.slow
def test_piped_tables_print_full_names(tmp_path, tiny_pt):
    long = tmp_path / "a_model_file_name_long_enough_to_be_cut_by_any_narrow_table_1234567890.pt"
    shutil.copy(tiny_pt, long)
    proc = eb("--db", tmp_path / "r.db", "run", long, *FAST, columns=60)
    assert proc.returncode == 0, proc.stderr
    assert long.stem in proc.stdout and "…" not in proc.stdout
    compare = eb("--db", tmp_path / "r.db", "compare", columns=60)
    assert long.stem in compare.stdout and "…" not in compare.stdout and "p90 ms" in compare.stdout
    models = eb("models", "--no-counts", columns=40)
    assert models.returncode == 0
    for name in ("mobilenet_v3_small", "efficientnet_b0", "vit_denoiser"):
        assert f" {name} " in models.stdout
    assert "…" not in models.stdout


# -- the store under faults ---------------------------------------------------------------------

@pytest.mark.slow
def test_foreign_sqlite_db_is_untouched_and_the_result_spills_then_imports(tmp_path, tiny_pt, home):
    app = tmp_path / "app.db"
    with sqlite3.connect(app) as conn:
        conn.execute("CREATE TABLE notes (x)")
    before = app.read_bytes()
    proc = eb("run", tiny_pt, *FAST, "--db", app, home=home)
    line = one_error(proc)
    assert line.startswith("error store:") and "another program's SQLite database" in line
    assert "damaged" not in line and f"{app}.spill.jsonl" in line
    assert "tiny" in proc.stdout  # the measurement is shown as well as saved
    assert app.read_bytes() == before and not Path(f"{app}-wal").exists()
    app.rename(tmp_path / "notes.db")  # the user moves the other program's file away
    again = eb("run", tiny_pt, *FAST, "--db", app, home=home)
    assert again.returncode == 0, again.stderr
    assert len(stored_runs(app)) == 2 and not Path(f"{app}.spill.jsonl").exists()


@pytest.mark.slow
@pytest.mark.parametrize("make,needle", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_text("name,value\n"), "is not a SQLite database"),
])
def test_unusable_db_path_is_one_true_line(tmp_path, tiny_pt, home, make, needle):
    db = tmp_path / "r.db"
    make(db)
    line = one_error(eb("run", tiny_pt, *FAST, "--db", db, home=home))
    assert needle in line and "damaged" not in line and "spill.jsonl" in line
    compare = one_error(eb("compare", "--db", db, home=home))
    assert needle in compare


@pytest.mark.slow
def test_locked_store_waits_and_keeps_the_measurement(tmp_path, tiny_pt):
    db = tmp_path / "lock.db"
    assert eb("run", tiny_pt, *FAST, "--db", db).returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sqlite3, time
        c = sqlite3.connect({str(db)!r}, isolation_level=None)
        c.execute("begin exclusive")
        print("held", flush=True)
        time.sleep(6)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    proc = eb("run", tiny_pt, *FAST, "--db", db)
    holder.wait()
    assert proc.returncode == 0, proc.stderr
    assert len(stored_runs(db)) == 2


# -- files that are not models ------------------------------------------------------------------

def test_fifo_and_dev_zero_named_like_models_do_not_hang(tmp_path):
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.pt"
    zero.symlink_to("/dev/zero")
    for path, kind in ((fifo, "FIFO"), (zero, "character device")):
        t0 = time.monotonic()
        line = one_error(eb("--db", tmp_path / "r.db", "run", path, timeout=60))
        assert kind in line and path.name in line and time.monotonic() - t0 < 60


@pytest.mark.slow
def test_temp_files_of_a_killed_export_are_not_measured(tmp_path, tiny_pt):
    folder = tmp_path / "arts"
    folder.mkdir()
    shutil.copy(tiny_pt, folder / "tiny.pt")
    shutil.copy(tiny_pt, folder / ".tmp-999999999-0badc0de-tiny.pt")  # what kill -9 mid-export leaves
    proc = eb("--db", tmp_path / "r.db", "run", folder, *FAST)
    assert proc.returncode == 0, proc.stderr
    assert [r[2] for r in stored_runs(tmp_path / "r.db")] == ["tiny"]
    assert proc.stderr.count("measuring") == 1


def test_a_healthy_checkpoint_given_to_run_says_to_export_it(tmp_path):
    import torch

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from conftest import make_tiny_cnn

    ckpt = tmp_path / "plain_state_dict.pt"
    torch.save(make_tiny_cnn().state_dict(), ckpt)
    line = one_error(eb("--db", tmp_path / "r.db", "run", ckpt))
    assert "this is a checkpoint, not an artifact: use `edgebench export --checkpoint" in line
    assert "corrupt" not in line


@pytest.mark.slow
def test_checkpoint_cases_load_or_name_the_infix(tmp_path):
    import numpy as np
    import torch
    import torchvision

    sd = torchvision.models.resnet18(num_classes=3).state_dict()
    torch.save({k.replace("layer1.", "layer1.module.", 1): v for k, v in sd.items()}, tmp_path / "r18_infix.pth")
    torch.save({"state_dict": sd, "best_acc": np.float64(0.91), "epoch": np.int64(12)}, tmp_path / "r18_numpy_meta.pth")
    for name in ("r18_infix.pth", "r18_numpy_meta.pth"):
        proc = eb("inspect", "--checkpoint", tmp_path / name, "--arch", "resnet18", "--num-classes", "3")
        assert proc.returncode == 0, proc.stderr
        assert "11.18 M" in proc.stdout
    wrong = one_error(eb("inspect", "--checkpoint", tmp_path / "r18_infix.pth", "--arch", "mobilenet_v2",
                         "--num-classes", "3"))
    assert "'.module.'" in wrong


def _ro_mount_ok() -> bool:
    return shutil.which("unshare") is not None and \
        subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _ro_mount_ok(), reason="needs unprivileged mount namespaces (unshare -rm)")
def test_export_out_on_a_read_only_file_system_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    (ro / "arts").mkdir(parents=True)
    script = (f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && "
              f'exec "$0" -m edgebench --db {tmp_path / "r.db"} export --model mobilenet_v3_small '
              f'--format {ts_format()} --out "$1"')
    for out in (ro / "arts", ro / "new"):
        proc = subprocess.run(["unshare", "-rm", "sh", "-c", script, sys.executable, str(out)], capture_output=True,
                              text=True, timeout=300)
        line = one_error(proc)
        assert line.startswith("error config:") and str(out) in line and "writable disk" in line


# -- sweeps -------------------------------------------------------------------------------------

class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.slow
def test_a_sweep_file_cannot_grant_trust(tmp_path):
    import torch

    marker = tmp_path / "PAYLOAD_RAN"
    torch.save(_Payload(marker), tmp_path / "payload.pt")
    granting = tmp_path / "trust.toml"
    granting.write_text(f'models = [{{checkpoint = "payload.pt", trust_checkpoint = true}}]\n'
                        f'formats = ["{ts_format()}"]\n')
    line = one_error(eb("--db", tmp_path / "t.db", "sweep", granting, cwd=tmp_path))
    assert "models[0].trust_checkpoint" in line and "--trust-checkpoint" in line
    plain = tmp_path / "plain.toml"
    plain.write_text(f'models = [{{checkpoint = "payload.pt"}}]\nformats = ["{ts_format()}"]\n'
                     f'out_dir = "{tmp_path / "arts"}"\n')
    proc = eb("--db", tmp_path / "t.db", "sweep", plain, cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "holds pickled code" in proc.stderr and "--trust-checkpoint" in proc.stderr
    assert not marker.exists()
    assert "--trust-checkpoint" in eb("sweep", "--help").stdout


@pytest.mark.parametrize("text,key", [
    ('models = [{name = "mobilenet_v3_small", archh = "x"}]', "models[0].archh"),
    ('variants = ["prunedabc-fp32"]', "variants[0]"),
    ('calibration_samples = "lots"', "calibration_samples"),
    ('[bench]\nruns = "many"', "bench.runs"),
])
def test_sweep_file_mistakes_are_one_line_naming_the_key(tmp_path, text, key):
    f = tmp_path / "bad.toml"
    f.write_text(text + "\n")
    line = one_error(eb("--db", tmp_path / "s.db", "sweep", f))
    assert line.startswith("error config:") and f"{key}" in line


def test_a_directory_as_sweep_file_is_one_line(tmp_path):
    assert "is a directory" in one_error(eb("--db", tmp_path / "s.db", "sweep", tmp_path))


@pytest.mark.slow
def test_two_sweeps_on_one_store_never_run_a_cell_twice(tmp_path):
    from test_sweep import CLI

    sweep = tmp_path / "two.toml"
    sweep.write_text(textwrap.dedent(f"""
        models = ["tiny_cnn"]
        formats = ["{ts_format()}"]
        variants = ["fp32", "pruned50-fp32"]
        out_dir = "{tmp_path / 'artifacts'}"
        calibration_samples = 4
        [bench]
        warmup_runs = 1
        warmup_seconds = 0.0
        runs = 10
        min_seconds = 2.0
        threads = 1
    """))
    db = tmp_path / "two.db"
    procs = [subprocess.Popen([sys.executable, "-c", CLI, "--db", str(db), "sweep", str(sweep)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    runs = stored_runs(db)
    assert len(runs) == 2 and len({r[1] for r in runs}) == 2 and all(r[3] == "OK" for r in runs)
    assert any("waiting:" in err for _, err in outs)  # the second sweep said it waited


@pytest.mark.slow
def test_export_into_a_foreign_db_prints_full_paths_and_spills(tmp_path, home):
    app = tmp_path / "app.db"
    with sqlite3.connect(app) as conn:
        conn.execute("CREATE TABLE notes (x)")
    before = app.read_bytes()
    out = tmp_path / "artifacts_folder_with_a_long_enough_name_to_be_cut_in_sixty_columns"
    proc = eb("export", "--model", "mobilenet_v3_small", "--format", ts_format(), "--out", out, "--db", app,
              columns=60, home=home)
    line = one_error(proc)
    assert "another program's SQLite database" in line and app.read_bytes() == before
    written = next(out.rglob("*.pt"))
    assert str(written) in proc.stdout and "…" not in proc.stdout
    record = json.loads(Path(f"{app}.spill.jsonl").read_text().splitlines()[0])["record"]
    assert record["kind"] == "export" and record["status"] == "OK"
