"""Device profiles: the built-in data, the schema's one-line errors, user directories, the CLI."""

from __future__ import annotations

import re
from dataclasses import replace
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
    (lambda s: s.replace('int8_dot = "sdot"', 'int8_dot = "dp4a"'), "cluster[0].int8_dot"),
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
    assert "matched by name only" in how  # no flags recorded (an older run)
    p, how = P.host_profile(profiles, "Some Future CPU", "x86_64")
    assert p.name == "host-generic-x86-64" and "generic" in how
    # one CPU name, two CPUs: the recorded SIMD flags pick the profile whose peaks describe it
    zen3 = ["avx", "avx2", "fma", "f16c"]
    zen4 = zen3 + ["avx512f", "avx512bw", "avx512_vnni", "avx_vnni"]
    assert P.host_profile(profiles, "AMD EPYC", "x86_64", zen3)[0].name == "host-epyc-zen3"
    p, how = P.host_profile(profiles, "AMD EPYC", "x86_64", zen4)
    assert p.name == "host-epyc-zen4" and p.big_cores[0].int8_dot == "vnni" and "name only" not in how
    assert p.big_cores[0].int8_gops >= 4 * p.big_cores[0].fp32_gflops - 1e-6
    assert P.host_profile(profiles, "Intel Xeon", "x86_64", zen4)[0].name == "host-generic-x86-64-vnni"
    assert P.host_profile(profiles, "Intel Xeon", "x86_64", zen3)[0].name == "host-generic-x86-64"
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


# --- a user's device from what they know (issue 15) ------------------------------------------------

MINIMAL = """
name = "mypi3"

[[cluster]]
core = "Cortex-A53"
count = 4
ghz = 1.4
"""


def test_minimal_profile_takes_peaks_memory_and_efficiency_from_the_core_table(tmp_path):
    p = P.load_file(write(tmp_path, MINIMAL))
    c = p.clusters[0]
    table = P.core_table()["cortex-a53"]
    assert c.fp32_gflops == pytest.approx(table["fp32_per_ghz"] * 1.4) == pytest.approx(11.256)
    assert (c.fp16_gflops, c.int8_dot, c.big) == (0.0, "none", True)
    assert p.bandwidth_gbs == table["typical_bandwidth_gbs"] and "core table default" in p.memory_source
    assert p.efficiency == P.DEFAULT_EFFICIENCY and p.tier == "device" and p.device_class == "Cortex-A53"
    assert "pigirons/cpufp" in p.sources["cluster Cortex-A53"]
    # anything given overrides the table
    p2 = P.load_file(write(tmp_path, MINIMAL + "fp32_gflops = 9.0\n[memory]\nbandwidth_gbs = 4\nsource = \"x\"\n"))
    assert p2.clusters[0].fp32_gflops == 9.0 and p2.bandwidth_gbs == 4.0


def test_unknown_core_without_peaks_names_the_core_and_the_table(tmp_path):
    with pytest.raises(ConfigError) as info:
        P.load_file(write(tmp_path, MINIMAL.replace("Cortex-A53", "Cortex-A27")))
    text = one_line(info.value)
    assert "field cluster[0].core is 'Cortex-A27'" in text and "cortex-a72" in text


def test_published_as_and_reference_tables_become_reference_rows(tmp_path):
    pi4 = P.load_profiles()["pi4"]
    assert {(r.model, r.precision, r.runtime, r.latency_ms) for r in pi4.references} == {
        ("mobilenet_v2", "int8", "torch", 26.4), ("mobilenet_v3_large", "int8", "torch", 30.7),
        ("resnet18", "fp32", "torch", 100.3), ("resnet50", "fp32", "torch", 225.2)}
    assert all(r.device == "pi4" and "realtime_rpi" in r.source for r in pi4.references)
    assert P.load_profiles()["pixel3"].references[1].precision == "int8"  # uint8 rows are int8 arithmetic
    text = MINIMAL + ('[[reference]]\nmodel = "mobilenet_v2"\nprecision = "fp32"\nthreads = 4\nruntime = "litert"\n'
                      'latency_ms = 95.5\nsource = "my bench"\n')
    p = P.load_file(write(tmp_path, text))
    assert p.references[0].key == "mobilenet_v2@224" and p.references[0].latency_ms == 95.5
    assert p.references[0].int8_dot_kernels is None
    old = P.load_file(write(tmp_path, text.replace('source = "my bench"', 'int8_dot_kernels = false\nsource = "old"')))
    assert old.references[0].int8_dot_kernels is False
    assert "int8_dot_kernels = false" in P.reference_toml(old.references[0])
    # published rows know their kernels from data/reference/sources.toml
    assert {r.int8_dot_kernels for r in P.load_profiles()["pixel3"].references} == {False}
    assert {r.int8_dot_kernels for r in P.load_profiles()["pixel4"].references} == {True}
    with pytest.raises(ConfigError, match=r"field reference\[0\]\.latency_ms must be > 0"):
        P.load_file(write(tmp_path, text.replace("95.5", "-1")))
    with pytest.raises(ConfigError, match=r"field reference\[0\]\.source is missing"):
        P.load_file(write(tmp_path, text.replace('source = "my bench"\n', "")))


