"""The adb target: the real ``adb`` client against the fake device in fake_adbd.py (adb wire protocol
over TCP on a private adb server port); the fake's benchmark_model and app really run the model."""

from __future__ import annotations

import shutil
import threading
import time
import zipfile
from pathlib import Path

import pytest

from edgebench.errors import ConfigError, EdgebenchError, TargetError
from edgebench.targets import resolve
from edgebench.targets.adb import list_adb_devices, resolve_serial
from edgebench.targets.base import Deployed

pytestmark = pytest.mark.timeout(300)

EVIL = "a b;touch pwned'x$(touch pwned2).tflite"


@pytest.fixture
def benchmark_binary(tmp_path) -> Path:
    from fake_adbd import write_fake_benchmark_model

    return write_fake_benchmark_model(tmp_path / "android_aarch64_benchmark_model")


def _no_pwned(root: Path) -> None:
    hits = [p for p in root.rglob("pwned*")]
    assert not hits, f"a file name reached a shell unquoted: {hits}"


def test_alias_by_model_name_and_devices_file(adb_env, tmp_path):
    devices = list_adb_devices()
    assert any(d["serial"] == adb_env.serial and d.get("model") == "Pixel_7" for d in devices)
    assert resolve_serial("pixel") == adb_env.serial  # unique case-insensitive match on the model
    assert resolve_serial("PIXEL 7") == adb_env.serial
    with pytest.raises(ConfigError):
        resolve_serial("galaxy")
    dfile = tmp_path / "devices.toml"
    dfile.write_text(f'[phone]\nuri = "adb:{adb_env.serial}"\nrunner = "app"\n')
    target = resolve("adb:phone", devices_file=dfile)
    assert target.uri == f"adb:{adb_env.serial}" and target.runner == "app"
    info = target.describe()
    assert info.name == "Pixel 7" and info.cpu == "GS201" and info.os.startswith("Android 14") and info.cores

    from typer.testing import CliRunner

    from edgebench.cli import app
    from edgebench.cli import commands  # noqa: F401

    shown = CliRunner().invoke(app, ["devices", "--devices", str(dfile)], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert any("Pixel 7" in ln and f"adb:{adb_env.serial}" in ln and "yes" in ln for ln in lines), shown.output
    assert any("phone" in ln and "yes" in ln for ln in lines), shown.output  # the alias answers too
    assert any("local" in ln and "this machine" in ln for ln in lines), shown.output  # every target kind discovers


def test_benchmark_model_runner_end_to_end_with_cooldown(adb_env, tiny_tflite, benchmark_binary, tmp_path, fast_bench):
    evil = tmp_path / EVIL
    shutil.copy(tiny_tflite, evil)
    zone = adb_env.sandbox / "sys/class/thermal/thermal_zone0/temp"
    zone.write_text("52000\n")  # hot: the gate must wait until the "device" cools below 45 °C

    def cool_down():
        time.sleep(1.0)
        zone.write_text("40000\n")

    target = resolve("adb:pixel", benchmark_binary=str(benchmark_binary), cooldown_temp_c=45,
                     cooldown_poll_s=0.3, cooldown_timeout_s=60)
    deployed = target.deploy(evil, "litert")
    run_dir = adb_env.sandbox / deployed.remote_dir.lstrip("/")
    assert run_dir.is_dir() and (run_dir / "model.tflite").is_file()
    cooler = threading.Thread(target=cool_down)
    cooler.start()
    try:
        raw = target.measure(deployed, fast_bench(threads=1))
    finally:
        cooler.join()
        target.cleanup(deployed)
    assert not run_dir.exists(), "per-run directory left on the device"
    assert raw["runner"] == "benchmark_model" and raw["status"] == "ok"
    s = raw["summary"]
    assert s["count"] >= 5 and s["min_ms"] > 0 and s["p50_ms"] is not None and s["warmup_count"] >= 2
    assert raw["load_ms"] > 0 and raw["first_inference_ms"] > 0 and raw["memory"]["peak_rss_bytes"] > 0
    before = raw["device_state"]["before"]
    assert before["android"]["model"] == "Pixel 7" and before["android"]["platform"] == "gs201"
    assert before["battery_temp_c"] == pytest.approx(36.0) and before["thermal_status"] == 0
    assert before["governors"]["cpu0"] == "sched_pixel" and before["cur_freq_khz"]["cpu7"] == 2348000
    cool = raw["device_state"]["cooldown"]
    assert cool["start_temp_c"] == pytest.approx(52.0) and cool["reached"] is True
    assert cool["end_temp_c"] <= 45 and cool["waited_s"] >= 0.9 and cool["polls"] >= 2
    _no_pwned(adb_env.sandbox)


def test_app_runner_installs_and_reads_results(adb_env, tiny_tflite, tmp_path, fast_bench):
    apk = tmp_path / "app-debug.apk"
    with zipfile.ZipFile(apk, "w") as z:
        z.writestr("AndroidManifest.xml", "fake")
    target = resolve(f"adb:{adb_env.serial}", runner="app", apk=str(apk))
    assert dict((n, ok) for n, ok, _ in target.doctor())["dev.edgebench.app"] is False
    deployed = target.deploy(tiny_tflite, "litert")
    try:
        raw = target.measure(deployed, fast_bench())
    finally:
        target.cleanup(deployed)
    assert raw["runner"] == "android_app" and raw["status"] == "ok", raw.get("error")
    assert len(raw["iterations_ms"]) >= 5 and raw["load_ms"] > 0
    assert raw["device_state"]["before"]["android"]["sdk"] == "34"
    files = adb_env.sandbox / "data/data/dev.edgebench.app/files"
    assert not list(files.glob("edgebench_*.json")), "result file not removed"


def test_app_runner_passes_warmup_seconds_and_delegate(adb_env, tiny_tflite, tmp_path, fast_bench):
    target = resolve(f"adb:{adb_env.serial}", runner="app", delegate="gpu", app_timeout_s=30)
    deployed = Deployed(target=target.uri, artifact=tiny_tflite, runtime="litert",
                        remote_dir="/data/local/tmp/edgebench/x", model_path="/data/local/tmp/edgebench/x/model.bin")
    argv = target.strategy.start_argv(deployed, fast_bench(warmup_seconds=0.75), "out.json")
    pairs = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a in ("--es", "--ei", "--ef")}
    assert pairs["warmup_seconds"] == "0.75" and pairs["delegate"] == "gpu" and pairs["warmup"] == "2"
    with pytest.raises(ConfigError) as err:
        resolve(f"adb:{adb_env.serial}", runner="app", delegate="nnapi")  # the app offers cpu and gpu only
    assert "delegate" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("case, p50, mean, init, first, peak_mb, shown", [
    ("2018_average_no_stats.txt", None, 65.0873, 8.21, 120.4, None, "65.09 (mean)"),
    ("2020_average_only_with_op_profile.txt", None, 34.3902, 0.912, 51.02, 13.0, "34.39 (mean)"),
    ("logcat_prefixed_percentiles.txt", 11.96, 12.0014, 31.455, 15.21, 24.4, "11.96"),
])
def test_benchmark_model_output_of_every_era_reaches_the_table(adb_env, tiny_tflite, tmp_path, db, case, p50,
                                                               mean, init, first, peak_mb, shown):
    from fake_adbd import write_fake_benchmark_model

    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.results import Status, Store
    from edgebench.results.compare import compare_rows
    from edgebench.results.render import text_cells
    from edgebench.spec import BenchSpec

    transcript = (Path(__file__).parents[1] / "data" / "benchmark_model" / case).read_text()
    binary = write_fake_benchmark_model(tmp_path / "benchmark_model", transcript=transcript)
    target = resolve("adb:pixel", benchmark_binary=str(binary))
    with Store(db) as store:
        result = measure_artifact(from_path(tiny_tflite), target, BenchSpec(runs=1, min_seconds=0), store=store)
    assert result.status == Status.OK, result.error
    lat = result.latency
    assert lat.p50_ms == (None if p50 is None else pytest.approx(p50)) and lat.mean_ms == pytest.approx(mean)
    assert result.load_ms == pytest.approx(init) and result.first_inference_ms == pytest.approx(first)
    assert result.samples["device_state"]["before"]["android"]["model"] == "Pixel 7"
    (row,) = compare_rows([result], latest=False)
    assert row["status"] == "OK" and row["latency_kind"] == ("p50" if p50 else "mean")
    assert (row["peak_mb"] is None) if peak_mb is None else round(row["peak_mb"], 1) == peak_mb
    headers, (cells,) = text_cells([row])
    assert cells[headers.index("p50 ms [95% CI]")].startswith(shown)  # never "—" beside OK
    if case.startswith("2020"):
        assert result.samples["op_profile_tables"][0]["rows"][0]["node_type"] == "AllocateTensors"


