"""Conformance corpus: real files nobody here wrote, each through `edgebench run` as a new user would.

Files ship inside pinned wheels, fetched once into a cache outside the checkout by
``scripts/fetch_conformance_corpus.py`` (.ci/run calls it; no download happens here):

- a fixed sample of the ONNX backend node tests (onnx 1.16.2), fed their own ``test_data_set_0``
  inputs, their outputs checked against the expected ones shipped beside them;
- MediaPipe's .tflite files (mediapipe 0.10.14);
- RapidOCR's .onnx models (rapidocr-onnxruntime 1.4.4);
- benchmark_model transcripts of every era (tests/data/benchmark_model/);
- a few broken files made here (bad inputs).

Every file must end as a measured row whose numbers are right (size = bytes on disk, params = the
graph's weights counted here independently, inference on real or warned-about inputs, expected
outputs matched) or as one clean error line naming the stage: 0 tracebacks, 0 hangs, 0 wrong.
Each family runs through ONE `edgebench run` invocation with short timing flags.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("EDGEBENCH_CORPUS_DIR") or Path.home() / ".cache" / "edgebench" / "conformance")
FAST = ["--runs", "3", "--min-seconds", "0", "--warmup", "1", "--warmup-seconds", "0", "--max-seconds", "5",
        "--timeout", "120"]
CLI_TIMEOUT_S = 900

# A fixed sample of ONNX backend node tests: every input dtype (float 16/32/64, bfloat16, float8,
# int4, int8/16/32/64, uint8/16/32/64, bool, string), sequence and optional inputs, zero-size dims,
# a dynamic (symbolic) dim, multi-input graphs, control flow (Loop, If, Scan), integer inputs whose
# value matters (TopK's k, Gather indices, OneHot depth, Range, Tile repeats), and a graph with no input.
NODE_TESTS = """
test_abs test_relu test_conv_with_strides_padding test_gemm_default_no_bias test_matmul_2d
test_averagepool_2d_default test_maxpool_2d_default test_softmax_example test_batchnorm_example test_lstm_defaults
test_gru_defaults test_einsum_batch_matmul test_layer_normalization_2d_axis0 test_top_k test_gather_0
test_gather_elements_0 test_onehot_with_axis test_range_int32_type_negative_delta test_tile test_expand_dim_changed
test_reshape_reduced_dims test_slice test_loop11 test_scatter_elements_with_axis test_cumsum_1d
test_argmax_default_axis_example test_nonzero_example test_unique_not_sorted_without_axis test_quantizelinear
test_dequantizelinear test_dynamicquantizelinear test_qlinearmatmul_2D_uint8_float32 test_and2d test_not_2d
test_where_example test_xor_bcast3v1d test_cast_DOUBLE_to_FLOAT test_cast_FLOAT16_to_FLOAT
test_strnormalizer_export_monday_casesensintive_lower test_cast_STRING_to_FLOAT test_mod_mixed_sign_int8
test_sequence_insert_at_back test_identity_sequence test_sequence_map_add_1_sequence_1_tensor
test_bitshift_left_uint64 test_bitshift_right_uint16 test_mod_mixed_sign_int16 test_bitshift_left_uint32
test_cast_FLOAT8E4M3FN_to_FLOAT test_cast_INT4_to_FLOAT test_optional_has_element_optional_input
test_optional_get_element_tensor test_cast_BFLOAT16_to_FLOAT test_reduce_sum_empty_set
test_reduce_sum_empty_axes_input_noop_example test_constant test_range_float_type_positive_delta
test_resize_upsample_scales_linear test_constant_pad test_transpose_default test_concat_3d_axis_0
test_split_equal_parts_1d_opset18 test_squeeze test_unsqueeze_axis_0 test_clip_example test_add_bcast
test_mul_uint8 test_div_uint8 test_pow_types_int64_int64 test_equal test_greater_bcast
test_reduce_mean_default_axes_keepdims_example test_argmin_no_keepdims_example test_size_example test_shape
test_identity_opt test_if test_scan9_sum test_bitwise_and_i32_2d test_max_int8 test_min_uint16 test_sum_example
test_mean_example test_cast_FLOAT_to_FLOAT16 test_depthtospace_example test_instancenorm_example test_lrn
test_hardmax_example test_mish test_gelu_default_1
""".split()

TALLY = ("OK", "clean error", "traceback", "hang", "wrong")
_EXCEPTION_TEXT = re.compile(r"^[A-Z]\w*(Error|Exception)\b")


def _family(name: str) -> Path:
    folder = CORPUS / name
    if not (folder / ".complete").is_file():
        pytest.skip(f"conformance corpus {name} not in {CORPUS}: run python3 scripts/fetch_conformance_corpus.py")
    return folder


def _run(paths: list[Path], db: Path, *extra: str) -> tuple[subprocess.CompletedProcess | None, list]:
    """ONE `edgebench run` over ``paths``; (the process or None after a hang, the stored results)."""
    from edgebench.results import Store

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), COLUMNS="200")
    argv = [sys.executable, "-m", "edgebench", "--db", str(db), "run", *map(str, paths), *FAST, *extra, "-o", "json"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        proc = None
    if not db.exists():
        return proc, []
    with Store(db) as store:
        return proc, store.results(kind="run")


def _onnx_params(path: Path) -> int:
    """Elements of every numeric ≥1-d initializer and Constant tensor, subgraphs included."""
    import onnx
    from onnx import numpy_helper

    def walk(graph) -> int:
        n = sum(int(np.prod(t.dims)) for t in graph.initializer
                if len(t.dims) >= 1 and numpy_helper.to_array(t).dtype.kind in "fiu")
        for node in graph.node:
            for attr in node.attribute:
                if node.op_type == "Constant" and attr.name == "value" and len(attr.t.dims) >= 1 \
                        and numpy_helper.to_array(attr.t).dtype.kind in "fiu":
                    n += int(np.prod(attr.t.dims))
                if attr.type == onnx.AttributeProto.GRAPH:
                    n += walk(attr.g)
                for g in attr.graphs:
                    n += walk(g)
        return n

    return walk(onnx.load(str(path)).graph)


def _tflite_params(path: Path) -> int:
    """Elements of every ≥1-d tensor backed by a data buffer (each buffer once), via the object API."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    seen, n = set(), 0
    for graph in model.subgraphs:
        for t in graph.tensors:
            buf = model.buffers[t.buffer]
            has_data = (buf.data is not None and len(buf.data) > 0) or (buf.offset > 1 and buf.size > 0)
            if t.buffer not in seen and has_data and t.shape is not None and len(t.shape) >= 1:
                seen.add(t.buffer)
                n += int(np.prod(t.shape))
    return n


