"""Format options: a plug-in's frozen Options dataclass, filled from the library, a sweep file's
``[format_options.<fmt>]`` table or CLI flags, and checked the same way each time."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from edgebench.errors import ConfigError
from edgebench.exporters.options import make_options, option_fields, options_dict
from edgebench.spec import ExportSpec, SweepSpec, spec_hash


@dataclass(frozen=True)
class _Opts:
    level: int = field(default=3, metadata={"help": "how hard"})
    fast: bool = False
    ratio: float = 0.5
    name: str | None = None


def test_defaults_instances_and_tables():
    assert make_options("x", _Opts, None) == _Opts()
    given = _Opts(level=1)
    assert make_options("x", _Opts, given) is given
    assert make_options("x", _Opts, {"level": 7, "ratio": 1, "name": None}) == _Opts(level=7, ratio=1.0)
    assert options_dict(_Opts()) == {"level": 3, "fast": False, "ratio": 0.5, "name": None}
    assert options_dict(None) == {}


@pytest.mark.parametrize("values,match", [
    ({"levle": 1}, r"unknown x option\(s\) levle"),
    ({"level": "1"}, "x.level = '1' is not of type int"),
    ({"level": True}, "x.level = True is not of type int"),
    ({"fast": 1}, "x.fast = 1 is not of type bool"),
    ({"name": 3}, "x.name = 3 is not of type str"),
    ([1, 2], "must be a table"),
])
def test_bad_values_are_config_errors_naming_the_option(values, match):
    with pytest.raises(ConfigError, match=match):
        make_options("x", _Opts, values)


def test_a_format_without_options_takes_none():
    assert make_options("y", None, None) is None and make_options("y", None, {}) is None
    with pytest.raises(ConfigError, match="y takes no options"):
        make_options("y", None, {"level": 1})


def test_flags_one_per_field_prefixed_only_when_two_formats_share_a_name():
    @dataclass(frozen=True)
    class Other:
        level: int = 1
        only_here: str = "a"

    flags = {(f.fmt, f.name): f for f in option_fields([("x", _Opts), ("y", Other), ("z", None)])}
    assert flags[("x", "fast")].flag == "--fast" and flags[("x", "fast")].type is bool
    assert flags[("y", "only_here")].flag == "--only-here"
    assert flags[("x", "level")].flag == "--x-level" and flags[("y", "level")].flag == "--y-level"
    assert flags[("x", "level")].help == "how hard" and flags[("x", "level")].default == 3
    assert flags[("x", "name")].type is str
    assert not any(fmt == "z" for fmt, _ in flags)


def test_options_are_part_of_the_spec_hash():
    a = ExportSpec(formats=("x",), format_options={"x": _Opts()})
    b = ExportSpec(formats=("x",), format_options={"x": _Opts(level=4)})
    assert spec_hash(a) == spec_hash(ExportSpec(formats=("x",), format_options={"x": _Opts()}))
    assert spec_hash(a) != spec_hash(b)
    assert a.to_dict()["format_options"] == {"x": {"level": 3, "fast": False, "ratio": 0.5, "name": None}}


def test_sweep_file_format_options_tables(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('formats = ["a", "b"]\n[format_options.a]\nlevel = 2\n[format_options.b]\nfast = true\n')
    assert SweepSpec.from_toml(f).format_options == {"a": {"level": 2}, "b": {"fast": True}}
    f.write_text('formats = ["a"]\nformat_options = {a = 3}\n')
    with pytest.raises(ConfigError, match="format_options must hold one table per format"):
        SweepSpec.from_toml(f)
    f.write_text('variants = ["fp32"]\n')
    with pytest.raises(ConfigError, match="formats must be a non-empty list"):
        SweepSpec.from_toml(f)


def test_sweep_tables_are_checked_by_the_plugins():
    from edgebench.exporters import check_format_options, registry

    for fmt, exporter in registry.items():
        check_format_options({fmt: {}})  # every plug-in takes an empty table
        if exporter.Options is not None:
            with pytest.raises(ConfigError, match=f"unknown {fmt} option"):
                check_format_options({fmt: {"no_such_option": 1}})
    with pytest.raises(ConfigError, match="unknown exporter 'nope'"):
        check_format_options({"nope": {}})


def test_a_sweep_cell_identity_includes_its_format_options_table(tmp_path):
    from edgebench.harness.sweep import cells

    def hashes(extra: str) -> dict[str, str]:
        f = tmp_path / "s.toml"
        f.write_text('formats = ["a", "b"]\n' + extra)
        return {c.format: c.hash for c in cells(SweepSpec.from_toml(f))}

    plain = hashes("")
    tuned = hashes("[format_options.a]\nlevel = 2\n")
    assert tuned["a"] != plain["a"] and tuned["b"] == plain["b"]  # only the tuned format's cells change
    assert hashes("[format_options.a]\n") == plain  # an empty table is the defaults: old sweeps resume


def test_file_inputs_value_range_from_dtype_and_quantisation():
    from edgebench.exporters.base import _value_range

    assert _value_range({"dtype": "float32", "scale": None}) is None
    assert _value_range({"dtype": "uint8", "scale": None}) == [0.0, 255.0]  # raw pixels
    assert _value_range({"dtype": "int8", "scale": 0.5, "zero_point": -1}) == [-63.5, 64.0]
    assert _value_range({"dtype": "string", "scale": None}) is None
