"""Every registered target, driven by the registry: capabilities are data (runtimes, an Options
dataclass), options are validated in one line naming the key, URIs parse or fail in one line, and a
runtime a target cannot run becomes an UNSUPPORTED row before anything is deployed."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from edgebench import exporters
from edgebench.errors import ConfigError, EdgebenchError
from edgebench.harness.artifacts import from_path
from edgebench.harness.measure import measure_artifact
from edgebench.results import Status, Store
from edgebench.runner import RUNTIMES
from edgebench.spec import BenchSpec
from edgebench.targets import Found, registry, resolve
from edgebench.targets.base import Target

# one well-formed and one malformed URI per scheme; a new target without an entry fails below
EXAMPLES = {
    "local": ("local", "local:somewhere"),
    "ssh": ("ssh:pi@raspberrypi.invalid:2222", "ssh:user@host:notaport"),
    "adb": ("adb:SERIAL0123", "adb:"),
}
TARGETS_DIR = Path(__file__).parents[2] / "edgebench" / "targets"


def _reason(target: Target, runtime: str) -> str | None:
    """supports(), or None when answering would need the (non-existent) example device."""
    try:
        return target.supports(runtime)
    except EdgebenchError:
        return None


def test_every_target_has_examples():
    assert set(registry.names()) == set(EXAMPLES), "add the new target's URIs to EXAMPLES"


@pytest.mark.parametrize("scheme", registry.names())
def test_capabilities_are_data(scheme):
    cls = registry.get(scheme)
    reason = cls.unavailable_reason()
    assert reason is None or (isinstance(reason, str) and reason.strip())
    assert dataclasses.is_dataclass(cls.Options) and cls.Options.__dataclass_params__.frozen
    defaults = cls.Options()  # every option has a default
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(defaults, "x_not_an_option", 1)
    assert all(isinstance(f, Found) for f in cls.discover())


@pytest.mark.parametrize("scheme", registry.names())
def test_runtimes_are_runner_runtimes(scheme):
    target = resolve(EXAMPLES[scheme][0])
    if scheme != "ssh":  # ssh asks the device, which does not exist here
        assert set(target.runtimes) <= set(RUNTIMES)
    for runtime in RUNTIMES:
        reason = _reason(target, runtime)
        assert reason is None or (reason.startswith(f"target {target.uri} cannot run {runtime}: ") and "\n" not in reason)
    # a runtime the runner does not have is refused without asking the device
    reason = target.supports("no-such-runtime")
    assert reason and reason.startswith(f"target {target.uri} cannot run no-such-runtime: ")


@pytest.mark.parametrize("scheme", registry.names())
def test_options_are_validated_in_one_line_naming_the_key(scheme, tmp_path):
    cls = registry.get(scheme)
    good = EXAMPLES[scheme][0]
    with pytest.raises(ConfigError) as err:
        resolve(good, no_such_option=1)
    assert "\n" not in str(err.value) and "no_such_option" in str(err.value) and str(err.value).startswith("config:")
    with pytest.raises(ConfigError) as err:
        resolve(good, flags={"no_such_option": "--no-such"}, no_such_option=1)
    assert "--no-such" in str(err.value)
    for f in dataclasses.fields(cls.Options):
        with pytest.raises(ConfigError) as err:
            resolve(good, **{f.name: object()})  # no option takes an arbitrary object
        assert f.name in str(err.value) and "\n" not in str(err.value)
    # the devices file checks the same dataclass
    fields = [f.name for f in dataclasses.fields(cls.Options)]
    dfile = tmp_path / "devices.toml"
    dfile.write_text(f'[dev]\nuri = "{good}"\nno_such_option = 1\n')
    with pytest.raises(ConfigError) as err:
        resolve("dev", dfile)
    assert "[dev].no_such_option" in str(err.value) and "\n" not in str(err.value)
    if fields:
        dfile.write_text(f'[dev]\nuri = "{good}"\n{fields[0]} = {{ a = 1 }}\n')
        with pytest.raises(ConfigError) as err:
            resolve("dev", dfile)
        assert f"[dev].{fields[0]}" in str(err.value)


@pytest.mark.parametrize("scheme", [s for s in registry.names() if EXAMPLES.get(s, (None, None))[1]])
def test_malformed_uri_is_one_line(scheme):
    with pytest.raises(EdgebenchError) as info:
        resolve(EXAMPLES[scheme][1])
    assert "\n" not in str(info.value)


def test_unknown_target_is_one_line():
    with pytest.raises(ConfigError) as info:
        resolve("telnet:box")
    assert "\n" not in str(info.value) and "telnet:box" in str(info.value)


@pytest.mark.parametrize("scheme", registry.names())
def test_unrunnable_runtime_is_an_unsupported_row_without_touching_the_device(scheme, tmp_path, db, monkeypatch):
    target = resolve(EXAMPLES[scheme][0])
    fmt = next((f for f in exporters.formats() if _reason(target, exporters.runtime_for(f))), None)
    if fmt is None:
        pytest.skip(f"{scheme} runs every format's runtime here")

    def no_deploy(*args, **kwargs):
        raise AssertionError("deploy() was called for a runtime the target cannot run")

    monkeypatch.setattr(target, "deploy", no_deploy)
    ext = exporters.registry.get(fmt).extension
    path = tmp_path / f"model{ext}"
    path.mkdir() if ext == ".mlpackage" else path.write_bytes(b"not a real model")
    with Store(db) as store:
        result = measure_artifact(from_path(path), target, BenchSpec(runs=1, min_seconds=0), store=store)
        assert result.status == Status.UNSUPPORTED
        assert result.error.message == target.supports(exporters.runtime_for(fmt))
        assert result.error.message.startswith(f"target {target.uri} cannot run {exporters.runtime_for(fmt)}: ")
        assert store.results() == [result]


FORMAT_NAMES = ("onnx", "tflite", "torchscript", "coreml", "executorch")


@pytest.mark.parametrize("path", sorted(TARGETS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_format_name_in_target_code(path):
    tree = ast.parse(path.read_text())
    literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not [s for s in literals if s.lower() in FORMAT_NAMES], "targets name runtimes, never formats"
