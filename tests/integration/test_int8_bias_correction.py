"""Empirical bias correction before static int8 (issue 14 accuracy): the weights land on the int8
grid the quantizers use, each conv's per-channel output mean is kept, and both formats' default int8
paths apply it and record it in the manifest's quantization dict (off with ``bias_correction=False``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from edgebench.exporters import ExportContext, registry
from edgebench.exporters.quant_prep import bias_corrected
from edgebench.models import InputSpec, LoadedModel
from edgebench.spec import ExportSpec, Variant

SPEC = InputSpec(shape=(1, 3, 32, 32), num_classes=10)


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
                        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU6(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    with torch.no_grad():  # a non-trivial BatchNorm to fold
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
        net[1].weight.uniform_(0.5, 3.0)
    return net.eval()


def _calibration() -> list:
    return [SPEC.example(1, seed=i) for i in range(8)]


def test_bias_corrected_conv_is_on_the_int8_grid_and_keeps_its_output_mean():
    net, cal = _net(), _calibration()
    fixed, n = bias_corrected(net, cal)
    assert n == 2
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fixed.modules())
    conv = fixed.get_submodule("0")
    w = conv.weight.detach()
    scale = w.abs().amax(dim=(1, 2, 3), keepdim=True) / 127
    assert torch.allclose(w / scale, (w / scale).round(), atol=1e-4)  # exactly representable in int8
    x = torch.cat(cal)
    with torch.no_grad():
        before = net[1](net[0](x)).mean(dim=(0, 2, 3))
        after = conv(x).mean(dim=(0, 2, 3))
        rounded_only = conv(x).mean(dim=(0, 2, 3)) - conv.bias + (net[1].bias - net[1].weight * net[1].running_mean
                                                                   / torch.sqrt(net[1].running_var + net[1].eps))
    assert torch.allclose(after, before, atol=1e-5)
    assert not torch.allclose(rounded_only, before, atol=1e-5)  # rounding alone moves the mean


def test_untraceable_module_is_returned_unchanged():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.conv(x) if x.sum() > 0 else -self.conv(x)  # data-dependent: fx cannot trace

    m = Branchy().eval()
    assert bias_corrected(m, _calibration()) == (m, 0)


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_default_int8_records_bias_correction(fmt, tmp_path):
    exporter = registry.get(fmt)
    if exporter.unavailable_reason():
        pytest.skip(exporter.unavailable_reason())
    net, cal = _net(), _calibration()
    got = {}
    for on in (True, False):
        ctx = ExportContext(loaded=LoadedModel(net, SPEC, "bc", {"kind": "test"}), variant=Variant(precision="int8"),
                            module=net, example=cal[0], calibration=cal)
        # this net's two convs are an image stem, which the ONNX default keeps in float (and uncorrected)
        opts = {"float_stem": "none"} if "float_stem" in exporter.Options.__dataclass_fields__ else {}
        opts.update({} if on else {"bias_correction": False})
        result = exporter.convert(ctx, ExportSpec(formats=(fmt,), variant=Variant(precision="int8")),
                                  tmp_path / f"bc{on}{exporter.extension}", exporter.options(opts))
        got[on] = (result.quantization["bias_correction"], result.quantization["bias_corrected_convs"])
    assert got == {True: (True, 2), False: (False, 0)}


def test_percentile_observer_ignores_a_rare_outlier():
    from edgebench.exporters.quant_prep import percentile_observer

    obs = percentile_observer().with_args(eps=2 ** -12, dtype=torch.int8, quant_min=-128, quant_max=127)()
    x = torch.randn(400_000, generator=torch.Generator().manual_seed(0))
    x[7] = 1000.0  # one value in 400k: beyond the 99.999th percentile
    obs(x)
    scale, _ = obs.calculate_qparams()
    assert float(scale) * 255 < 20  # the standard normal's range, not the outlier's (minmax: ≈ 1005)


def _first_conv_output_quantization(path) -> tuple[float, int]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    ops = [o for o in it._get_ops_details() if o["op_name"] == "CONV_2D"]
    scale, zero = it._get_tensor_details(ops[0]["outputs"][0], 0)["quantization"]
    return scale, zero


def test_tflite_conv_relu6_range_is_taken_after_the_clamp(tmp_path):
    """conv → BN → ReLU6: with clamp_ranges (default) the conv's int8 output covers [0, ≤ 6] (zero point
    −128); litert-torch's own annotation observes the conv before ReLU6, so its range includes the
    negative pre-activations that ReLU6 drops."""
    exporter = registry.get("tflite")
    if exporter.unavailable_reason():
        pytest.skip(exporter.unavailable_reason())
    net, cal = _net(), _calibration()
    got = {}
    for clamp in (True, False):
        ctx = ExportContext(loaded=LoadedModel(net, SPEC, "relu6", {"kind": "test"}),
                            variant=Variant(precision="int8"), module=net, example=cal[0], calibration=cal)
        dest = tmp_path / f"clamp{clamp}.tflite"
        result = exporter.convert(ctx, ExportSpec(formats=("tflite",), variant=Variant(precision="int8")), dest,
                                  exporter.options({"clamp_ranges": clamp}))
        assert result.quantization["clamp_ranges"] is clamp
        assert result.quantization["activation_observer"] == "percentile"
        got[clamp] = _first_conv_output_quantization(dest)
    (scale, zero), (loose_scale, loose_zero) = got[True], got[False]
    assert zero == -128 and scale * 255 <= 6.0 + 1e-3
    assert loose_zero > -128 and loose_scale > scale


def test_float_stem_convs_keep_their_float_weights():
    net, cal = _net(), _calibration()
    rounded, n2 = bias_corrected(net, cal)
    stem_only, n1 = bias_corrected(net, cal, float_stem=1)
    both, n0 = bias_corrected(net, cal, float_stem=2)
    assert (n2, n1, n0) == (2, 1, 0)
    assert torch.equal(both.get_submodule("3").weight, net[3].weight)  # the depthwise conv, untouched
    assert torch.equal(stem_only.get_submodule("3").weight, rounded.get_submodule("3").weight)
    assert not torch.equal(rounded.get_submodule("3").weight, net[3].weight)
