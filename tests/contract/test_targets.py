"""Every registered target, driven by the registry: capabilities are data, URIs parse or fail in
one line, and a format a target cannot run becomes an UNSUPPORTED row before anything is deployed."""

from __future__ import annotations

import pytest

from edgebench.errors import EdgebenchError
from edgebench.exporters import registry as exporters
from edgebench.harness.artifacts import from_path
from edgebench.harness.measure import measure_artifact
from edgebench.results import Status, Store
from edgebench.spec import BenchSpec
from edgebench.targets import registry, resolve

# one well-formed and one malformed URI per scheme; a new target without an entry fails below
EXAMPLES = {
    "local": ("local", None),
    "ssh": ("ssh:pi@raspberrypi.invalid:2222", "ssh:user@host:notaport"),
    "adb": ("adb:SERIAL0123", "adb:"),
}


def test_every_target_has_examples():
    assert set(registry.names()) == set(EXAMPLES), "add the new target's URIs to EXAMPLES"


@pytest.mark.parametrize("scheme", registry.names())
def test_capabilities_are_data(scheme):
    cls = registry.get(scheme)
    reason = cls.unavailable_reason()
    assert reason is None or (isinstance(reason, str) and reason.strip())
    assert cls.formats and set(cls.formats) <= set(exporters.names())


@pytest.mark.parametrize("scheme", registry.names())
def test_uri_resolves_and_supports_is_a_reason(scheme):
    good, _ = EXAMPLES[scheme]
    target = resolve(good)
    assert isinstance(target, registry.get(scheme)) and target.uri == good
    for fmt in exporters.names():
        reason = target.supports(fmt)
        if fmt not in target.formats:
            assert isinstance(reason, str) and fmt in reason
        else:
            assert reason is None or isinstance(reason, str)


@pytest.mark.parametrize("scheme", [s for s in registry.names() if EXAMPLES.get(s, (None, None))[1]])
def test_malformed_uri_is_one_line(scheme):
    with pytest.raises(EdgebenchError) as info:
        resolve(EXAMPLES[scheme][1])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("scheme", registry.names())
def test_unrunnable_format_is_an_unsupported_row_without_touching_the_device(scheme, tmp_path, db):
    target = resolve(EXAMPLES[scheme][0])
    fmt = next((f for f in exporters.names() if target.supports(f)), None)
    if fmt is None:
        pytest.skip(f"{scheme} runs every format here")
    ext = exporters.get(fmt).extension
    path = tmp_path / f"model{ext}"
    path.mkdir() if ext == ".mlpackage" else path.write_bytes(b"not a real model")
    with Store(db) as store:
        # the example hosts do not exist: any attempt to deploy would fail, not give UNSUPPORTED
        result = measure_artifact(from_path(path), target, BenchSpec(runs=1, min_seconds=0), store=store)
        assert result.status == Status.UNSUPPORTED and result.error.message == target.supports(fmt)
        assert store.results() == [result]
