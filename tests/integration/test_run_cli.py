"""`edgebench run` and `edgebench compare` as a user types them: tables, the store, accuracy, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_runner import SHAPE, build_tiny_artifacts, eager_model

EDGEBENCH = str(Path(sys.executable).with_name("edgebench"))
FAST = ["--threads", "1", "--warmup", "2", "--warmup-seconds", "0", "--runs", "15", "--min-seconds", "0.05"]


@pytest.fixture(scope="module")
def tiny(request) -> dict[str, Path]:
    import torch

    return build_tiny_artifacts(Path(request.config.cache.mkdir(f"edgebench-tiny-{torch.__version__}")))


def eb(db: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EDGEBENCH, "--db", str(db), *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]


def test_run_a_directory_then_compare(tiny, tmp_path, db):
    models = tmp_path / "models"
    models.mkdir()
    for kind in ("onnx", "tflite", "torchscript"):
        shutil.copy(tiny[kind], models)
    (models / "notes.txt").write_text("not a model, and not picked up from a directory")
    proc = eb(db, "run", str(models), "--input-shape", "1,3,32,32", *FAST)
    assert proc.returncode == 0, proc.stderr
    for fmt in ("onnx", "tflite", "torchscript"):
        assert fmt in proc.stdout
    assert "p50 ms [95% CI]" in proc.stdout

    rows = json.loads(eb(db, "compare", "-o", "json").stdout)
    assert sorted(r["format"] for r in rows) == ["onnx", "tflite", "torchscript"]
    for r in rows:
        assert r["status"] == "OK" and r["p50_ms"] > 0 and r["ci_low_ms"] <= r["p50_ms"] <= r["ci_high_ms"]
        assert r["peak_mb"] > 0 and r["size_mb"] > 0 and r["n"] >= 15
    assert next(r for r in rows if r["format"] == "onnx")["params"] > 0  # counted from the ONNX file

    from edgebench.results import Store

    with Store(db) as store:
        rec = store.get(rows[0]["run_id"])
    assert rec.environment["host"]["cores"] >= 1 and rec.environment["libraries"]["numpy"]
    assert rec.samples["host"]["affinity"] and rec.samples["runner"] == "edgebench.runner"
    assert rec.memory["model_peak_bytes"] == rec.memory["peak_rss_bytes"] - rec.memory["baseline_rss_bytes"]
    assert rec.load_ms > 0 and rec.first_inference_ms > 0 and rec.artifact.sha256 and rec.artifact.gzip_bytes

    md = eb(db, "compare", "--artifact-format", "tflite", "--format", "markdown").stdout.strip().splitlines()
    assert len(md) == 3 and "| tiny | tflite |" in md[2]
    csv_text = eb(db, "compare", "-o", "csv").stdout
    header = csv_text.splitlines()[0].split(",")
    assert header[:4] == ["model", "format", "variant", "target"] and {"delegate", "status", "p50_ms"} <= set(header)


def test_labelled_dataset_gives_accuracy_and_macro_f1(tiny, tmp_path, db):
    import torch
    from PIL import Image

    from edgebench.models.input_spec import InputSpec

    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    labels, images = [], []
    for cls in ("3", "7"):
        (data / cls).mkdir(parents=True)
        for i in range(3):
            img = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
            Image.fromarray(img).save(data / cls / f"{i}.png")
            labels.append(int(cls))
            images.append(img)
    proc = eb(db, "run", str(tiny["onnx"]), "--dataset", str(data), *FAST)
    assert proc.returncode == 0, proc.stderr

    spec = InputSpec(shape=SHAPE)
    batch = torch.cat([spec.preprocess(img) for img in images])
    with torch.inference_mode():
        pred = eager_model(tiny["onnx"].parent)(batch).argmax(1).numpy()
    pred = np.where(np.isin(pred, [3, 7]), pred, -1)
    acc = float(np.mean(pred == np.array(labels)))
    f1s = []
    for c in (3, 7):
        tp = np.sum((pred == c) & (np.array(labels) == c))
        fp, fn = np.sum((pred == c) & (np.array(labels) != c)), np.sum((pred != c) & (np.array(labels) == c))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)

    from edgebench.results import Store

    with Store(db) as store:
        (r,) = store.results(kind="run")
    assert r.accuracy["n"] == 6
    assert r.accuracy["accuracy"] == pytest.approx(acc)
    assert r.accuracy["macro_f1"] == pytest.approx(np.mean(f1s))
    cm = np.array(r.accuracy["confusion_matrix"])
    assert cm.shape == (2, 3) and cm.sum() == 6 and np.trace(cm) == round(acc * 6)
    assert r.accuracy["matrix_labels"] == ["3", "7", "other"]


def test_unlabelled_dataset_needs_the_eager_model(tiny, tmp_path, db):
    from PIL import Image

    data = tmp_path / "flat"
    data.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(data / "a.png")
    proc = eb(db, "run", str(tiny["onnx"]), "--dataset", str(data), *FAST)
    assert proc.returncode == 2
    (line,) = error_lines(proc)
    assert "no edgebench manifest" in line


def test_unknown_extension(tmp_path, db):
    f = tmp_path / "model.bin"
    f.write_bytes(b"\0" * 10)
    proc = eb(db, "run", str(f))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc)
    assert "unknown model extension '.bin'" in line and ".tflite" in line


def test_missing_path(tmp_path, db):
    proc = eb(db, "run", str(tmp_path / "nope.onnx"))
    assert proc.returncode == 2 and len(error_lines(proc)) == 1 and "does not exist" in proc.stderr


def test_not_a_model_file_is_a_load_failed_row(tmp_path, db):
    f = tmp_path / "junk.tflite"
    f.write_bytes(b"definitely not a flatbuffer" * 10)
    proc = eb(db, "run", str(f), *FAST)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc)
    assert "load:" in line and "junk.tflite" in line
    rows = json.loads(eb(db, "compare", "-o", "json").stdout)
    assert [r["status"] for r in rows] == ["LOAD_FAILED"]


def test_bad_input_shape_flag(tiny, db):
    proc = eb(db, "run", str(tiny["onnx"]), "--input-shape", "1,three,32")
    assert proc.returncode == 2 and len(error_lines(proc)) == 1 and "--input-shape" in proc.stderr


def test_unsupported_format_is_a_row_not_a_crash(tmp_path, db):
    pkg = tmp_path / "m.mlpackage"
    (pkg / "Data").mkdir(parents=True)
    (pkg / "Manifest.json").write_text("{}")
    proc = eb(db, "run", str(pkg), *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "UNSUPPORTED" in proc.stdout
    rows = json.loads(eb(db, "compare", "-o", "json").stdout)
    assert rows[0]["status"] == "UNSUPPORTED" and "macOS" in rows[0]["error"]


def test_compare_without_a_database(tmp_path):
    proc = eb(tmp_path / "none.db", "compare")
    assert proc.returncode == 2 and "no results database" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("source", ["checkpoint", "zoo"])
def test_unlabelled_dataset_gives_top1_agreement_with_eager(tmp_path, tiny_zoo_entry, db, source):
    """An artifact exported from a checkpoint, or from the (reproducible) zoo: flat image folder →
    agreement with the fp32 eager model rebuilt from the manifest."""
    import torch
    from PIL import Image

    from edgebench.exporters import export
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.results import Status, Store
    from edgebench.spec import BenchSpec, ExportSpec, ModelSpec
    from edgebench.targets import resolve

    torch.manual_seed(1)
    ckpt = tmp_path / "tiny.pth"
    torch.save(tiny_zoo_entry.build(10).state_dict(), ckpt)
    model = ModelSpec(name=None, checkpoint=ckpt, arch="tiny_cnn") if source == "checkpoint" else ModelSpec("tiny_cnn")
    (exported,) = export(model, ExportSpec(formats=("onnx",), out_dir=tmp_path / "artifacts"))
    assert exported.status == Status.OK, exported.error
    data = tmp_path / "flat"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)).save(data / f"{i}.png")
    bench = BenchSpec(warmup_runs=1, warmup_seconds=0, runs=5, min_seconds=0, threads=1, dataset=data)
    art = from_path(Path(exported.artifact.path))
    assert art.manifest and art.variant == "fp32"
    with Store(db) as store:
        r = measure_artifact(art, resolve("local"), bench, store=store)
    assert r.status == Status.OK, r.error
    assert r.accuracy["kind"] == "agreement" and r.accuracy["n"] == 4 and r.accuracy["top1_agreement"] == 1.0
    assert r.parity and r.artifact.macs  # the manifest's parity and counts travel into the result
