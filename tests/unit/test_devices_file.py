"""Devices file (aliases → URIs + options), device-state parsing and the cool-down gate: pure, no device."""

from __future__ import annotations

import pytest

from edgebench.errors import ConfigError
from edgebench.targets import device_state
from edgebench.targets.devices import device_options, load_devices, lookup_alias


def test_aliases_and_options(tmp_path):
    f = tmp_path / "devices.toml"
    f.write_text('[pi4]\nuri = "ssh:pi@raspberrypi.local"\npython = "/opt/venv/bin/python"\n'
                 'accept_new_host_key = true\n\n[pixel]\nuri = "adb:1A2B"\ncooldown_temp_c = 40\n')
    assert lookup_alias("pi4", f) == "ssh:pi@raspberrypi.local"
    assert device_options("pi4", f) == ("ssh:pi@raspberrypi.local",
                                        {"python": "/opt/venv/bin/python", "accept_new_host_key": True})
    assert device_options("adb:pixel", f) == ("adb:1A2B", {"cooldown_temp_c": 40})
    assert device_options("ssh:pi@raspberrypi.local", f)[1]["python"] == "/opt/venv/bin/python"
    assert device_options("adb:OTHER", f) == ("adb:OTHER", {})
    with pytest.raises(ConfigError, match="unknown target 'pi5'"):
        lookup_alias("pi5", f)


@pytest.mark.parametrize("text, field", [
    ('[pi]\nuri = "ssh:pi@x"\npyhton = "p"\n', "[pi].pyhton"),
    ('[pi]\nuri = "ssh:pi@x"\naccept_new_host_key = "yes"\n', "[pi].accept_new_host_key"),
    ('[pi]\npython = "p"\n', "[pi].uri"),
    ('[pi]\nuri = "telnet:x"\n', "[pi].uri"),
    ('[pi\nuri = "x"\n', "devices.toml"),
])
def test_bad_file_is_one_line_naming_file_and_field(tmp_path, text, field):
    f = tmp_path / "devices.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_devices(f)
    line = str(err.value)
    assert "\n" not in line and str(f) in line and field in line and line.startswith("config:")


def test_named_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_devices(tmp_path / "nope.toml")


def test_parse_state_pi_and_android_lines():
    s = device_state.parse_state(
        "@arch aarch64\n@cpu_model Raspberry Pi 4 Model B Rev 1.4\n@cores 4\n@loadavg 0.10 0.20 0.30\n"
        "@cpu cpu0 ondemand 1500000\n@cpu cpu1 - -\n@zone thermal_zone0 48686 cpu-thermal\n"
        "@vcgencmd_temp temp=48.2'C\n@vcgencmd_throttled throttled=0x50000\n@prop model Pixel 7\n"
        "@battery_temp 312\n@thermal_status 1\n@hal_temp CPU0 41.5\n@features fp asimd evtstrm crc32 cpuid asimddp\n")
    assert s["isa_flags"] == ["asimd", "asimddp"]
    assert s["arch"] == "aarch64" and s["cores"] == 4 and s["loadavg"] == [0.1, 0.2, 0.3]
    assert s["governors"] == {"cpu0": "ondemand"} and s["cur_freq_khz"] == {"cpu0": 1500000}
    assert s["thermal_c"] == {"cpu-thermal": pytest.approx(48.686)}
    assert s["vcgencmd"] == {"temp_c": 48.2, "throttled": "0x50000"}
    assert s["android"] == {"model": "Pixel 7"} and s["battery_temp_c"] == pytest.approx(31.2)
    assert s["thermal_status"] == 1 and s["hal_temps_c"] == {"CPU0": 41.5}
    assert device_state.temperature(s) == (pytest.approx(48.686), "thermal_zone:cpu-thermal")


def test_the_linux_script_reads_this_machines_simd_flags():
    import subprocess

    from edgebench.runner import probes

    proc = subprocess.run(["sh", "-c", device_state.LINUX_SCRIPT], capture_output=True, text=True, timeout=30)
    assert device_state.parse_state(proc.stdout).get("isa_flags") == probes.isa_flags()