def test_cli_profile_add_writes_appends_and_errors_are_one_line(tmp_path, capsys):
    from edgebench.cli import main

    def cli(*args):
        with pytest.raises(SystemExit) as ex:
            main(["profile", "add", *args, "--dir", str(tmp_path)])
        return ex.value.code

    assert cli("mypi3", "--core", "cortex-a53", "--ghz", "1.4", "--cores", "4",
               "--reference", "mobilenet_v2=95.5", "--reference-source", "my bench") in (0, None)
    p = P.load_file(tmp_path / "mypi3.toml")
    assert p.clusters[0].fp32_gflops == pytest.approx(11.256)
    assert [(r.model, r.threads, r.runtime, r.latency_ms, r.source) for r in p.references] == [
        ("mobilenet_v2", 4, "litert", 95.5, "my bench")]
    # more rows later, to the same file
    assert cli("mypi3", "--reference", "mobilenet_v3_small=30", "--reference-precision", "int8",
               "--reference-threads", "1") in (0, None)
    p = P.load_file(tmp_path / "mypi3.toml")
    assert [(r.model, r.precision, r.threads) for r in p.references][1] == ("mobilenet_v3_small", "int8", 1)
    capsys.readouterr()
    for args, needle in [(("other", "--core", "cortex-a53"), "go together"),
                         (("mypi3", "--reference", "mobilenet_v2"), "MODEL=MILLISECONDS"),
                         (("mypi3", "--core", "cortex-a53", "--ghz", "1", "--cores", "4"), "already exists"),
                         (("nope", "--reference", "a=1"), "no profile 'nope'"),
                         (("mypi3", "--reference", "a=1", "--reference-precision", "fp64"), "precision")]:
        assert cli(*args) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, err
    assert len(P.load_file(tmp_path / "mypi3.toml").references) == 2  # a failed add leaves the file as it was


def test_cli_profile_add_from_a_device_run(tmp_path, db, capsys, monkeypatch):
    from edgebench.cli import main
    from edgebench.exporters import registry
    from edgebench.results import ArtifactInfo, LatencyStats, RunResult, Status, Store

    fmt = registry.names()[0]
    monkeypatch.setattr(registry.get(fmt), "runtime", "litert", raising=False)
    lat = LatencyStats(50, 47.0, 1.0, 45.0, 46.0, 48.0, 50.0, 52.0, 1.0, 0.02, 45.5, 46.5, 0)
    on_device = RunResult(model="mobilenet_v2", format=fmt, variant="fp32", target="ssh:pi@pi3", status=Status.OK,
                          spec={"bench": {"threads": 4}}, latency=lat,
                          artifact=ArtifactInfo(path="m", format=fmt, variant="fp32"))
    here = replace(on_device, target="local", run_id="here-" + on_device.run_id)
    with Store(db) as store:
        store.add(on_device)
        store.add(here)

    def cli(*args):
        with pytest.raises(SystemExit) as ex:
            main(["--db", str(db), "profile", "add", "mypi3", *args, "--dir", str(tmp_path)])
        return ex.value.code

    assert cli("--core", "cortex-a53", "--ghz", "1.4", "--cores", "4", "--from-run", on_device.run_id) in (0, None)
    r = P.load_file(tmp_path / "mypi3.toml").references[0]
    assert (r.model, r.precision, r.threads, r.runtime, r.latency_ms) == ("mobilenet_v2", "fp32", 4, "litert", 46.0)
    assert on_device.run_id in r.source and "ssh:pi@pi3" in r.source
    capsys.readouterr()
    assert cli("--from-run", here.run_id) == 2
    assert "not on a device" in capsys.readouterr().err
