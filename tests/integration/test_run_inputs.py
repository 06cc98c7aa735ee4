"""Issue 11 item 1: what the timed loop feeds. Synthetic inputs valid for their dtype (never zeros),
real inputs with `run --inputs` (.npz or ONNX test-data .pb), and a warning when edgebench had to
make up integer values. Item 5: same-named files stay apart in `compare`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebench.results import Store

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--threads", "1", "--warmup", "1", "--warmup-seconds", "0", "--runs", "5", "--min-seconds", "0"]


def eb(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "edgebench", "--db", str(db), *args], capture_output=True,
                          text=True, timeout=300, env=env)


def runs(db: Path) -> list:
    with Store(db) as store:
        return store.results(kind="run")


def topk_model(path: Path, n: int = 1000) -> Path:
    """x float32 [1, n], k int64 [1] → TopK values [1, k], indices [1, k]."""
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=1)], "topk",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n]),
         helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("values", TensorProto.FLOAT, [1, None]),
         helper.make_tensor_value_info("indices", TensorProto.INT64, [1, None])])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def unary_model(path: Path, op: str) -> Path:
    from onnx import TensorProto, helper, save

    path.parent.mkdir(parents=True, exist_ok=True)
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], op,
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_integer_input_is_never_fed_zero_and_the_row_says_it_was_made_up(tmp_path):
    model = topk_model(tmp_path / "topk.onnx")
    proc = eb(tmp_path / "r.db", "run", str(model), *FAST)
    assert proc.returncode == 0, proc.stderr
    (r,) = runs(tmp_path / "r.db")
    raw = r.samples
    k = raw["output_shapes"][0][1]  # TopK returns k values: the k that was fed
    assert 1 <= k < 1000
    made_up = {i["name"]: i for i in raw["synthetic_inputs"]}
    assert made_up["k"]["guessed"] is True and made_up["x"]["guessed"] is False
    warning = next(w for w in r.warnings if w.startswith("synthetic inputs"))
    assert "k (int64: uniform 1..999)" in warning and "--inputs FILE.npz" in warning
    assert "synthetic inputs k (int64" in " ".join(proc.stderr.split())


def test_run_inputs_npz_feeds_the_timed_loop(tmp_path):
    model = topk_model(tmp_path / "topk.onnx")
    np.savez(tmp_path / "in.npz", x=np.arange(1000, dtype=np.float32)[None], k=np.array([5]))
    proc = eb(tmp_path / "r.db", "run", str(model), "--inputs", str(tmp_path / "in.npz"), *FAST)
    assert proc.returncode == 0, proc.stderr
    (r,) = runs(tmp_path / "r.db")
    assert r.samples["output_shapes"] == [[1, 5], [1, 5]]
    assert r.samples["synthetic_inputs"] == [] and r.samples["feed"]
    assert not any("synthetic inputs" in w for w in r.warnings)


def _pb(path: Path, array: np.ndarray, name: str) -> None:
    from onnx import numpy_helper

    path.write_bytes(numpy_helper.from_array(array, name).SerializeToString())


def test_onnx_test_data_pb_inputs_and_their_expected_outputs(tmp_path):
    (tmp_path / "m").mkdir()
    model = topk_model(tmp_path / "m" / "topk.onnx")
    x = np.array([[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0] + [0.0] * 992], dtype=np.float32)
    data = tmp_path / "data"
    data.mkdir()
    _pb(data / "input_0.pb", x, "x")
    _pb(data / "input_1.pb", np.array([3]), "k")
    _pb(data / "output_0.pb", np.array([[9.0, 6.0, 5.0]], dtype=np.float32), "values")
    _pb(data / "output_1.pb", np.array([[5, 7, 4]]), "indices")
    proc = eb(tmp_path / "r.db", "run", str(model), "--inputs", str(data), *FAST)
    assert proc.returncode == 0, proc.stderr
    (r,) = runs(tmp_path / "r.db")
    assert r.status.value == "OK"
    assert r.samples["expected_outputs"]["match"] is True and r.samples["expected_outputs"]["checked"] == 2
    # shipped beside the model as test_data_set_0/, the same data is found without --inputs
    (tmp_path / "m" / "test_data_set_0").mkdir()
    for f in data.iterdir():
        (tmp_path / "m" / "test_data_set_0" / f.name).write_bytes(f.read_bytes())
    # …and a wrong expected output makes the row PARITY_FAILED with a warning, never a silent OK
    _pb(tmp_path / "m" / "test_data_set_0" / "output_0.pb", np.array([[9.0, 6.0, 4.0]], dtype=np.float32), "values")
    proc = eb(tmp_path / "r2.db", "run", str(model), *FAST)
    (r,) = runs(tmp_path / "r2.db")
    assert r.samples["feed"] and r.status.value == "PARITY_FAILED"
    assert any("outputs differ from the expected outputs" in w and "output 0 differs" in w for w in r.warnings)


def test_bad_inputs_file_is_one_line(tmp_path):
    model = topk_model(tmp_path / "topk.onnx")
    np.savez(tmp_path / "one.npz", x=np.zeros((1, 1000), np.float32))
    (tmp_path / "junk.pb").write_bytes(b"\x00\x01garbage")
    for given, expect in ((tmp_path / "one.npz", "holds 1 arrays but the model has 2 inputs (x, k)"),
                          (tmp_path / "missing.npz", "does not exist"),
                          (tmp_path / "junk.pb", "is not a plain tensor")):
        proc = eb(tmp_path / "r.db", "run", str(model), "--inputs", str(given), *FAST)
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert len(lines) == 1 and " input: " in lines[0] and expect in " ".join(proc.stderr.split()), proc.stderr


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    script = Path(__file__).resolve().parents[3] / "shared" / "cases" / "make_onnx_cases.py"  # ../shared
    if not script.is_file():
        pytest.skip(f"{script} is not on this machine")
    where = tmp_path_factory.mktemp("onnx_cases")
    subprocess.run([sys.executable, str(script), str(where)], cwd=where, check=True, capture_output=True, timeout=300)
    return where


def test_shared_cases_topk_string_and_missing_external_data(cases, tmp_path):
    proc = eb(tmp_path / "r.db", "run", str(cases / "topk.onnx"), str(cases / "string_in.onnx"),
              str(cases / "ext" / "m.onnx"), *FAST)
    assert "Traceback" not in proc.stderr
    text = " ".join(proc.stderr.split())
    assert "error string_in onnx unknown @ local: input: input 's' has type string, which edgebench cannot feed" in text
    assert "error m onnx unknown @ local: load: " in text and "external-data file that is missing" in text
    topk = next(r for r in runs(tmp_path / "r.db") if r.model == "topk")
    assert topk.status.value == "OK" and any(w.startswith("synthetic inputs k") for w in topk.warnings)


def test_two_files_named_model_onnx_are_two_rows(cases, tmp_path):
    db = tmp_path / "r.db"
    files = [str(cases / "relu" / "model.onnx"), str(cases / "sigmoid" / "model.onnx")]
    assert eb(db, "run", *files, *FAST).returncode == 0
    assert eb(db, "run", str(cases / "relu" / "model.onnx"), *FAST).returncode == 0
    out = eb(db, "compare", "-o", "markdown").stdout
    rows = [ln for ln in out.splitlines() if ln.startswith("| model (")]
    assert [r.split("|")[1].strip() for r in rows] == ["model (relu)", "model (sigmoid)"]
    assert "1 older run of these artifacts hidden" in out


def test_int8_row_far_below_fp32_is_flagged(tmp_path):
    """Item 7: an edgebench int8 artifact whose export parity says 20 % top-1 agreement."""
    import json

    from edgebench.exporters.manifest import file_facts

    model = unary_model(tmp_path / "m" / "tiny-int8.onnx", "Relu")

    facts = file_facts(model)
    manifest = {"schema_version": 1, "status": "OK", "model": "tiny", "format": "onnx", "variant": "int8",
                **facts, "inputs": [{"name": "x", "shape": [1, 16], "dtype": "float32"}],
                "parity": {"vs_eager": {"sqnr_db": 3.0, "top1_agreement": 0.2, "n": 10}}}
    model.with_name(model.name + ".manifest.json").write_text(json.dumps(manifest))
    proc = eb(tmp_path / "r.db", "run", str(model), *FAST)
    assert proc.returncode == 0, proc.stderr
    (r,) = runs(tmp_path / "r.db")
    assert r.variant == "int8"
    assert any("int8 top-1 agreement with fp32 is 20% in the export's parity check, n=10 (< 50%)" in w
               for w in r.warnings)
    out = eb(tmp_path / "r.db", "compare", "-o", "markdown").stdout
    assert "top-1 20% ⚠ low" in out and "⚠ tiny onnx int8: int8 top-1 agreement with fp32 is 20%" in out


def test_two_checkpoints_named_best_export_side_by_side(tmp_path):
    """Item 5: `best.pt2` from two folders exported into one --out: two folders, then two rows."""
    import torch
    import torch.nn as nn

    for folder, seed in (("a", 0), ("b", 1)):
        torch.manual_seed(seed)
        m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)).eval()
        (tmp_path / folder).mkdir()
        torch.export.save(torch.export.export(m, (torch.randn(1, 3, 16, 16),)), tmp_path / folder / "best.pt2")
    db, out = tmp_path / "r.db", tmp_path / "out"
    for folder in ("a", "b", "a"):
        proc = eb(db, "export", "--checkpoint", str(tmp_path / folder / "best.pt2"), "--format", "onnx",
                  "--out", str(out))
        assert proc.returncode == 0, proc.stderr
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.onnx"))
    assert len(made) == 2 and "best/best-fp32.onnx" in made
    assert any(m.startswith("best-") and m.endswith("-fp32.onnx") and m != "best/best-fp32.onnx" for m in made)
    assert eb(db, "run", str(out), *FAST).returncode == 0
    names = sorted(r.model for r in runs(db))
    assert names[0] == "best" and names[1].startswith("best-") and len(set(names)) == 2