def test_cooldown_waits_then_records():
    temps = iter([55.0, 50.0, 44.0])
    now = [0.0]
    record = device_state.cooldown(lambda: {"thermal_c": {"cpu": next(temps)}}, 45.0, timeout_s=100, poll_s=5,
                                   sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    assert record == {"threshold_c": 45.0, "start_temp_c": 55.0, "source": "thermal_zone:cpu", "polls": 3,
                      "end_temp_c": 44.0, "waited_s": 10.0, "reached": True}


def test_cooldown_gives_up_at_timeout_and_without_sensor():
    now = [0.0]
    hot = device_state.cooldown(lambda: {"battery_temp_c": 60.0}, 40.0, timeout_s=12, poll_s=5,
                                sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    assert hot["reached"] is False and hot["waited_s"] == 12.0 and hot["source"] == "battery"
    blind = device_state.cooldown(lambda: {}, 40.0)
    assert blind["reached"] is None and blind["polls"] == 1


def test_options_the_targets_read_are_the_options_the_file_takes(tmp_path):
    from edgebench.targets import resolve

    f = tmp_path / "devices.toml"
    f.write_text('[pixel]\nuri = "adb:1A2B"\nrunner = "app"\ndelegate = "gpu"\nbackoff_s = 0.5\napp_timeout_s = 30\n'
                 'benchmark_args = ["--use_xnnpack=false"]\n\n'
                 '[pi]\nuri = "ssh:pi@pi.invalid"\nbackoff_s = 1\nretries = 2\nssh_options = ["Ciphers=aes128-ctr"]\n')
    pixel, pi = resolve("pixel", f), resolve("pi", f)
    assert (pixel.options.delegate, pixel.options.backoff_s, pixel.options.app_timeout_s) == ("gpu", 0.5, 30.0)
    assert pixel.options.benchmark_args == ("--use_xnnpack=false",) and pixel.runner == "app"
    assert pi.options.backoff_s == 1.0 and pi.transport.retries == 2 and pi.transport.backoff_s == 1.0
    assert resolve("pixel", f, delegate="cpu").options.delegate == "cpu"  # the caller's option wins


@pytest.mark.parametrize("text, key", [
    ('[p]\nuri = "adb:X"\ntimeout_s = 5\n', "[p].timeout_s"),  # read nowhere: not an option any more
    ('[p]\nuri = "ssh:pi@x"\nbenchmark_binary = "b"\n', "[p].benchmark_binary"),  # an adb option on ssh
    ('[p]\nuri = "adb:X"\ndelegate = "tpu"\n', "delegate"),
    ('[p]\nuri = "adb:X"\nrunner = "apk"\n', "runner"),
    ('[p]\nuri = "adb:X"\nretries = 1.5\n', "[p].retries"),
    ('[p]\nuri = "ssh:pi@x"\nworkdir = "tmp dir"\n', "workdir"),
    ('[p]\nuri = "ssh:pi@x"\nssh_options = "Ciphers=x"\n', "[p].ssh_options"),
])
def test_options_are_checked_against_the_target_class(tmp_path, text, key):
    f = tmp_path / "devices.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_devices(f)
    assert key in str(err.value) and "\n" not in str(err.value) and str(f) in str(err.value)


def test_device_state_is_recorded_one_way():
    runner_state = {"time": 1.0, "governors": {"cpu0": "performance"}, "cpu_model": None}
    shell_before = {"time": 0.5, "governors": {"cpu0": "ondemand"}, "cpu_model": "Cortex-A72", "vcgencmd": {"temp_c": 50.0}}
    # a runner that reports its own state (local / ssh): its readings win, the shell completes them
    raw = device_state.record({"device_state": {"before": runner_state, "after": None}}, shell_before, shell_before,
                              {"reached": True})
    ds = raw["device_state"]
    assert ds["before"]["governors"] == {"cpu0": "performance"} and ds["before"]["cpu_model"] == "Cortex-A72"
    assert ds["after"] == shell_before and ds["cooldown"] == {"reached": True}
    # a runner that reports none (adb's benchmark_model): the shell readings are the record
    raw = device_state.record({"device_state": None}, shell_before, None, None)
    assert raw["device_state"] == {"before": shell_before, "after": None}