def _classify(path: Path, r, params_of, stderr: str) -> tuple[str, str]:
    """(tally class, why) of one file's result row."""
    if r is None:
        return ("traceback" if "Traceback" in stderr else "wrong"), "no result row"
    if r.status.value == "TIMEOUT":
        return "hang", r.error.message if r.error else ""
    if r.status.value != "OK":
        e = r.error
        if e is None:
            return "wrong", f"{r.status.value} without an error"
        if _EXCEPTION_TEXT.match(e.message) and not e.hint:
            return "traceback", e.message  # the runner's catch-all: an exception nobody classified
        if "\n" in e.message or not e.stage:
            return "wrong", f"error not one line: {e.message!r}"
        if r.status.value == "PARITY_FAILED":
            return "wrong", "; ".join(r.warnings)
        return "clean error", f"{e.stage}: {e.message}"
    raw = r.samples or {}
    problems = []
    if r.artifact.size_bytes != path.stat().st_size:
        problems.append(f"size {r.artifact.size_bytes} ≠ {path.stat().st_size} bytes on disk")
    want = params_of(path)
    if r.artifact.params != want:
        problems.append(f"params {r.artifact.params} ≠ {want}")
    iterations = raw.get("iterations_ms") or []
    if not iterations or min(iterations) <= 0:
        problems.append("no timed iterations")
    guessed = [i["name"] for i in raw.get("synthetic_inputs") or () if i.get("guessed")]
    if not raw.get("feed") and guessed and not any("synthetic inputs" in w for w in r.warnings):
        problems.append(f"made-up integer inputs {guessed} without a warning")
    check = raw.get("expected_outputs")
    if check is not None and not check["match"]:
        problems.append(f"outputs differ from the expected ones: {check['mismatch']}")
    return ("wrong", "; ".join(problems)) if problems else ("OK", "")


def _tally(name: str, files: list[Path], results: list, proc, params_of) -> collections.Counter:
    stderr = proc.stderr if proc is not None else ""
    by_path = {Path(r.artifact.path).resolve(): r for r in results if r.artifact is not None}
    tally = collections.Counter({k: 0 for k in TALLY})
    lines = []
    for f in files:
        kind, why = ("hang", "the run did not finish") if proc is None else _classify(
            f, by_path.get(f.resolve()), params_of, stderr)
        tally[kind] += 1
        lines.append(f"  {kind:>11}  {f.parent.name if f.name == 'model.onnx' else f.name}  {why[:160]}")
    if "Traceback" in stderr:
        tally["traceback"] += 1
        lines.append("  traceback in the CLI's stderr: " + stderr[stderr.index("Traceback"):][:400])
    print(f"\n{name}: {len(files)} files — " + ", ".join(f"{k} {tally[k]}" for k in TALLY))
    print("\n".join(lines))
    return tally


def _assert_clean(tally: collections.Counter) -> None:
    assert tally["traceback"] == 0 and tally["hang"] == 0 and tally["wrong"] == 0, dict(tally)


