"""ONNX static int8 recipe (issue 14): the GlobalAveragePool / scalar-Mul rewrites keep accuracy
and remove ops; calibrate_method reaches onnxruntime; bad values are one-line config errors."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
import torch.nn as nn

from edgebench.errors import ConfigError
from edgebench.exporters import ExportContext, registry
from edgebench.models import InputSpec, LoadedModel
from edgebench.runner.batch import run_batch
from edgebench.spec import ExportSpec, Variant

EXPORTER = registry.get("onnx")
pytestmark = pytest.mark.skipif(EXPORTER.unavailable_reason() is not None,
                                reason=str(EXPORTER.unavailable_reason()))
SPEC = InputSpec(shape=(1, 3, 32, 32), num_classes=10)


def _se_net() -> nn.Module:
    """A MobileNetV3-shaped block: conv + hardswish, torchvision's squeeze-excite, pool, linear."""
    from torchvision.ops.misc import SqueezeExcitation

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.Hardswish(),
        nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Hardswish(),
        SqueezeExcitation(16, 8, scale_activation=nn.Hardsigmoid),
        nn.Conv2d(16, 24, 1), nn.Hardswish(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10),
    ).eval()


def _export(tmp_path, module, options):
    from edgebench.exporters.variants.calibration import calibration_inputs

    calibration = calibration_inputs(SPEC, n=16)
    ctx = ExportContext(loaded=LoadedModel(module, SPEC, "se", {"kind": "test"}), variant=Variant(precision="int8"),
                        module=module, example=calibration[0], calibration=calibration)
    dest = tmp_path / f"se-{'-'.join(f'{k}={v}' for k, v in options.items())}.onnx"
    result = EXPORTER.convert(ctx, ExportSpec(formats=("onnx",), variant=Variant(precision="int8")), dest,
                              EXPORTER.options(options))
    probe = [SPEC.example(1, seed=100 + i) for i in range(8)]
    with torch.no_grad():
        ref = np.concatenate([module(x).numpy() for x in probe])
    got = np.concatenate([s[0] for s in run_batch(EXPORTER.runtime, dest, [[x.numpy()] for x in probe])])
    sqnr = 10 * np.log10(float((ref ** 2).sum()) / float(((ref - got) ** 2).sum()))
    import onnx

    ops = collections.Counter(n.op_type for n in onnx.load(str(dest)).graph.node)
    return result, sqnr, ops


@pytest.mark.slow
def test_int8_rewrites_remove_float_pools_and_scalar_muls_at_the_same_accuracy(tmp_path):
    module = _se_net()
    plain, plain_sqnr, plain_ops = _export(tmp_path, module, {"int8_rewrites": False})
    result, sqnr, ops = _export(tmp_path, module, {})
    q = result.quantization
    assert q["global_average_pools"] == 2  # the SE pool and the classifier pool
    assert q["scalar_muls_folded"] == plain_ops["Mul"] - ops["Mul"] > 0
    assert ops["ReduceMean"] == 0 and plain_ops["ReduceMean"] == 2
    assert ops["GlobalAveragePool"] == 2
    assert sqnr >= 15.0 and sqnr >= plain_sqnr - 1.0, (sqnr, plain_sqnr)


@pytest.mark.slow
@pytest.mark.parametrize("method,name", [("percentile", "Percentile"), ("entropy", "Entropy")])
def test_calibrate_method_reaches_onnxruntime(tmp_path, method, name):
    result, sqnr, _ = _export(tmp_path, _se_net(), {"calibrate_method": method})
    assert result.quantization["calibrate_method"] == name
    assert sqnr >= 10.0


def test_unknown_calibrate_method_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown ONNX calibrate_method 'kl'"):
        EXPORTER.options({"calibrate_method": "kl"})


def _padded_net() -> nn.Module:
    """Stem conv + hardswish, a depthwise conv, then an inverted residual whose 24-channel depthwise
    conv and squeeze-excite are not a multiple of 16 channels."""
    from torchvision.ops.misc import SqueezeExcitation

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.Hardswish(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(),
        nn.Conv2d(8, 24, 1), nn.Hardswish(),
        nn.Conv2d(24, 24, 3, padding=1, groups=24), nn.Hardswish(),
        SqueezeExcitation(24, 8, scale_activation=nn.Hardsigmoid),
        nn.Conv2d(24, 16, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    ).eval()


@pytest.mark.slow
def test_float_stem_and_depthwise_pad_are_recorded_and_keep_accuracy(tmp_path):
    import onnx

    module = _padded_net()
    plain, plain_sqnr, _ = _export(tmp_path, module, {"float_stem": "none", "depthwise_pad": 0})
    result, sqnr, ops = _export(tmp_path, module, {})
    q = result.quantization
    assert plain.quantization["float_nodes"] == [] and plain.quantization["depthwise_padded"] == 0
    assert q["float_stem"] == "depthwise" and q["depthwise_pad"] == 16 and q["depthwise_padded"] == 1
    assert len(q["float_nodes"]) == 4 and ops["HardSwish"] == 1  # stem conv + hardswish, dw conv + relu
    model = onnx.load(str(tmp_path / "se-.onnx"))
    inits = {i.name: i for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    float_convs = [n for n in convs if n.input[1] in inits and inits[n.input[1]].data_type == onnx.TensorProto.FLOAT]
    assert [n.name for n in float_convs] == [q["float_nodes"][0], q["float_nodes"][2]]
    dw = next(n for n in convs if next((a.i for a in n.attribute if a.name == "group"), 1) > 8)
    assert next(a.i for a in dw.attribute if a.name == "group") == 32
    assert sqnr >= 15.0 and sqnr >= plain_sqnr - 1.0, (sqnr, plain_sqnr)
