"""CLI faults from a new-user trial, checked through ``edgebench.cli.main``: default-on format
options can be switched off (``--no-…``), a format flag for a format not being exported is refused,
the narrow-terminal hint names only flags the command has, and filters that match no stored run
name the flag they were given with (compare and report alike)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from edgebench import exporters
from edgebench.cli import main
from edgebench.results import Store
from edgebench.results.model import ArtifactInfo, LatencyStats, RunResult, Status

FIELDS = exporters.format_option_fields()
BOOLS = [f for f in FIELDS if f.type is bool]


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ex:
        main(args)
    captured = capsys.readouterr()
    return (0 if ex.value.code is None else ex.value.code), captured.out, captured.err.strip()


@pytest.fixture
def captured_export(monkeypatch, tmp_path):
    """Replace the export pipeline with a recorder: the CLI's parsed ExportSpec lands in the list
    (and the fake returns ``rows``, so the table printing path runs too)."""
    monkeypatch.chdir(tmp_path)
    seen: list = []
    rows: list = []

    def fake(model_spec, export_spec, **kw):
        seen.append(export_spec)
        return list(rows)

    monkeypatch.setattr(exporters, "export", fake)
    return seen, rows


# --- 1. every boolean format option is an on/off pair ---------------------------------------------

def test_there_are_default_on_bool_options_to_switch_off():
    assert any(f.default is True for f in BOOLS)  # the case the trial hit


@pytest.mark.parametrize("f", BOOLS, ids=lambda f: f.flag)
def test_bool_option_switches_both_ways_and_reaches_the_spec(f, captured_export, capsys):
    seen, _ = captured_export
    off = f"--no-{f.flag[2:]}"
    code, _, err = cli(["export", "-f", f.fmt, off], capsys)
    assert code == 0, err
    expected_off = {f.fmt: {f.name: False}} if f.default else {}
    assert seen[-1].format_options == expected_off
    code, _, err = cli(["export", "-f", f.fmt, f.flag], capsys)
    assert code == 0, err
    assert seen[-1].format_options == ({} if f.default else {f.fmt: {f.name: True}})


def test_help_names_the_off_form_and_keeps_every_flag_whole_at_80_columns(capsys, monkeypatch):
    import re

    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = cli(["export", "--help"], capsys)
    flat = re.sub(r"[│\s]+", " ", out)
    assert code == 0
    for f in FIELDS:
        assert f" {f.flag} " in flat, f.flag  # not cut to "--onnx-bias-corre…"
        assert " ".join(f.help.split()[:4]) in flat, f.flag  # the plug-in's help, unchanged
    for f in BOOLS:
        assert f"--no-{f.flag[2:]} switches it off" in flat, f.flag


def test_on_and_off_together_is_one_line_error(captured_export, capsys):
    f = next(f for f in BOOLS if f.default is True)
    code, _, err = cli(["export", "-f", f.fmt, f.flag, f"--no-{f.flag[2:]}"], capsys)
    assert code == 2 and err == f"error config: {f.flag} and --no-{f.flag[2:]} cannot be combined — pick one"


# --- 3. a format flag for a format not being exported is refused ----------------------------------

def _other_format(fmt: str) -> str:
    return next(name for name in exporters.registry.names() if name != fmt)


@pytest.mark.parametrize("f", [f for f in FIELDS if f.type is not bool][:4] + BOOLS[:2], ids=lambda f: f.flag)
def test_a_flag_of_a_format_not_exported_is_one_line_error(f, captured_export, capsys):
    seen, _ = captured_export
    other = _other_format(f.fmt)
    value = [] if f.type is bool else [str(f.default)]  # even its default value, typed, is refused
    code, out, err = cli(["export", "-f", other, f.flag, *value], capsys)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert (f"error config: {f.flag} is a" in err and f"{f.fmt} option and no {f.fmt} format is being exported"
            in err and f"add -f {f.fmt} or drop {f.flag}" in err), err
    assert not seen  # nothing started
    if f.type is bool:  # the off form is refused the same way, named as typed
        code, _, err = cli(["export", "-f", other, f"--no-{f.flag[2:]}"], capsys)
        assert code == 2 and f"--no-{f.flag[2:]} is a" in err and f"drop --no-{f.flag[2:]}" in err, err
    code, _, err = cli(["export", "-f", other, "-f", f.fmt, f.flag, *value], capsys)
    assert code == 0, err  # asked for alongside another format: fine
    code, _, err = cli(["export", "--all", f.flag, *value], capsys)
    assert code == 0, err


def test_a_flag_shared_by_two_formats_is_fine_if_either_is_exported(monkeypatch):
    from edgebench.cli import export as export_cli
    from edgebench.errors import ConfigError
    from edgebench.exporters.options import OptionField

    shared = [OptionField("a", "level", "--level", int, 1, ""), OptionField("b", "level", "--level", int, 1, "")]
    monkeypatch.setattr(export_cli, "OPTION_FIELDS", shared)
    export_cli.check_asked(["--level"], ["b"])
    export_cli.check_asked(["--level"], ["a", "c"])
    with pytest.raises(ConfigError, match="--level is an a / b option and no a / b format"):
        export_cli.check_asked(["--level"], ["c"])


def test_a_sweep_table_for_a_format_not_in_formats_is_refused(tmp_path):
    from edgebench.errors import ConfigError
    from edgebench.spec import SweepSpec

    f = tmp_path / "s.toml"
    f.write_text('formats = ["a"]\n[format_options.b]\nlevel = 2\n')
    with pytest.raises(ConfigError, match=r"\[format_options.b\] is for a format the sweep does not export"):
        SweepSpec.from_toml(f)
    f.write_text('formats = ["a", "b"]\n[format_options.b]\nlevel = 2\n')
    assert SweepSpec.from_toml(f).format_options == {"b": {"level": 2}}


# --- 2. the narrow-terminal hint is true for the command that prints it --------------------------

def _narrow(monkeypatch, module) -> Console:
    console = Console(width=70, force_terminal=True, color_system=None, record=True)
    monkeypatch.setattr(module, "console", console)
    return console


def _export_row(fmt: str) -> RunResult:
    art = ArtifactInfo(path=f"artifacts/a_long_model_name_for_a_narrow_terminal/fp32/model.{fmt}", format=fmt,
                       variant="fp32", size_bytes=3 * 1024 * 1024)
    return RunResult(model="a_long_model_name_for_a_narrow_terminal", format=fmt, variant="fp32", target="",
                     status=Status.OK, kind="export", artifact=art,
                     parity={"vs_eager": {"sqnr_db": 41.2, "top1_agreement": 1.0, "max_abs": 1e-5}})


def test_export_narrow_hint_does_not_suggest_o_csv(monkeypatch, captured_export, capsys):
    from edgebench.cli import export as export_cli

    _, rows = captured_export
    fmt = exporters.registry.names()[0]
    rows.append(_export_row(fmt))
    console = _narrow(monkeypatch, export_cli)
    code, _, err = cli(["export", "-f", fmt], capsys)
    text = " ".join(console.export_text().split())
    assert code == 0, err
    assert "hidden in this narrow terminal" in text
    assert "-o csv" not in text and "COLUMNS=200" in text and "manifest" in text


def _lat(p50: float) -> LatencyStats:
    return LatencyStats(n=50, mean_ms=p50, std_ms=0.1, min_ms=p50 - 1, p50_ms=p50, p90_ms=p50 + 1,
                        p99_ms=p50 + 2, max_ms=p50 + 3, iqr_ms=0.2, cv=0.01, median_ci_low_ms=p50 - 0.5,
                        median_ci_high_ms=p50 + 0.5, outliers=0)


@pytest.fixture
def store_db(tmp_path) -> tuple[Path, str]:
    fmt = exporters.registry.names()[0]
    db = tmp_path / "r.db"
    art = ArtifactInfo(path=f"a/m.{fmt}", format=fmt, variant="fp32", size_bytes=3 * 1024 * 1024,
                       params=2_540_000, nonzero_params=2_540_000, macs=58_900_000)
    with Store(db) as store:
        store.add(RunResult(model="m", format=fmt, variant="fp32", target="local", status=Status.OK,
                            artifact=art, latency=_lat(10.0), memory={"peak_rss_bytes": 100 * 1024 * 1024}))
    return db, fmt


def test_compare_narrow_hint_keeps_o_csv_which_it_has(monkeypatch, store_db, capsys):
    from edgebench.cli import run as run_cli

    db, _ = store_db
    console = _narrow(monkeypatch, run_cli)
    code, _, err = cli(["--db", str(db), "compare"], capsys)
    text = " ".join(console.export_text().split())
    assert code == 0, err
    assert "hidden in this narrow terminal" in text and "-o csv" in text


# --- 4 / 5. filters matching nothing: the right flag, and report refuses like compare -----------

def test_compare_names_artifact_format_not_format(store_db, capsys):
    db, fmt = store_db
    missing = _other_format(fmt)
    code, _, err = cli(["--db", str(db), "compare", "--artifact-format", missing], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert f"no stored run matches --artifact-format {missing}" in err and "--format" not in err.replace(
        "--artifact-format", "")


@pytest.mark.parametrize("flag", ["--model", "--artifact-format", "--variant", "--target"])
def test_report_refuses_filters_that_match_no_run(flag, store_db, tmp_path, capsys):
    db, _ = store_db
    out = tmp_path / "n.html"
    code, _, err = cli(["--db", str(db), "report", flag, "nosuch", "--out", str(out)], capsys)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"error config: no stored run matches {flag} nosuch" in err
    assert not out.exists()


def test_report_with_a_matching_filter_writes(store_db, tmp_path, capsys):
    db, fmt = store_db
    out = tmp_path / "r.html"
    code, _, err = cli(["--db", str(db), "report", "--model", "m", "--artifact-format", fmt, "--out", str(out)],
                       capsys)
    assert code == 0, err
    assert out.exists() and "wrote" in err