def test_quoting_reaches_the_device_shell_intact(adb_env):
    target = resolve("adb:pixel")
    literal = "a b;touch pwned'x$(touch pwned2)`touch pwned3`"
    out = target.transport.run(["echo", literal], check=True)
    assert out.stdout.strip() == literal
    _no_pwned(adb_env.sandbox)


def test_device_storage_full_is_a_deploy_error(adb_env, tiny_tflite, benchmark_binary):
    (adb_env.sandbox / ".fake" / "quota_bytes").write_text("100\n")
    target = resolve("adb:pixel", benchmark_binary=str(benchmark_binary))
    with pytest.raises(TargetError) as err:
        target.deploy(tiny_tflite, "litert")
    assert err.value.stage == "deploy" and "storage full" in str(err.value)
    assert not list((adb_env.sandbox / "data/local/tmp/edgebench").iterdir())  # cleaned up after the failure


def test_device_killed_mid_run(adb_env, tiny_tflite, benchmark_binary, fast_bench):
    target = resolve("adb:pixel", benchmark_binary=str(benchmark_binary), backoff_s=0.5)
    deployed = target.deploy(tiny_tflite, "litert")
    killer = threading.Timer(3.0, adb_env.kill_device)
    killer.start()
    started = time.monotonic()
    try:
        with pytest.raises(EdgebenchError) as err:
            target.measure(deployed, fast_bench(min_seconds=60.0, max_seconds=90.0, timeout_seconds=120.0))
    finally:
        killer.join()
    assert err.value.stage in ("run", "timeout") and time.monotonic() - started < 100
    assert "disconnected" in str(err.value) or "not connected" in str(err.value)
    with pytest.warns(RuntimeWarning):
        target.cleanup(deployed)  # the device is gone: say what was left behind, do not raise


def test_cli_run_on_adb(adb_env, tiny_tflite, benchmark_binary, tmp_path):
    from typer.testing import CliRunner

    from edgebench.cli import app
    from edgebench.cli import commands  # noqa: F401

    run = next((c for c in app.registered_commands if c.name == "run"), None)
    if run is None:
        pytest.skip("`edgebench run` is not in this checkout yet")
    dfile = tmp_path / "devices.toml"
    dfile.write_text(f'[pixel]\nuri = "adb:{adb_env.serial}"\nbenchmark_binary = "{benchmark_binary}"\n')
    db = tmp_path / "r.db"
    result = CliRunner().invoke(app, ["--db", str(db), "run", str(tiny_tflite), "--target", "adb:pixel",
                                      "--devices", str(dfile), "--runs", "5", "--warmup", "1",
                                      "--min-seconds", "0", "--max-seconds", "5"])
    assert result.exit_code == 0, result.output
    from edgebench.results.store import Store

    rows = Store(db).results()
    assert rows and rows[-1].status.name == "OK"
