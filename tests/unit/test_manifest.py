"""Manifest files: identity facts, atomic write, reading, schema."""

from __future__ import annotations

import gzip
import hashlib
import json

import jsonschema
import pytest

from edgebench.errors import ExportError
from edgebench.exporters.manifest import file_facts, manifest_path, read_manifest, validate, write_manifest


def test_file_facts_of_a_file(tmp_path):
    f = tmp_path / "m.onnx"
    data = b"abc" * 1000
    f.write_bytes(data)
    facts = file_facts(f)
    assert facts["size_bytes"] == 3000
    assert facts["sha256"] == hashlib.sha256(data).hexdigest()
    assert facts["gzip_bytes"] == len(gzip.compress(data, mtime=0))


def test_file_facts_of_a_package_directory(tmp_path):
    pkg = tmp_path / "m.mlpackage"
    (pkg / "Data").mkdir(parents=True)
    (pkg / "Data" / "weight.bin").write_bytes(b"w" * 10)
    (pkg / "Manifest.json").write_bytes(b"{}")
    facts = file_facts(pkg)
    expected = hashlib.sha256(b"Data/weight.bin\0" + b"w" * 10 + b"Manifest.json\0" + b"{}").hexdigest()
    assert facts["size_bytes"] == 12 and facts["sha256"] == expected


def test_write_then_read(tmp_path):
    art = tmp_path / "m-fp32.onnx"
    art.write_bytes(b"x")
    path = write_manifest(art, {"schema_version": 1, "file": art.name})
    assert path == manifest_path(art) == tmp_path / "m-fp32.onnx.manifest.json"
    assert read_manifest(art) == {"schema_version": 1, "file": art.name}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_read_missing_and_garbage(tmp_path):
    art = tmp_path / "third-party.tflite"
    assert read_manifest(art) is None
    manifest_path(art).write_text("{not json")
    with pytest.raises(ExportError, match="not valid JSON"):
        read_manifest(art)
    manifest_path(art).write_text(json.dumps({"hello": 1}))
    with pytest.raises(ExportError, match="not an edgebench manifest"):
        read_manifest(art)


def test_write_refuses_nan(tmp_path):
    with pytest.raises(ValueError):
        write_manifest(tmp_path / "a.onnx", {"x": float("nan")})


def test_schema_rejects_incomplete_manifest():
    with pytest.raises(jsonschema.ValidationError):
        validate({"schema_version": 1, "status": "OK"})


def test_transform_summary_says_what_the_transform_did():
    from edgebench.exporters.manifest import transform_summary

    assert transform_summary({"transform": {"kind": "none"}}) is None
    line = transform_summary({
        "size_bytes": 4 * 2**20,
        "transform": {"kind": "binarize", "macs_before": 300e6, "macs_after": 300e6, "params_before": 3.5e6,
                      "nonzero_params_after": 3.5e6, "packed_1bit_bytes": 2**20,
                      "kept_full_precision": [{"layer": "features.0.0", "reason": "first layer"}]},
        "parity": {"vs_untransformed": {"sqnr_db": 3.25, "top1_agreement": 0.5, "n": 8}},
    })
    assert "MACs 300.00 M → 300.00 M" in line and "packed 1-bit 1.00 MB vs file 4.00 MB" in line
    assert "kept in full precision: features.0.0" in line
    assert "vs the untransformed model: SQNR 3.2 dB, top-1 50% (n=8)" in line
