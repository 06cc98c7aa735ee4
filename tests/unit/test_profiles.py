"""Device profiles: the built-in data, the schema's one-line errors, user directories, the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgebench.errors import ConfigError
from edgebench.profiles import profiles as P

GOOD = """
name = "toy"
tier = "mid"
device_class = "toy core"

[[cluster]]
core = "Toy"
count = 2
ghz = 1.0
big = true
fp32_gflops = 10
int8_gops = 40
int8_dot = "sdot"
source = "made up for a test"

[memory]
bandwidth_gbs = 1
source = "made up"

[efficiency]
dense_conv = 0.5
depthwise_conv = 0.25
matmul = 0.5
elementwise = 0.5
op_overhead_us = 10
parallel_efficiency = 0.5
source = "made up"
"""


def write(tmp_path: Path, text: str, name: str = "toy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_builtin_profiles_cover_the_tiers_and_reference_devices():
    profiles = P.load_profiles()
    for name in ("low", "mid", "high", "pi4", "pi5", "pixel3", "pixel4", "host-epyc-zen3"):
        assert name in profiles
    assert {profiles[n].tier for n in ("low", "mid", "high")} == {"low", "mid", "high"}
    for p in profiles.values():
        # every number has a source: each cluster, the memory and the efficiency table
        assert all(len(src) > 10 for src in p.sources.values()), p.name
    # what the tiers stand for (the device classes)
    assert "A55" in profiles["low"].device_class and "A76" in profiles["mid"].device_class
    assert "Cortex-X" in profiles["high"].device_class
    # Pi figures are the measured cpufp ones from the reference table
    assert profiles["pi4"].big_cores[0].fp32_gflops == 11.96
    assert profiles["pi5"].big_cores[0].int8_gops == 153.5


def test_thread_settings_count_big_cores_only():
    profiles = P.load_profiles()
    assert profiles["pixel4"].threads("all-big") == 4  # 1 prime + 3 gold; the A55s are not used
    assert profiles["mid"].threads("all-big") == 2
    assert profiles["high"].threads("1-big") == 1
    assert profiles["high"].big_cores[0].core == "Cortex-X3"  # 1-big runs on the fastest core
    with pytest.raises(ConfigError, match="thread setting"):
        profiles["mid"].threads("4-little")


def one_line(err: ConfigError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("edit, field", [
    (lambda s: s.replace("bandwidth_gbs = 1\n", ""), "memory.bandwidth_gbs"),  # missing field
    (lambda s: s.replace("fp32_gflops = 10", 'fp32_gflops = "fast"'), "cluster[0].fp32_gflops"),  # wrong type
    (lambda s: s.replace('tier = "mid"', 'tier = "ultra"'), "tier"),  # unknown tier
    (lambda s: s.replace("big = true", "big = 1"), "cluster[0].big"),
    (lambda s: s.replace('int8_dot = "sdot"', 'int8_dot = "vnni"'), "cluster[0].int8_dot"),
    (lambda s: s.replace("parallel_efficiency = 0.5", "parallel_efficiency = 1.5"), "efficiency.parallel_efficiency"),
    (lambda s: s.replace("matmul = 0.5", "matmul = 0"), "efficiency.matmul"),
    (lambda s: s.replace('source = "made up for a test"\n', ""), "cluster[0].source"),  # a number without source
    (lambda s: 'colour = "red"\n' + s, "colour"),  # unknown field (a typo must not pass silently)
    (lambda s: s.replace("big = true", "big = false"), "cluster"),
])
def test_bad_profile_is_one_line_naming_file_and_field(tmp_path, edit, field):
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(ConfigError) as info:
        P.load_file(path)
    text = one_line(info.value)
    assert str(path) in text
    assert re.search(rf"field {re.escape(field)}\b", text), text


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "name = ")
    with pytest.raises(ConfigError) as info:
        P.load_file(path)
    assert str(path) in one_line(info.value)


def test_good_profile_parses_with_exact_values(tmp_path):
    p = P.load_file(write(tmp_path, GOOD))
    assert (p.name, p.tier, p.bandwidth_gbs, p.efficiency.op_overhead_us) == ("toy", "mid", 1.0, 10.0)
    c = p.clusters[0]
    assert c.peak_gops("fp32") == 10.0 and c.peak_gops("int8") == 40.0
    assert c.peak_gops("fp16") == 10.0  # no fp16 arithmetic: fp16 runs at the fp32 rate
    assert p.threads("all-big") == 2


def test_user_dirs_override_builtin_and_bad_files_are_named(tmp_path, monkeypatch):
    user = tmp_path / "config"
    user.mkdir()
    monkeypatch.setattr(P, "USER_DIR", user)
    write(user, GOOD.replace('name = "toy"', 'name = "mid"').replace("fp32_gflops = 10", "fp32_gflops = 99"), "mine.toml")
    extra = tmp_path / "extra"
    extra.mkdir()
    write(extra, GOOD)
    profiles = P.load_profiles([extra])
    assert profiles["mid"].big_cores[0].fp32_gflops == 99.0  # ~/.config beats built-in
    assert profiles["toy"].path == str(extra / "toy.toml")
    assert "pi5" in profiles
    write(extra, GOOD.replace("count = 2", "count = -1"), "broken.toml")
    with pytest.raises(ConfigError, match=r"broken\.toml: field cluster\[0\]\.count"):
        P.load_profiles([extra])
    with pytest.raises(ConfigError, match="not a directory"):
        P.load_profiles([tmp_path / "nope"])


def test_select_unknown_profile_lists_known():
    profiles = P.load_profiles()
    assert [p.name for p in P.select(profiles, ["low", " pi4"])] == ["low", "pi4"]
    with pytest.raises(ConfigError, match="unknown profile 'pi9'.*known: .*pi4"):
        P.select(profiles, ["pi9"])


def test_host_profile_by_cpu_name_else_generic():
    profiles = P.load_profiles()
    p, how = P.host_profile(profiles, "AMD EPYC", "x86_64")
    assert p.name == "host-epyc-zen3" and "matches" in how
    p, how = P.host_profile(profiles, "Some Future CPU", "x86_64")
    assert p.name == "host-generic-x86-64" and "generic" in how
    with pytest.raises(ConfigError, match="no host profile"):
        P.host_profile({}, "Some Future CPU", "x86_64")


def test_cli_profiles_lists_sources_and_bad_dir_is_one_line(tmp_path, capsys):
    from edgebench.cli import main

    with pytest.raises(SystemExit) as ex:
        main(["profiles"])
    assert ex.value.code in (0, None)
    out = capsys.readouterr().out
    assert "pixel4" in out and "pigirons/cpufp" in out
    write(tmp_path, GOOD.replace('tier = "mid"', 'tier = "ultra"'), "bad.toml")
    with pytest.raises(SystemExit) as ex:
        main(["profiles", "--profiles", str(tmp_path)])
    assert ex.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.toml" in err and "field tier" in err
