"""`edgebench export` as a user types it: the table, artifacts, the database, bad flags."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edgebench.cli import main

EDGEBENCH = str(Path(sys.executable).with_name("edgebench"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_export_two_formats(tiny_zoo_entry, tmp_path, db, capsys):
    code, out, err = run(capsys, "--db", str(db), "export", "--model", "tiny_cnn", "--format", "onnx",
                         "--format", "torchscript", "--mobile", "--out", str(tmp_path))
    assert code == 0, err
    for text in ("tiny_cnn", "onnx", "torchscript", "fp32", "OK", "SQNR dB", "top-1 agree"):
        assert text in out
    assert (tmp_path / "tiny_cnn" / "tiny_cnn-fp32.onnx").is_file()
    assert (tmp_path / "tiny_cnn" / "tiny_cnn-fp32.ptl").is_file()
    assert (tmp_path / "tiny_cnn" / "tiny_cnn-fp32.ptl.manifest.json").is_file()
    rows = sqlite3.connect(db).execute("SELECT kind, format, status FROM results").fetchall()
    assert sorted(rows) == [("export", "onnx", "OK"), ("export", "torchscript", "OK")]


def test_export_int8_dynamic_and_unsupported_row(tiny_zoo_entry, tmp_path, db, capsys):
    code, out, err = run(capsys, "--db", str(db), "export", "--model", "tiny_cnn", "--format", "onnx",
                         "--format", "coreml", "--int8", "--calibration-samples", "4", "--out", str(tmp_path))
    assert code == 0, err
    assert "int8" in out and "UNSUPPORTED" in out and "macOS" in out


@pytest.mark.parametrize("argv,message", [
    (["--fp16", "--int8"], "--fp16 and --int8 cannot be combined"),
    (["--dynamic"], "--dynamic needs --int8"),
    (["--structured"], "--structured needs --prune"),
    (["--prune", "1.5"], "prune amount 1.5 is outside"),
    (["--binarize-activations"], "--binarize-activations needs --binarize"),
    (["--all", "--fp16"], "--all already includes"),
    (["--calibration", "x"], "--calibration only applies to static int8"),
    (["--model", "resnet18", "--checkpoint", "x.pt"], "cannot be combined"),
    (["--arch", "resnet18"], "--arch needs --checkpoint"),
    (["--jobs", "0"], "--jobs 0"),
    (["--opset", "3"], "--opset 3"),
    # a format flag for a format not being exported is refused, not silently ignored
    (["--opset", "3", "--format", "torchscript"], "--opset is an onnx option and no onnx format is being exported"),
    (["--int8-method", "minmax", "--format", "tflite"], "unknown TFLite int8 method"),
    (["--format", "nope"], "unknown exporter 'nope'"),
    (["--checkpoint", "/nonexistent/model.pt", "--arch", "resnet18"], "load:"),
])
def test_bad_flags_are_one_line(tmp_path, db, capsys, argv, message):
    args = ["--db", str(db), "export", "--out", str(tmp_path)] + argv
    if "--format" not in argv:
        args += ["--format", "onnx"]
    code, out, err = run(capsys, *args)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error") and message in lines[0], err
    assert "Traceback" not in err


def test_format_flags_come_from_the_plugins_options(capsys):
    from edgebench.exporters import format_option_fields, formats

    code, out, _ = run(capsys, "export", "--help")
    assert code == 0
    import re

    text = re.sub(r"[│\s]+", " ", out)  # rich draws the help in a box, wrapping the lines
    for f in format_option_fields():
        assert f.flag in text
    assert ", ".join(formats()) in text  # --format help lists the registry


def test_format_flags_reach_the_plugin_and_the_manifest(tiny_zoo_entry, tmp_path, db, capsys):
    import json

    code, _, err = run(capsys, "--db", str(db), "export", "--model", "tiny_cnn", "--format", "onnx",
                       "--opset", "20", "--out", str(tmp_path))
    assert code == 0, err
    manifest = json.loads((tmp_path / "tiny_cnn" / "tiny_cnn-fp32.onnx.manifest.json").read_text())
    assert manifest["export_options"]["opset"] == 20 and manifest["converter"]["opset"] == 20


def test_no_format_is_an_error(tmp_path, db, capsys):
    code, _, err = run(capsys, "--db", str(db), "export", "--out", str(tmp_path))
    assert code == 2 and "no --format" in err


@pytest.mark.slow
def test_card_command_as_written(tmp_path):
    """`edgebench export --format tflite --int8`, exactly as the card says (mobilenet_v3_small)."""
    proc = subprocess.run([EDGEBENCH, "--db", str(tmp_path / "r.db"), "export", "--format", "tflite", "--int8"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    art = tmp_path / "artifacts" / "mobilenet_v3_small" / "mobilenet_v3_small-int8.tflite"
    assert art.is_file() and art.with_name(art.name + ".manifest.json").is_file()
    assert "mobilenet_v3_small" in proc.stdout and "tflite" in proc.stdout

