"""The compare table: latest run per cell, speed-up vs the fp32 baseline, filters, every output."""

from __future__ import annotations

import csv
import io
import json

import pytest

from edgebench.errors import ConfigError
from edgebench.results.compare import MB, compare_rows, quality_text
from edgebench.results.model import ArtifactInfo, ErrorInfo, LatencyStats, RunResult, Status
from edgebench.results.render import render


def _lat(p50: float) -> LatencyStats:
    return LatencyStats(n=50, mean_ms=p50, std_ms=0.1, min_ms=p50 - 1, p50_ms=p50, p90_ms=p50 + 1,
                        p99_ms=p50 + 2, max_ms=p50 + 3, iqr_ms=0.2, cv=0.01, median_ci_low_ms=p50 - 0.5,
                        median_ci_high_ms=p50 + 0.5, outliers=0)


def _run(variant: str, p50: float | None, *, fmt: str = "onnx", created: str = "2026-01-01T00:00:00+00:00",
         target: str = "local", status: Status = Status.OK, **kw) -> RunResult:
    art = ArtifactInfo(path=f"a/m-{variant}.{fmt}", format=fmt, variant=variant, size_bytes=3 * 1024 * 1024,
                       gzip_bytes=2 * 1024 * 1024, params=2_540_000, nonzero_params=2_540_000, macs=58_900_000)
    return RunResult(model="m", format=fmt, variant=variant, target=target, status=status, created_at=created,
                     artifact=art, latency=_lat(p50) if p50 else None,
                     memory={"peak_rss_bytes": 100 * 1024 * 1024}, **kw)


def test_speedup_against_fp32_of_the_same_format_and_target():
    rows = compare_rows([_run("fp32", 10.0), _run("int8", 4.0), _run("fp32", 20.0, fmt="tflite"),
                         _run("int8", 5.0, fmt="tflite"), _run("int8", 8.0, target="ssh:pi@h")])
    by = {(r["format"], r["variant"], r["target"]): r for r in rows}
    assert by[("onnx", "fp32", "local")]["speedup"] == 1.0
    assert by[("onnx", "int8", "local")]["speedup"] == 2.5
    assert by[("tflite", "int8", "local")]["speedup"] == 4.0
    assert by[("onnx", "int8", "ssh:pi@h")]["speedup"] is None  # no fp32 measured on that target
    r = by[("onnx", "int8", "local")]
    assert (r["size_mb"], r["gzip_mb"], r["peak_mb"], r["params"], r["macs"]) == (3.0, 2.0, 100.0, 2_540_000, 58_900_000)
    assert (r["p50_ms"], r["ci_low_ms"], r["ci_high_ms"], r["p90_ms"]) == (4.0, 3.5, 4.5, 5.0)


def test_latest_run_per_cell_unless_all():
    old = _run("fp32", 10.0, created="2026-01-01T00:00:00+00:00")
    new = _run("fp32", 12.0, created="2026-01-02T00:00:00+00:00")
    assert [r["p50_ms"] for r in compare_rows([old, new])] == [12.0]
    assert sorted(r["p50_ms"] for r in compare_rows([old, new], latest=False)) == [10.0, 12.0]


def test_filters_and_export_records_left_out():
    export = RunResult(model="m", format="onnx", variant="fp32", target="", status=Status.OK, kind="export")
    results = [_run("fp32", 10.0), _run("int8", 4.0), _run("fp32", 9.0, fmt="tflite"), export]
    assert {r["variant"] for r in compare_rows(results, variant="int8")} == {"int8"}
    assert {r["format"] for r in compare_rows(results, fmt="tflite")} == {"tflite"}
    assert compare_rows(results, model="other") == []
    assert len(compare_rows(results)) == 3


def test_failed_and_unsupported_rows_are_shown():
    rows = compare_rows([_run("fp32", None, fmt="coreml", status=Status.UNSUPPORTED,
                              error=ErrorInfo("unsupported", "CoreML needs macOS"))])
    assert rows[0]["status"] == "UNSUPPORTED" and rows[0]["error"] == "CoreML needs macOS"
    assert rows[0]["p50_ms"] is None and rows[0]["speedup"] is None


def test_quality_cell():
    acc = {"kind": "labelled", "accuracy": 0.75, "macro_f1": 0.7, "n": 8}
    parity = {"vs_eager": {"sqnr_db": 71.6, "top1_agreement": 1.0, "n": 8}}
    rows = compare_rows([_run("fp32", 10.0, accuracy=acc), _run("int8", 5.0, parity=parity)])
    by = {r["variant"]: r for r in rows}
    assert by["fp32"]["quality"] == "acc 75.0% F1 0.70 (n=8)"
    assert by["int8"]["quality"] == "SQNR 72 dB, top-1 100%"
    assert by["int8"]["quality_sqnr_db"] == 71.6
    assert quality_text({"top1_agreement": 0.5, "reference": "fp32 eager", "n": 4}) == "top-1 agr 50%"
    assert quality_text({}) == "—"


@pytest.fixture
def rows():
    return compare_rows([_run("fp32", 10.0), _run("int8", 4.0),
                         _run("fp32", None, fmt="coreml", status=Status.UNSUPPORTED,
                              error=ErrorInfo("unsupported", "CoreML | needs macOS"))])


