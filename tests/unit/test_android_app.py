"""android_app: everything that can be checked without an Android SDK.

The app cannot be built here (no android.jar, no Google Maven). These tests check that its
manifest is well-formed, that the Kotlin code and the harness agree on the intent contract
(edgebench/targets/android_app_contract.json) and on the RawSamples schema, that the Kotlin parses,
and that the model-bundling scripts work. Where `kotlinc` and JUnit 4 are installed (Debian:
`apt-get install kotlin junit4`), the app's pure-Kotlin core is compiled, its JVM unit tests run,
and its real JSON writer's output is validated against the schema.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from edgebench.harness.protocol import SCHEMA_PATH

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "android_app"
SRC = APP / "app" / "src" / "main" / "java" / "dev" / "edgebench" / "app"
TEST_SRC = APP / "app" / "src" / "test" / "java" / "dev" / "edgebench" / "app"
MANIFEST = APP / "app" / "src" / "main" / "AndroidManifest.xml"
CONTRACT_PATH = ROOT / "edgebench" / "targets" / "android_app_contract.json"
SCRIPTS = APP / "scripts"
SAMPLES = sorted((APP / "sample").glob("*.json"))
ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
AM_FLAGS = {"string": "--es", "int": "--ei", "float": "--ef"}
# The Kotlin files that use no Android API: compiled and unit-tested on a plain JVM when possible.
PURE_KOTLIN = ["Contract.kt", "Json.kt", "ModelPaths.kt", "BenchmarkConfig.kt", "BenchmarkLoop.kt", "RawSamples.kt"]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), SCRIPTS / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def contract() -> dict:
    return json.loads(CONTRACT_PATH.read_text())


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def _kotlin_consts(text: str) -> dict[str, str]:
    """NAME -> raw literal text of every `const val NAME[: T] = literal` / `val NAME: List<..> = listOf(..)`."""
    consts = {m[1]: m[2].strip() for m in re.finditer(r"const val (\w+)(?:: \w+)? = (.+)", text)}
    consts.update({m[1]: m[2] for m in re.finditer(r"val (\w+): List<\w+> = listOf\((.*)\)", text)})
    return consts


def _kotlin_string(literal: str) -> str:
    assert literal.startswith('"') and literal.endswith('"'), literal
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _kotlin_strings(list_literal: str) -> list[str]:
    return [_kotlin_string(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', list_literal)]


def _function_body(text: str, owner: str, function: str) -> str:
    """Source of ``function`` inside ``class owner`` (up to the next `fun` or the class end)."""
    start = text.index(f"class {owner}")
    fn = text.index(f"fun {function}(", start)
    end = min(i for i in (text.find("\n    fun ", fn + 1), text.find("\n    companion", fn + 1),
                          text.find("\n}", fn + 1)) if i != -1)
    return text[fn:end]


def _map_keys(body: str, *, line_start: bool = False) -> list[str]:
    """Keys of `"key" to value` pairs; with line_start only those opening a line (not nested maps)."""
    return re.findall(r'^\s*"(\w+)" to ' if line_start else r'"(\w+)" to ', body, re.M)


# --- the contract file itself ---------------------------------------------------------------

def test_contract_is_self_consistent(contract):
    pkg = contract["package"]
    assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+", pkg)
    for key in ("benchmark_activity", "demo_activity"):
        assert contract[key].startswith(pkg + ".")
    assert contract["component"] == f"{pkg}/.{contract['benchmark_activity'].rsplit('.', 1)[1]}"
    assert contract["runner"] in json.loads(SCHEMA_PATH.read_text())["properties"]["runner"]["enum"]
    assert all(d.startswith("/") and d.endswith("/") for d in contract["allowed_model_dirs"])
    assert contract["model_push_dir"] in contract["allowed_model_dirs"]
    for name, extra in contract["extras"].items():
        assert re.fullmatch(r"[a-z_]+", name)
        assert extra["am_flag"] == AM_FLAGS[extra["type"]], name
        default = extra["default"]
        if extra["required"]:
            assert default is None, name
            continue
        py_type = {"string": str, "int": int, "float": float}[extra["type"]]
        assert isinstance(default, py_type), name
        if "min" in extra:
            assert default >= extra["min"], name
        if "choices" in extra:
            assert default in extra["choices"], name
        if "pattern" in extra:
            assert re.fullmatch(extra["pattern"], default), name
    assert {"model", "warmup", "runs", "threads", "delegate", "out"} <= set(contract["extras"])
    assert contract["extras"]["delegate"]["choices"] == ["cpu", "gpu"]
    out_re = re.compile(contract["extras"]["out"]["pattern"])
    for bad in ("../x.json", "a/b.json", "x.txt", ".json", "/abs.json"):
        assert not out_re.fullmatch(bad), bad


# --- Kotlin <-> contract --------------------------------------------------------------------

def test_contract_kt_is_generated_from_the_json():
    gen = _load_script("gen_contract.py")
    assert gen.main(["--check"]) == 0, "run: python3 android_app/scripts/gen_contract.py"


def test_contract_kt_constants_match_the_json(contract):
    consts = _kotlin_consts((SRC / "Contract.kt").read_text())
    assert int(consts["SCHEMA_VERSION"]) == contract["schema_version"]
    for const, key in [("PACKAGE", "package"), ("BENCHMARK_ACTIVITY", "benchmark_activity"),
                       ("DEMO_ACTIVITY", "demo_activity"), ("COMPONENT", "component"),
                       ("RUNNER", "runner"), ("RUNTIME", "runtime"),
                       ("APP_FILES_MODEL_DIR", "app_files_model_dir")]:
        assert _kotlin_string(consts[const]) == contract[key], const
    assert _kotlin_string(consts["RESULTS_LOCATION"]) == contract["results"]["location"]
    assert _kotlin_strings(consts["ALLOWED_MODEL_DIRS"]) == contract["allowed_model_dirs"]
    stages = {k.removeprefix("STAGE_").lower(): _kotlin_string(v) for k, v in consts.items() if k.startswith("STAGE_")}
    assert stages == {s: s for s in contract["results"]["error_stages"]}

    extras_in_kt = {_kotlin_string(v) for k, v in consts.items() if re.fullmatch(r"EXTRA_[A-Z_]+", k)
                    and not k.endswith(("_TYPE", "_REQUIRED"))}
    assert extras_in_kt == set(contract["extras"])
    for name, extra in contract["extras"].items():
        c = name.upper()
        assert _kotlin_string(consts[f"EXTRA_{c}_TYPE"]) == extra["type"]
        assert consts[f"EXTRA_{c}_REQUIRED"] == ("true" if extra["required"] else "false")
        if extra["default"] is None:
            assert f"DEFAULT_{c}" not in consts
        elif extra["type"] == "string":
            assert _kotlin_string(consts[f"DEFAULT_{c}"]) == extra["default"]
        else:
            assert float(consts[f"DEFAULT_{c}"].rstrip("f")) == extra["default"]
        if "choices" in extra:
            assert _kotlin_strings(consts[f"CHOICES_{c}"]) == extra["choices"]
        if "pattern" in extra:
            assert _kotlin_string(consts[f"PATTERN_{c}"]) == extra["pattern"]


def test_kotlin_reads_every_extra_with_its_contract_type(contract):
    text = (SRC / "BenchmarkConfig.kt").read_text()
    reads = {m[2].lower(): m[1] for m in re.finditer(r"(string|int|float)Extra\(\s*lookup,\s*Contract\.EXTRA_(\w+)", text)}
    assert reads == {name: extra["type"] for name, extra in contract["extras"].items()}


def test_kotlin_uses_only_contract_stages(contract):
    used = set()
    for kt in SRC.glob("*.kt"):
        used |= {m.lower() for m in re.findall(r"Contract\.STAGE_(\w+)", kt.read_text())}
    assert used and used <= set(contract["results"]["error_stages"])


# --- manifest and Gradle --------------------------------------------------------------------

def test_manifest_declares_both_activities(contract):
    root = ET.parse(MANIFEST).getroot()
    assert root.tag == "manifest"
    assert root.get("package") in (None, contract["package"])
    activities = {a.get(ANDROID_NS + "name"): a for a in root.iter("activity")}
    assert set(activities) == {contract["benchmark_activity"], contract["demo_activity"]}

    bench = activities[contract["benchmark_activity"]]
    assert bench.get(ANDROID_NS + "exported") == "true"
    demo = activities[contract["demo_activity"]]
    actions = {e.get(ANDROID_NS + "name") for e in demo.iter("action")}
    categories = {e.get(ANDROID_NS + "name") for e in demo.iter("category")}
    assert "android.intent.action.MAIN" in actions and "android.intent.category.LAUNCHER" in categories
    # no permissions: the Photo Picker needs none and the benchmark reads adb-pushed files
    assert not list(root.iter("uses-permission"))

    for name in (contract["benchmark_activity"], contract["demo_activity"]):
        cls = name.rsplit(".", 1)[1]
        assert re.search(rf"^class {cls}\b", (SRC / f"{cls}.kt").read_text(), re.M), cls


def test_gradle_application_id_and_sdk_levels(contract):
    gradle = (APP / "app" / "build.gradle.kts").read_text()
    assert re.search(rf'namespace = "{re.escape(contract["package"])}"', gradle)
    assert re.search(rf'applicationId = "{re.escape(contract["package"])}"', gradle)
    assert re.search(r"minSdk = 24\b", gradle)
    target = int(re.search(r"targetSdk = (\d+)", gradle)[1])
    assert target >= 35 and int(re.search(r"compileSdk = (\d+)", gradle)[1]) >= target
    versions = (APP / "gradle" / "libs.versions.toml").read_text()
    for pinned in ("agp", "kotlin", "litert"):
        assert re.search(rf'^{pinned} = "\d+\.\d+\.\d+"$', versions, re.M), pinned
    assert 'group = "com.google.ai.edge.litert", name = "litert"' in versions
    assert 'name = "litert-gpu"' in versions
    wrapper = (APP / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    assert re.search(r"distributionUrl=.*gradle-\d+\.\d+(\.\d+)?-bin\.zip", wrapper)


def test_kotlin_files_sit_in_their_package_dir():
    for kt in list(SRC.glob("*.kt")) + list(TEST_SRC.glob("*.kt")):
        assert re.search(r"^package dev\.edgebench\.app$", kt.read_text(), re.M), kt.name


def test_kotlin_and_gradle_scripts_parse():
    ts = pytest.importorskip("tree_sitter", reason="pip install 'edgebench[dev]' (tree-sitter)")
    tsk = pytest.importorskip("tree_sitter_kotlin", reason="pip install 'edgebench[dev]' (tree-sitter-kotlin)")
    parser = ts.Parser(ts.Language(tsk.language()))
    files = list(SRC.glob("*.kt")) + list(TEST_SRC.glob("*.kt")) + list(APP.rglob("*.gradle.kts"))
    assert len(files) >= 15
    broken = [f.relative_to(APP) for f in files if parser.parse(f.read_bytes()).root_node.has_error]
    assert not broken, f"Kotlin syntax errors in {broken}"
    # the parser does flag broken Kotlin (so a pass above means something)
    assert parser.parse(b"fun f( { val = }").root_node.has_error


# --- results: sample files, writer keys, schema ---------------------------------------------

def test_sample_results_validate_against_the_schema(contract, schema):
    jsonschema = pytest.importorskip("jsonschema")
    assert {p.name for p in SAMPLES} == {"benchmark_result.json", "benchmark_error.json"}
    for path in SAMPLES:
        doc = json.loads(path.read_text())
        jsonschema.validate(doc, schema)
        assert doc["runner"] == contract["runner"] and doc["runtime"] == contract["runtime"]
        if doc["status"] == "ok":
            assert doc["iterations_ms"] and doc["first_inference_ms"] is not None
        else:
            assert doc["error"]["stage"] in contract["results"]["error_stages"]
            assert doc["iterations_ms"] == []


def test_kotlin_writer_keys_match_the_schema(schema):
    text = (SRC / "RawSamples.kt").read_text()
    props = schema["properties"]
    top = _map_keys(_function_body(text, "RawSamples(", "toMap"), line_start=True)
    assert set(schema["required"]) <= set(top) <= set(props)
    assert len(top) == len(set(top))
    assert set(_map_keys(_function_body(text, "ErrorInfo(", "toMap"))) == set(props["error"]["properties"])
    assert set(_map_keys(_function_body(text, "MemoryReading(", "toMap"))) == set(props["memory"]["properties"])
    device_state = re.search(r'"device_state" to linkedMapOf\((.*)\)', text)[1]
    assert set(_map_keys(device_state)) == set(props["device_state"]["properties"])
    # the checked-in sample came from this writer: same keys, same order
    sample = json.loads((APP / "sample" / "benchmark_result.json").read_text())
    assert list(sample) == top


# --- bundling the demo model ----------------------------------------------------------------

def test_bundle_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(SCRIPTS / "bundle_model.sh")], check=True)


def _fake_artifact(directory: Path, *, status="OK", task="classification", num_classes=1000) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    artifact = directory / "mobilenet_v3_small-fp32.tflite"
    artifact.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    manifest = {
        "status": status, "model": "mobilenet_v3_small", "variant": "fp32", "size_bytes": 72,
        "sha256": "ab" * 32, "edgebench_version": "0.1.0",
        "source": {"kind": "zoo", "name": "mobilenet_v3_small", "weights": "random-init"},
        "input_spec": {"shape": [1, 3, 224, 224], "dtype": "float32", "layout": "NCHW",
                       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                       "task": task, "num_classes": num_classes},
    }
    (directory / (artifact.name + ".manifest.json")).write_text(json.dumps(manifest))
    return artifact


def test_bundle_assets_writes_model_labels_info_and_sample(tmp_path):
    from PIL import Image

    bundle = _load_script("bundle_assets.py")
    artifact = _fake_artifact(tmp_path / "export")
    assets = tmp_path / "assets"
    (assets).mkdir()
    (assets / "stale-old.tflite").write_bytes(b"old")
    assert bundle.main([str(artifact), "--assets", str(assets)]) == 0

    assert not (assets / "stale-old.tflite").exists()
    assert (assets / artifact.name).read_bytes() == artifact.read_bytes()
    labels = (assets / "labels.txt").read_text().splitlines()
    assert len(labels) == 1000 and labels[0] == "tench" and labels[281] == "tabby"
    info = json.loads((assets / "model.json").read_text())
    assert info["model"] == artifact.name and info["labels"] == "labels.txt"
    assert info["mean"] == [0.485, 0.456, 0.406] and info["std"] == [0.229, 0.224, 0.225]
    assert info["weights"].startswith("random-init")
    # exactly the fields BundledModel.kt reads
    kotlin_reads = set(re.findall(r'info\.get\w+\("(\w+)"\)', (SRC / "BundledModel.kt").read_text()))
    assert kotlin_reads and kotlin_reads <= set(info)
    with Image.open(assets / "sample.jpg") as img:
        assert img.format == "JPEG" and img.size == (451, 300)


@pytest.mark.parametrize("kwargs, message", [
    ({"status": "PARITY_FAILED"}, "failed its parity check"),
    ({"task": "image-to-image"}, "demo classifies images"),
    ({"num_classes": None}, "no num_classes"),
])
def test_bundle_assets_refuses_what_the_demo_cannot_show(tmp_path, capsys, kwargs, message):
    bundle = _load_script("bundle_assets.py")
    artifact = _fake_artifact(tmp_path / "export", **kwargs)
    assert bundle.main([str(artifact), "--assets", str(tmp_path / "assets")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "assets" / "model.json").exists()


FAKE_EDGEBENCH = """#!/usr/bin/env bash
# The far end of bundle_model.sh: records its argv, writes an artifact like `edgebench export` does.
set -euo pipefail
printf '%s\\n' "$@" > "$ARGS_FILE"
out=""; prev=""
for a in "$@"; do [[ "$prev" == "--out" ]] && out="$a"; prev="$a"; done
mkdir -p "$out/mobilenet_v3_small"
cp "$FAKE_ARTIFACT" "$FAKE_ARTIFACT.manifest.json" "$out/mobilenet_v3_small/"
"""


def _run_bundle(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    fake = tmp_path / "fake-edgebench"
    fake.write_text(FAKE_EDGEBENCH)
    fake.chmod(0o755)
    env = dict(os.environ, ARGS_FILE=str(tmp_path / "argv.txt"),
               # 10 classes: no torchvision import in the subprocess (ImageNet labels are tested above)
               FAKE_ARTIFACT=str(_fake_artifact(tmp_path / "src", num_classes=10)))
    proc = subprocess.run(["bash", str(SCRIPTS / "bundle_model.sh"), "--edgebench", str(fake),
                           "--python", sys.executable, "--assets", str(tmp_path / "assets"), *args],
                          capture_output=True, text=True, env=env, timeout=120)
    argv = (tmp_path / "argv.txt").read_text().splitlines() if (tmp_path / "argv.txt").exists() else []
    return proc, argv


def test_bundle_model_sh_runs_edgebench_export_then_bundles(tmp_path):
    proc, argv = _run_bundle(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert argv[:5] == ["export", "--model", "mobilenet_v3_small", "--format", "tflite"]
    assert argv[5] == "--out"
    assert (tmp_path / "assets" / "model.json").is_file()
    assert not Path(argv[6]).exists(), "the temporary export dir is removed"


def test_bundle_model_sh_passes_export_args_verbatim(tmp_path):
    proc, argv = _run_bundle(tmp_path, "--", "--checkpoint", "my model; rm -rf x.pt", "--arch", "resnet18")
    assert proc.returncode == 0, proc.stderr
    assert argv[:4] == ["export", "--checkpoint", "my model; rm -rf x.pt", "--arch"]


def test_bundle_model_sh_rejects_unknown_options(tmp_path):
    proc, argv = _run_bundle(tmp_path, "--bogus")
    assert proc.returncode == 2 and "unknown option --bogus" in proc.stderr and argv == []
