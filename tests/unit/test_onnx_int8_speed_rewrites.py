"""The ONNX int8 speed rewrites (issue 14) on small hand-built float graphs: depthwise channel
padding and the float stem keep the outputs, change what they say, and leave other graphs alone;
their options reject bad values with one-line config errors."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from edgebench.errors import ConfigError  # noqa: E402
from edgebench.exporters import registry  # noqa: E402
from edgebench.exporters.onnx import float_stem, pad_depthwise_channels  # noqa: E402

RNG = np.random.default_rng(0)


def _w(name, *shape):
    return nh.from_array(RNG.standard_normal(shape).astype(np.float32) * 0.3, name)


def _c(name, value):
    return nh.from_array(np.full((1, 1, 1, 1), value, np.float32), name)


def _hardswish(x, y, tag):
    """x · Clip(x + 3, 0, 6) · 1/6, as the relu6 rewrite exports it."""
    return [h.make_node("Add", [x, "three"], [f"{tag}_a"], name=f"{tag}_add"),
            h.make_node("Clip", [f"{tag}_a", "zero", "six"], [f"{tag}_c"], name=f"{tag}_clip"),
            h.make_node("Mul", [f"{tag}_c", "sixth"], [f"{tag}_m"], name=f"{tag}_sixth"),
            h.make_node("Mul", [x, f"{tag}_m"], [y], name=f"{tag}_mul")]


def _block(c=24, dw_feeds_output=False):
    """stem conv 3→8 + hardswish, depthwise 8 + relu, expand 8→c + hardswish, depthwise c + relu,
    squeeze-excite (pool, c→4, relu, 4→c, hard-sigmoid, multiply), project c→8."""
    nodes = [h.make_node("Conv", ["x", "ws", "bs"], ["s"], name="stem", pads=[1, 1, 1, 1], strides=[2, 2]),
             *_hardswish("s", "s_hs", "hs0"),
             h.make_node("Conv", ["s_hs", "wd0"], ["d0"], name="dw0", group=8, pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["d0"], ["d0r"], name="dw0_relu"),
             h.make_node("Conv", ["d0r", "we", "be"], ["e"], name="expand"),
             *_hardswish("e", "e_hs", "hs1"),
             h.make_node("Conv", ["e_hs", "wd", "bd"], ["d"], name="dw", group=c, pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["d"], ["dr"], name="dw_relu"),
             h.make_node("GlobalAveragePool", ["dr"], ["p"], name="pool"),
             h.make_node("Conv", ["p", "w1", "b1"], ["f1"], name="fc1"),
             h.make_node("Relu", ["f1"], ["f1r"], name="fc1_relu"),
             h.make_node("Conv", ["f1r", "w2", "b2"], ["f2"], name="fc2"),
             h.make_node("HardSigmoid", ["f2"], ["gate"], name="gate", alpha=1 / 6),
             h.make_node("Mul", ["dr", "gate"], ["se"], name="se"),
             h.make_node("Conv", ["se", "wp"], ["y"], name="project")]
    inits = [_w("ws", 8, 3, 3, 3), _w("bs", 8), _w("wd0", 8, 1, 3, 3), _w("we", c, 8, 1, 1), _w("be", c),
             _w("wd", c, 1, 3, 3), _w("bd", c), _w("w1", 4, c, 1, 1), _w("b1", 4), _w("w2", c, 4, 1, 1),
             _w("b2", c), _w("wp", 8, c, 1, 1), _c("three", 3.0), _c("sixth", 1 / 6),
             nh.from_array(np.array(0.0, np.float32), "zero"), nh.from_array(np.array(6.0, np.float32), "six")]
    outputs = [h.make_tensor_value_info("y", T.FLOAT, [1, 8, 8, 8])]
    if dw_feeds_output:
        outputs.append(h.make_tensor_value_info("dr", T.FLOAT, [1, c, 8, 8]))
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 16, 16])], outputs,
                     initializer=inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["y"], {"x": x})[0]


def _conv(model, name):
    return next(n for n in model.graph.node if n.name == name)


def _weight(model, conv):
    inits = {i.name: i for i in model.graph.initializer}
    return nh.to_array(inits[conv.input[1]])


X = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)


def test_depthwise_pad_rounds_channels_up_and_keeps_the_outputs():
    model = _block(c=24)
    before = _run(model, X)
    assert pad_depthwise_channels(model, 16) == 2  # dw0 8 → 16, dw 24 → 32
    onnx.checker.check_model(model)
    assert _weight(model, _conv(model, "stem")).shape == (16, 3, 3, 3)
    assert _weight(model, _conv(model, "dw0")).shape == (16, 1, 3, 3)
    # expand takes dw0's padded channels and makes dw's: padded on both axes
    assert _weight(model, _conv(model, "expand")).shape == (32, 16, 1, 1)
    dw = _conv(model, "dw")
    assert _weight(model, dw).shape == (32, 1, 3, 3)
    assert next(a.i for a in dw.attribute if a.name == "group") == 32
    assert _weight(model, _conv(model, "fc1")).shape == (4, 32, 1, 1)  # reads them with zero weights
    assert _weight(model, _conv(model, "fc2")).shape == (32, 4, 1, 1)
    assert _weight(model, _conv(model, "project")).shape == (8, 32, 1, 1)
    np.testing.assert_allclose(_run(model, X), before, rtol=1e-5, atol=1e-5)


def test_depthwise_pad_skips_the_named_convs():
    model = _block(c=32)
    assert pad_depthwise_channels(model, 16) == 1
    assert _weight(model, _conv(model, "dw0")).shape == (16, 1, 3, 3)
    model = _block(c=32)
    assert pad_depthwise_channels(model, 16, skip={"dw0"}) == 0
    assert _weight(model, _conv(model, "dw0")).shape == (8, 1, 3, 3)


def test_depthwise_pad_refuses_channels_that_reach_a_graph_output():
    model = _block(c=24, dw_feeds_output=True)
    assert pad_depthwise_channels(model, 16, skip={"dw0"}) == 0
    assert _weight(model, _conv(model, "dw")).shape == (24, 1, 3, 3)


def test_float_stem_names_the_stem_and_its_depthwise_conv_and_fuses_the_relu6_hardswish():
    model = _block(c=32)
    before = _run(model, X)
    names = float_stem(model, depthwise=True)
    assert names == ["stem", "hs0_mul_hardswish", "dw0", "dw0_relu"]
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("HardSwish") == 1 and ops[:4] == ["Conv", "HardSwish", "Conv", "Relu"]
    assert ops.count("Add") == 1  # the expand conv's relu6-form hardswish is left for int8
    np.testing.assert_allclose(_run(model, X), before, rtol=1e-5, atol=1e-5)
    model = _block(c=32)
    assert float_stem(model, depthwise=False) == ["stem", "hs0_mul_hardswish"]


def test_float_stem_is_empty_without_an_image_stem():
    model = _block(c=32)
    stem = _conv(model, "stem")
    model.graph.initializer.append(_w("ws16", 8, 16, 3, 3))
    stem.input[1] = "ws16"  # 16 input channels: not an image stem
    assert float_stem(model) == []


@pytest.mark.parametrize("options,message", [
    ({"float_stem": "all"}, "unknown ONNX float_stem 'all'"),
    ({"depthwise_pad": 1}, "ONNX depthwise_pad 1 is not a channel multiple"),
    ({"depthwise_pad": -16}, "ONNX depthwise_pad -16 is not a channel multiple"),
])
def test_bad_speed_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        registry.get("onnx").options(options)