def test_onnx_node_tests(tmp_path):
    folder = _family("onnx-node")
    files = [folder / t / "model.onnx" for t in NODE_TESTS]
    assert len(files) >= 60 and all(f.is_file() for f in files), [f for f in files if not f.is_file()]
    proc, results = _run(files, tmp_path / "r.db")
    tally = _tally("onnx backend node tests", files, results, proc, _onnx_params)
    _assert_clean(tally)
    by_name = {Path(r.artifact.path).parent.name: r for r in results}
    # their own inputs were fed and their outputs matched the expected ones (not synthetic data)
    checked = [n for n, r in by_name.items() if ((r.samples or {}).get("expected_outputs") or {}).get("match")]
    assert len(checked) >= 60
    assert (by_name["test_top_k"].samples or {}).get("feed")  # k came from the test data, never a silent 0
    # unfeedable inputs are one line naming the input and its type
    assert by_name["test_cast_STRING_to_FLOAT"].error.message == (
        "input 'input' has type string, which edgebench cannot feed")
    assert "not a plain tensor" in by_name["test_identity_sequence"].error.message
    # the CLI prints one line per failure that tells same-named files apart
    assert "model (test_cast_STRING_to_FLOAT) onnx unknown @ local: input: " in proc.stderr
    assert tally["OK"] >= 60


def test_mediapipe_tflite(tmp_path):
    folder = _family("mediapipe")
    files = sorted(folder.glob("*.tflite"))
    assert len(files) >= 10
    proc, results = _run([folder], tmp_path / "r.db")
    tally = _tally("mediapipe .tflite", files, results, proc, _tflite_params)
    _assert_clean(tally)
    assert tally["OK"] >= 10


def test_rapidocr_onnx(tmp_path):
    folder = _family("rapidocr")
    files = sorted(folder.glob("*.onnx"))
    assert len(files) == 3
    # dynamic [?,3,?,?] inputs: without a shape each is one clean `input:` line, with one all are measured
    proc, results = _run([folder], tmp_path / "a.db")
    tally = _tally("rapidocr .onnx, no --input-shape", files, results, proc, _onnx_params)
    _assert_clean(tally)
    assert tally["clean error"] == 3 and all(r.error.stage == "input" for r in results)
    proc, results = _run([folder], tmp_path / "b.db", "--input-shape", "1,3,64,320")
    tally = _tally("rapidocr .onnx at 1,3,64,320", files, results, proc, _onnx_params)
    _assert_clean(tally)
    assert tally["OK"] == 3
    assert all(r.artifact.params > 100_000 for r in results)  # weights in Constant nodes are counted


def test_benchmark_model_transcripts_of_every_era():
    """Each transcript parses to a row that shows a latency: a median, or a mean labelled as such."""
    from edgebench.harness.measure import latency_from_summary
    from edgebench.results.compare import typical_ms
    from edgebench.targets.benchmark_model import parse

    files = sorted((ROOT / "tests" / "data" / "benchmark_model").glob("*.txt"))
    assert len(files) >= 6
    shown = {}
    for f in files:
        raw = parse(f.read_text(), model_path="m.tflite")
        ms, kind = typical_ms(latency_from_summary(raw["summary"]))
        assert ms is not None and ms > 0 and kind in ("p50", "mean"), f.name
        shown[f.name] = (round(ms, 2), kind)
    print("\nbenchmark_model transcripts:", shown)
    assert shown["2018_average_no_stats.txt"] == (65.09, "mean")
    assert shown["2020_average_only_with_op_profile.txt"] == (34.39, "mean")
    assert shown["logcat_prefixed_percentiles.txt"] == (11.96, "p50")


def test_bad_inputs_are_clean_lines(tmp_path):
    """Broken and hostile files: never OK, never a traceback or a hang: one line naming the stage."""
    good = CORPUS / "onnx-node" / "test_abs" / "model.onnx"
    tfl = next(iter(sorted((CORPUS / "mediapipe").glob("*.tflite"))), None)
    if not good.is_file() or tfl is None:
        pytest.skip(f"conformance corpus not in {CORPUS}: run python3 scripts/fetch_conformance_corpus.py")
    bad = tmp_path / "bad"
    bad.mkdir()
    data = good.read_bytes()
    (bad / "empty.onnx").write_bytes(b"")
    (bad / "truncated.onnx").write_bytes(data[: len(data) // 2])
    (bad / "text.onnx").write_text("this is not a model\n")
    (bad / "random.onnx").write_bytes(np.random.default_rng(0).bytes(4096))
    (bad / "tflite_named.onnx").write_bytes(tfl.read_bytes()[:4096])
    (bad / "empty.tflite").write_bytes(b"")
    (bad / "truncated.tflite").write_bytes(tfl.read_bytes()[:1000])
    (bad / "onnx_named.tflite").write_bytes(data)
    (bad / "zeros.tflite").write_bytes(bytes(2048))
    files = sorted(bad.iterdir())
    proc, results = _run(files, tmp_path / "r.db")
    assert proc is not None, "hang"
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    by_path = {Path(r.artifact.path).name: r for r in results}
    kinds = collections.Counter()
    for f in files:
        r = by_path.get(f.name)
        assert r is not None and r.status.value != "OK", (f.name, r and r.status)
        assert r.error and "\n" not in r.error.message and not _EXCEPTION_TEXT.match(r.error.message), r.error
        kinds[r.error.stage] += 1
    print(f"\nbad inputs: {len(files)} files, clean error {len(files)} (stages {dict(kinds)}), traceback 0, hang 0")
