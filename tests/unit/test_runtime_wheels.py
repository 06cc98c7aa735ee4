"""A runtime states where its pip package has wheels; the ssh target's doctor and support check say
so for a device outside them instead of printing a pip command that cannot succeed."""

from __future__ import annotations

import pytest

from edgebench.runner import RUNTIMES
from edgebench.runner.runtimes import Runtime
from edgebench.targets import resolve


class _Limited(Runtime):  # no name: not registered
    dist = "somelib"
    machines = ("x86_64", "aarch64")
    python_min = (3, 10)

    def load(self): ...
    def inputs(self): ...
    def bind(self, feed): ...
    def invoke(self): ...
    def outputs(self): ...


def test_device_reason_from_the_runtimes_data():
    assert _Limited.device_reason("aarch64", "3.11") is None
    assert _Limited.device_reason("armv7l", "3.11") == "somelib publishes no wheel for armv7l (only x86_64, aarch64)"
    assert _Limited.device_reason("aarch64", "3.9") == "somelib publishes no wheel for Python 3.9 (needs >= 3.10)"
    assert _Limited.device_reason(None, None) is None  # the device did not say: no claim
    assert Runtime.device_reason("armv7l", "3.6") is None  # no data: no known limit


@pytest.fixture
def pi(monkeypatch):
    """An ssh target whose probe (asked once, cached) describes a 32-bit Pi with Python 3.9 and
    numpy only; onnxruntime is given wheel limits for the test."""
    monkeypatch.setattr(RUNTIMES["onnxruntime"], "machines", ("x86_64", "aarch64"))
    target = resolve("ssh:pi@192.0.2.1")
    target._probe = {"python": "3.9.2", "py_tag": "3.9", "machine": "armv7l", "system": "Linux-armv7l",
                     "platform": "linux", "modules": {"numpy": "1.26.4"}, "free_bytes": 2**30,
                     "executable": "/usr/bin/python3"}
    return target


def test_doctor_names_a_runtime_without_a_wheel_and_leaves_it_out_of_pip(pi):
    rows = {name: (ok, detail) for name, ok, detail in pi.doctor()}
    assert rows["onnxruntime"] == (False, "not installed: onnxruntime publishes no wheel for armv7l "
                                          "(only x86_64, aarch64)")
    assert "onnxruntime" not in rows["install"][1]
    assert RUNTIMES["litert"].dist in rows["install"][1]  # a runtime without limits is still offered


def test_a_runtime_without_a_wheel_is_unsupported_with_that_reason(pi):
    reason = pi.why_not("onnxruntime")
    assert reason == ("onnxruntime is not installed there and cannot be: onnxruntime publishes no wheel "
                      "for armv7l (only x86_64, aarch64)")
    assert "pip install" not in reason and "onnxruntime" not in pi.runtimes