def test_markdown(rows):
    text = render(rows, "markdown")
    lines = text.strip().splitlines()
    assert lines[0].startswith("| model | format | variant | target | size MB | params | MACs | parity / accuracy |")
    assert len(lines) == 2 + 3
    assert "| m | onnx | int8 | local | 3.00 | 2.54 M | 58.90 M | — | 4.00 [3.50, 4.50] | 5.00 | 100.0 | 2.50× | OK |" in lines
    assert "CoreML \\| needs macOS" in text  # a pipe inside a cell is escaped


def test_csv_keeps_raw_numbers(rows):
    parsed = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert len(parsed) == 3
    int8 = next(r for r in parsed if r["variant"] == "int8")
    assert float(int8["p50_ms"]) == 4.0 and float(int8["speedup"]) == 2.5 and int(int8["params"]) == 2_540_000


def test_json_round_trips(rows):
    assert json.loads(render(rows, "json")) == json.loads(json.dumps(rows))


def test_table_has_every_column(rows):
    text = render(rows, "table")
    for header in ("model", "size MB", "params", "MACs", "parity / accuracy", "p50 ms [95% CI]", "p90 ms",
                   "peak MB", "speed-up"):
        assert header in text
    assert "2.50×" in text and "UNSUPPORTED" in text


def test_unknown_output_format(rows):
    with pytest.raises(ConfigError):
        render(rows, "xml")


@pytest.mark.parametrize("command", [["compare"], ["report", "--out", "r.html"], ["recommend"]])
def test_reading_commands_on_a_store_with_no_runs_say_so(tmp_path, capsys, monkeypatch, command):
    """A zero-byte file (what SQLite leaves behind) or an export-only store prints one line, not an
    empty table."""
    from edgebench.cli import main
    from edgebench.results import Store

    monkeypatch.chdir(tmp_path)
    (tmp_path / "zero.db").write_bytes(b"")
    with Store(tmp_path / "exports.db") as store:
        store.add(RunResult(model="m", format="onnx", variant="fp32", target="", status=Status.OK, kind="export"))
    for db in ("zero.db", "exports.db"):
        with pytest.raises(SystemExit) as ex:
            main(["--db", db, *command])
        err = capsys.readouterr().err.strip()
        assert ex.value.code == 2 and len(err.splitlines()) == 1, err
        assert f"results database {db} holds no measured runs yet" in err and "edgebench run" in err
    assert (tmp_path / "zero.db").stat().st_size == 0  # a reading command wrote nothing into it


def test_compare_filters_matching_nothing_name_the_filter(tmp_path, capsys):
    from edgebench.cli import main
    from edgebench.results import Store

    db = tmp_path / "r.db"
    with Store(db) as store:
        store.add(_run("fp32", 10.0))
    with pytest.raises(SystemExit) as ex:
        main(["--db", str(db), "compare", "--model", "other", "--variant", "int8"])
    err = capsys.readouterr().err.strip()
    assert ex.value.code == 2 and "no stored run matches --model other --variant int8" in err
    with pytest.raises(SystemExit) as ex:
        main(["--db", str(db), "compare"])
    assert ex.value.code in (0, None) and "fp32" in capsys.readouterr().out


def test_a_peak_that_is_mostly_the_runtime_library_says_so():
    """ExecuTorch's Python runtime imports torch: ~0.9 GB before a 4 MB model loads."""
    from dataclasses import replace

    heavy = replace(_run("fp32", 1.2, fmt="executorch", samples={"runtime": "executorch"}),
                    memory={"peak_rss_bytes": 960 * MB, "baseline_rss_bytes": 900 * MB})
    light = replace(_run("fp32", 1.0, fmt="tflite"), memory={"peak_rss_bytes": 120 * MB, "baseline_rss_bytes": 80 * MB})
    by = {r["format"]: r for r in compare_rows([heavy, light])}
    assert by["executorch"]["model_peak_mb"] == 60 and by["tflite"]["model_peak_mb"] == 40
    (note,) = [n for n in by["executorch"]["notes"] if "peak RSS" in n]
    assert "executorch's Python library (900 MB" in note and "the model adds 60 MB" in note
    assert not any("peak RSS" in n for n in by["tflite"]["notes"])


@pytest.mark.parametrize("arch,flags,named", [
    ("x86_64", ["avx2", "avx512f", "fma"], "VNNI (avx512_vnni / avx_vnni) or AMX"),
    ("x86_64", ["avx2", "avx512f", "avx512_vnni"], None),
    ("aarch64", ["asimd", "fphp"], "asimddp"),
    ("aarch64", ["asimd", "asimddp"], None),
    ("x86_64", None, None),  # flags not recorded (an older run, a benchmark_model transcript)
])
@pytest.mark.parametrize("where", ["runner", "device_shell"])
def test_slower_int8_on_a_cpu_without_int8_dot_products_names_the_cause(arch, flags, named, where):
    host = {"arch": arch, "cpu_model": "Some CPU", "isa_flags": flags}
    # the runner's host record, or (benchmark_model on a phone) what the target read over its shell
    samples = {"host": host} if where == "runner" else {"host": None, "device_state": {"before": host}}
    rows = compare_rows([_run("fp32", 4.0), _run("int8", 5.0, samples=samples)])
    (note,) = next(r for r in rows if r["variant"] == "int8")["notes"]
    assert "slower than its fp32 sibling" in note
    if named:
        assert "this CPU (Some CPU) has no int8 dot-product instructions" in note and named in note
    else:
        assert "dot-product" not in note
