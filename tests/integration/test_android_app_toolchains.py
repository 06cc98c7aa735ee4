"""The Android app against real toolchains: the bundling script with the real exporter, and the
app's pure-Kotlin core compiled with kotlinc and its JUnit tests run on a JVM (integration: minutes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgebench.harness.protocol import SCHEMA_PATH

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "android_app"
SRC = APP / "app" / "src" / "main" / "java" / "dev" / "edgebench" / "app"
TEST_SRC = APP / "app" / "src" / "test" / "java" / "dev" / "edgebench" / "app"
SCRIPTS = APP / "scripts"
PURE_KOTLIN = ["Contract.kt", "Json.kt", "ModelPaths.kt", "BenchmarkConfig.kt", "BenchmarkLoop.kt", "RawSamples.kt"]


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def test_bundle_model_sh_with_the_real_exporter(tmp_path):
    from edgebench import exporters

    registry = getattr(exporters, "registry", None)
    if registry is None or "tflite" not in registry.names():
        pytest.skip("the tflite exporter is not registered in this checkout")
    reason = registry.get("tflite").unavailable_reason()
    if reason:
        pytest.skip(f"tflite exporter unavailable: {reason}")
    edgebench = Path(sys.executable).with_name("edgebench")
    if subprocess.run([str(edgebench), "export", "--help"], capture_output=True, timeout=120).returncode != 0:
        pytest.skip("`edgebench export` is not a command in this checkout yet")
    proc = subprocess.run(["bash", str(SCRIPTS / "bundle_model.sh"), "--edgebench", str(edgebench),
                           "--python", sys.executable, "--assets", str(tmp_path / "assets")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads((tmp_path / "assets" / "model.json").read_text())
    model = tmp_path / "assets" / info["model"]
    assert model.read_bytes()[4:8] == b"TFL3"
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model))
    assert list(interpreter.get_input_details()[0]["shape"]) == info["input_shape"]
    assert interpreter.get_output_details()[0]["shape"][-1] == info["num_classes"] == 1000


# --- the app's pure-Kotlin core on a JVM -----------------------------------------------------

def _kotlin_toolchain() -> tuple[str, list[str]] | None:
    kotlinc = shutil.which("kotlinc")
    jars = [Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar"),
            Path("/usr/share/java/kotlin-stdlib.jar")]
    if not kotlinc or not shutil.which("java") or not all(j.exists() for j in jars):
        return None
    return kotlinc, [str(j) for j in jars]


def test_kotlin_core_compiles_passes_its_unit_tests_and_writes_valid_results(tmp_path, schema):
    jsonschema = pytest.importorskip("jsonschema")
    toolchain = _kotlin_toolchain()
    if toolchain is None:
        pytest.skip("needs kotlinc, java and JUnit 4 (Debian: apt-get install kotlin junit4)")
    kotlinc, (junit, hamcrest, stdlib) = toolchain
    jar = tmp_path / "core.jar"
    sources = [str(SRC / f) for f in PURE_KOTLIN] + [str(p) for p in sorted(TEST_SRC.glob("*.kt"))]
    build = subprocess.run([kotlinc, "-cp", junit, *sources, "-d", str(jar)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    classpath = os.pathsep.join([str(jar), junit, hamcrest, stdlib])
    test_classes = [f"dev.edgebench.app.{p.stem}" for p in sorted(TEST_SRC.glob("*Test.kt"))]
    assert len(test_classes) >= 4
    run = subprocess.run(["java", "-cp", classpath, "org.junit.runner.JUnitCore", *test_classes],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "OK (" in run.stdout, run.stdout[-3000:]

    ok, err = tmp_path / "ok.json", tmp_path / "error.json"
    subprocess.run(["java", "-cp", classpath, "dev.edgebench.app.SampleResultKt", str(ok), str(err)],
                   check=True, timeout=120)
    for path in (ok, err):
        jsonschema.validate(json.loads(path.read_text()), schema)
    assert json.loads(err.read_text())["error"]["stage"] == "config"
    assert len(json.loads(ok.read_text())["iterations_ms"]) >= 10
