"""TFLite (LiteRT) exporter: litert-torch for the graph, ai-edge-quantizer / PT2E for precision.

- fp32: ``litert_torch.convert``.
- fp16: fp16 weights (ai-edge-quantizer float casting; the runtime dequantizes them once at load).
- int8-dynamic: int8 per-channel weights, float activations quantized on the fly
  (ai-edge-quantizer ``dynamic_wi8_afp32``).
- int8 (static): int8 weights and activations, activation ranges from calibration; float32 input
  and output by default (a QUANTIZE / DEQUANTIZE op inside the model, which XNNPACK runs in the
  same partition), int8 input and output with ``int8_io`` (``--int8-io``; scale / zero point in the
  manifest, the runner quantizes the feed). Two real paths: ``pt2e`` (default: litert-torch's PT2EQuantizer, per-channel
  weights, 99.999th-percentile activation ranges, calibrated in torch) and ``aeq`` (ai-edge-quantizer
  ``static_wi8_ai8`` over the float flatbuffer: per-channel symmetric int8 weights, per-tensor
  asymmetric int8 activations, ranges = min / max over all calibration samples).
  ``benchmarks/variant_speed.py --int8 --int8-variants`` compares them (same speed under XNNPACK).
  Measured (AMD EPYC, avx512_vnni, 1 thread; real ImageNet MobileNetV2, 32 calibration samples;
  top-1 agreement with fp32 on the benchmark's 72 photo crops, SQNR of the logits vs fp32):
  ``Quantizer.calibrate``'s default statistics, an exponential moving average (smoothing 0.95) of
  each sample's min / max, gave 37.5 % agreement (11.4 % where fp32 is confident, p ≥ 0.5, n=35;
  an earlier benchmark run printed 32 %), 16.1 dB: the averaged ranges sit below the calibration
  set's own extremes, and the logits' int8 ceiling came out at 12.35 while the photos' top logit
  has median 12.8 (up to 23), so on 38 of 72 crops several classes tied at the ceiling and arg-max
  picked the lowest index (13 % agreement on those). The calibration feed itself was right (NCHW,
  as the float model's ``serving_default`` input; with preserve-all-tensors XNNPACK takes one node
  per op, so every intermediate is computed: identical to the no-delegate run, checked tensor by
  tensor), and the weights are per-channel on the right axis (3 for depthwise). Calibrating
  with the library's ``qsv_utils.min_max_update`` instead (min / max over all samples, as the
  classic TFLite converter calibrates): 79.2 % agreement (100 % where fp32 p ≥ 0.5), 15.2 dB,
  4 ties, 2.22× fp32, one XNNPACK partition — PT2E then: 75.0 % (94.3 %), 12.2 dB, 2.21×.
  Logit SQNR did not show the failure (the clipped model scored highest), nor did export parity:
  its 8 random crops have top logits 6–12, under the ceiling (old aeq 7/8 agree, 14.7 dB; fixed
  5/8, 8.7 dB; PT2E 6/8, 7.2 dB), so no SQNR / agreement floor on them separates the broken file.
  On the PT2E path ``hard_activations="relu6"`` (default) first rewrites hardswish / hardsigmoid
  into relu6 forms (:mod:`edgebench.exporters.quant_prep`): XNNPACK has no int8 HARD_SWISH, so
  without it an int8 MobileNetV3 splits into one XNNPACK partition per activation.

  Accuracy of the PT2E path (issue 14), real MobileNetV2 ImageNet weights, top-1 agreement with the
  fp32 .tflite on 96 crops of 4 photos held out of calibration (benchmarks/variant_speed.py --int8;
  fp32 is confident, p ≥ 0.5, on 40 of them and nearly tied, top-2 logits < 0.1 apart, on 11),
  logit SQNR beside it; AMD EPYC with avx512_vnni, LiteRT 2.3.0:

  | PT2E recipe                                                   | agree | p≥0.5 | SQNR    |
  |---------------------------------------------------------------|-------|-------|---------|
  | litert-torch as is (HistogramObserver, range before ReLU6)     | 76.0% | 90.0% | 12.6 dB |
  | + bias correction                                               | 68.8% | 85.0% | 13.0 dB |
  | + ``clamp_ranges`` (conv → ReLU6 range after the clamp)        | 79.2% | 87.5% | 16.5 dB |
  |   … without bias correction                                     | 81.2% | 95.0% | 15.1 dB |
  | + ``activation_observer="percentile"`` (the default now)       | 82.3% | 100%  | 17.0 dB |
  |   … without bias correction                                     | 75.0% | 90.0% | 15.9 dB |
  |   … moving_average / minmax observer instead                    | 76 / 74% | 95 / 87.5% | 16.2 / 16.0 dB |

  The big loss was litert-torch's annotation: hardtanh (ReLU6) shares its input's observer, so a
  conv's int8 range spanned its unclamped output and ReLU6 threw away most of the 256 levels;
  ``clamp_ranges`` observes after the clamp as its conv → relu pattern does (same ops, one XNNPACK
  partition, int8 2.08× fp32; MobileNetV3-Small unchanged at 1.67×, one partition). Empirical bias
  correction (``bias_correction``, :func:`~edgebench.exporters.quant_prep.bias_corrected`) adds
  ~1 dB. Agreement on all crops stays far from 98 %: with 11 near-ties it needs a logit SQNR near
  40 dB (i.i.d. logit noise model); int8 weights alone with float activations reach 21.5 dB. Tried
  without gain: the classifier's output left in float (onnxruntime, same SQNR), 128 calibration
  samples instead of 32, cross-layer equalisation of conv → ReLU6 → depthwise (per-channel
  ranges from 32 images clip the test images).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.errors import ConfigError, ExportError
from edgebench.exporters.base import (INPUT_NAME, OUTPUT_NAME, ConvertResult, Exporter, dist_version,
                                      io_entry, register)
from edgebench.exporters.context import ExportContext
from edgebench.exporters.converter_errors import converter_error
from edgebench.exporters.quant_prep import (bias_corrected, observe_chained_adds, percentile_observer,
                                            relu6_activations)
from edgebench.spec import ExportSpec

ALTERNATIVES = "try --format onnx or --format torchscript"
INT8_STATIC_METHODS = ("aeq", "pt2e")
HARD_ACTIVATIONS = ("relu6", "native")
# PT2E activation observer per activation_observer option (torchao.quantization.pt2e observers)
ACTIVATION_OBSERVERS = {"percentile": "PercentileObserver (99.999th)", "histogram": "HistogramObserver",
                        "minmax": "MinMaxObserver", "moving_average": "MovingAverageMinMaxObserver"}


@dataclass(frozen=True)
class TfliteOptions:
    """TFLite export options: the static int8 path (see the module docstring)."""

    int8_method: str = field(default="pt2e", metadata={
        "help": "TFLite static int8: pt2e (litert-torch PT2E, percentile ranges) or aeq (ai-edge-quantizer, "
                "min/max ranges)."})
    hard_activations: str = field(default="relu6", metadata={
        "help": "TFLite PT2E int8: relu6 (rewrite hardswish / hardsigmoid as relu6 forms, which stay int8 "
                "inside one XNNPACK partition) or native (keep them: XNNPACK runs int8 HARD_SWISH on the CPU "
                "fallback)."})
    bias_correction: bool = field(default=True, metadata={
        "help": "TFLite PT2E int8: fold BatchNorm into the convs and shift each conv's bias by the mean error of its "
                "int8 weight rounding on the calibration inputs (empirical bias correction)."})
    activation_observer: str = field(default="percentile", metadata={
        "help": "TFLite PT2E int8 activation ranges: percentile (default; the 99.999th percentile of a histogram, as "
                "onnxruntime's Percentile), histogram (litert-torch's L2-error search), minmax or moving_average."})
    clamp_ranges: bool = field(default=True, metadata={
        "help": "TFLite PT2E int8: a conv followed by ReLU6 / hardtanh gets its int8 range from the clamped output "
                "(litert-torch's quantizer observes the conv output before the clamp, spending most int8 levels on "
                "values ReLU6 then drops)."})
    int8_io: bool = field(default=False, metadata={
        "help": "TFLite static int8: int8 input and output tensors (feed round(x / scale) + zero_point; scale and "
                "zero point in the manifest). Default: float32 input and output, quantized inside the model."})


def _named_module(module: Any) -> Any:
    """Wrap ``module`` so the TFLite signature's input is called ``input`` and its output ``output``."""
    import torch.nn as nn

    class Named(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input):  # noqa: A002 - the keyword becomes the signature's input name
            out = self.inner(input)
            if isinstance(out, (tuple, list)):
                return {f"{OUTPUT_NAME}_{i}": o for i, o in enumerate(out)}
            return {OUTPUT_NAME: out}

    named = Named(module)
    named.training = False  # not .eval(): a PT2E-converted graph module refuses train()/eval()
    return named


def interpreter(path: Path | str, threads: int | None = None) -> Any:
    """A ready (allocated) LiteRT interpreter for ``path`` with the default XNNPACK delegate."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        it = Interpreter(model_path=str(path), num_threads=threads)
        it.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ExportError(f"LiteRT cannot load {path}: {exc}",
                          hint="re-export it; the file may be truncated or from a newer converter") from None
    return it


def io_specs(it: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(inputs, outputs) manifest entries of an interpreter's default signature, with scale and
    zero point for quantized tensors."""
    import numpy as np

    runner = it.get_signature_runner()

    def entries(details: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for name, d in details.items():
            scale, zero = d["quantization"]
            quantized = d["dtype"] in (np.int8, np.uint8, np.int16)
            out.append(io_entry(name, d["shape"].tolist(), np.dtype(d["dtype"]).name,
                                scale if quantized else None, zero if quantized else None))
        return out

    return entries(runner.get_input_details()), entries(runner.get_output_details())


def op_counts(it: Any) -> dict[str, int]:
    """How many ops of each type the model holds (before delegation), e.g. ``{"CONV_2D": 35}``: the
    interpreter's node list, without the ``DELEGATE`` nodes a delegate adds (they are not in the file)."""
    from collections import Counter

    details = getattr(it, "_get_ops_details", None)  # private, but LiteRT's only op listing
    if not details:
        return {}
    return dict(sorted(Counter(d["op_name"] for d in details() if d["op_name"] != "DELEGATE").items()))


# TFLite schema codes (tensorflow/compiler/mlir/lite/schema/schema.fbs)
_FLOAT32, _INT8 = 0, 9
_DEQUANTIZE, _QUANTIZE = 6, 114


def _opcode(model: Any, builtin: int) -> int:
    """Index of ``builtin``'s operator code in ``model`` (a ModelT), appended if absent."""
    from ai_edge_litert import schema_py_generated as fb

    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = fb.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _rewrite_io(data: bytes, rewrite: Any) -> tuple[bytes, int]:
    """Apply ``rewrite(model, subgraph) -> {old tensor index: new tensor index}`` to every subgraph of
    the flatbuffer ``data`` (object API), point the signatures at the new tensors and serialize.
    Returns (flatbuffer, tensors changed); ``data`` itself and 0 when nothing changed."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    changed = 0
    for sg_index, sg in enumerate(model.subgraphs):
        remap = rewrite(model, sg)
        changed += len(remap)
        for sig in model.signatureDefs or []:
            if sig.subgraphIndex == sg_index:
                for t in list(sig.inputs or []) + list(sig.outputs or []):
                    t.tensorIndex = remap.get(t.tensorIndex, t.tensorIndex)
    if not changed:
        return data, 0
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), changed


def float_interface(data: bytes) -> tuple[bytes, int]:
    """``data`` (a .tflite flatbuffer) with every int8 graph input / output behind a float32 one: a
    QUANTIZE op reads the new float32 input and writes the former int8 input; a DEQUANTIZE op turns
    the int8 output into a float32 output. The float tensors take the old names (the signature keeps
    ``input`` / ``output``). Returns (flatbuffer, tensors changed); 0 when the I/O is float already."""
    from ai_edge_litert import schema_py_generated as fb

    def add_float_io(model: Any, sg: Any) -> dict[int, int]:
        remap: dict[int, int] = {}

        def twin(index: int) -> int:
            old = sg.tensors[index]
            new = fb.TensorT()
            new.shape, new.shapeSignature, new.type, new.buffer = old.shape, old.shapeSignature, _FLOAT32, 0
            new.name, old.name = old.name, (old.name.decode() if isinstance(old.name, bytes) else old.name) + "_int8"
            new.hasRank = old.hasRank
            sg.tensors.append(new)
            return len(sg.tensors) - 1

        def wrap(ends: list, builtin: int, float_side_first: bool) -> list:
            ops = []
            for pos, index in enumerate(ends):
                if sg.tensors[index].type == _INT8 and sg.tensors[index].quantization is not None:
                    new = twin(index)
                    op = fb.OperatorT()
                    op.opcodeIndex = _opcode(model, builtin)
                    op.inputs, op.outputs = ([new], [index]) if float_side_first else ([index], [new])
                    ops.append(op)
                    ends[pos], remap[index] = new, new
            return ops

        head = wrap(sg.inputs, _QUANTIZE, True)
        tail = wrap(sg.outputs, _DEQUANTIZE, False)
        sg.operators = head + list(sg.operators or []) + tail
        return remap

    return _rewrite_io(data, add_float_io)


def int8_interface(data: bytes) -> tuple[bytes, int]:
    """``data`` with int8 input and output: a float32 graph input read only by a QUANTIZE op to int8
    is replaced by that op's int8 output (the op removed), and a float32 graph output written by a
    DEQUANTIZE op from int8 by that int8 tensor. The int8 tensors take the old names. Returns
    (flatbuffer, tensors changed); 0 when nothing matched (e.g. the I/O is int8 already)."""

    def strip_float_io(model: Any, sg: Any) -> dict[int, int]:
        def code(op: Any) -> int:
            c = model.operatorCodes[op.opcodeIndex]
            return max(c.builtinCode, c.deprecatedBuiltinCode)

        remap: dict[int, int] = {}
        drop: set[int] = set()
        ops = list(sg.operators or [])
        for pos, index in enumerate(sg.inputs):
            readers = [i for i, op in enumerate(ops) if index in list(op.inputs)]
            if sg.tensors[index].type != _FLOAT32 or len(readers) != 1:
                continue
            op = ops[readers[0]]
            out = int(op.outputs[0])
            if code(op) == _QUANTIZE and sg.tensors[out].type == _INT8:
                drop.add(readers[0])
                sg.inputs[pos], remap[index] = out, out
        for pos, index in enumerate(sg.outputs):
            writers = [i for i, op in enumerate(ops) if index in list(op.outputs)]
            if sg.tensors[index].type != _FLOAT32 or len(writers) != 1:
                continue
            op = ops[writers[0]]
            src = int(op.inputs[0])
            if code(op) == _DEQUANTIZE and sg.tensors[src].type == _INT8 and src not in sg.outputs:
                drop.add(writers[0])
                sg.outputs[pos], remap[index] = src, src
        for old, new in remap.items():
            sg.tensors[old].name, sg.tensors[new].name = sg.tensors[new].name, sg.tensors[old].name
        sg.operators = [op for i, op in enumerate(ops) if i not in drop]
        return remap

    return _rewrite_io(data, strip_float_io)


def _aeq_calibrate(model: bytes, recipe: Any, calibration: list[Any]) -> dict[str, Any]:
    """ai-edge-quantizer's per-tensor statistics ({tensor name: {"min", "max"}}) of the float
    flatbuffer ``model`` over the batch-1 ``calibration`` tensors (NCHW, as the model's input):
    the min and max over ALL samples (``qsv_utils.min_max_update``), not ``Quantizer.calibrate``'s
    default exponential moving average of each sample's min / max (smoothing 0.95), which clips
    every tensor whose extremes vary by sample; the module docstring has the measurement."""
    from ai_edge_quantizer import calibrator, recipe_manager
    from ai_edge_quantizer.utils import qsv_utils

    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(recipe)
    calib = calibrator.Calibrator(model, num_threads=1, qsv_update_func=qsv_utils.min_max_update)
    calib.calibrate({"serving_default": [{INPUT_NAME: x.detach().numpy()} for x in calibration]}, manager)
    return calib.get_model_qsvs()


_CLAMPS = ("hardtanh.default", "hardtanh_.default", "clamp.default", "relu6.default")
_CONVS = ("conv1d.default", "conv2d.default", "convolution.default")


def annotate_clamped_convs(gm: Any, config: Any) -> int:
    """PT2E annotation for conv → hardtanh / clamp (ReLU6): weights and input as litert-torch's
    conv annotator does, and the int8 output range observed after the clamp, like its conv → relu
    pattern. Its own annotator leaves hardtanh sharing the conv output's observer, so the range
    spans the unclamped conv output. Returns how many pairs were annotated."""
    from litert_torch.quantize import pt2e_quantizer_utils as qu
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    n = 0
    for clamp in gm.graph.nodes:
        conv = clamp.args[0] if clamp.op == "call_function" and str(clamp.target).endswith(_CLAMPS) else None
        if (getattr(conv, "op", None) != "call_function" or not str(conv.target).endswith(_CONVS)
                or len(conv.users) != 1):
            continue
        partition = [clamp, conv, conv.args[1]]
        qspecs = {conv.args[0]: qu.get_input_act_qspec(config), conv.args[1]: qu.get_weight_qspec(config)}
        bias = conv.args[2] if len(conv.args) > 2 else None
        if hasattr(bias, "op"):
            qspecs[bias] = qu.get_bias_qspec(config)
            partition.append(bias)
        if qu._is_annotated(partition):
            continue
        conv.meta["quantization_annotation"] = QuantizationAnnotation(input_qspec_map=qspecs, _annotated=True)
        clamp.meta["quantization_annotation"] = QuantizationAnnotation(
            output_qspec=qu.get_output_act_qspec(config), _annotated=True)
        qu._mark_nodes_as_annotated(partition)
        n += 1
    return n


def _pt2e_quantizer(options: TfliteOptions) -> Any:
    """litert-torch's PT2EQuantizer; with ``clamp_ranges`` conv → clamp pairs are annotated first
    (:func:`annotate_clamped_convs`)."""
    from litert_torch.quantize import pt2e_quantizer as pq

    if not options.clamp_ranges:
        return pq.PT2EQuantizer()

    class ClampedConvQuantizer(pq.PT2EQuantizer):
        def _annotate_for_static_quantization_config(self, model: Any) -> Any:
            annotate_clamped_convs(model, self.global_config)
            return super()._annotate_for_static_quantization_config(model)

    return ClampedConvQuantizer()


def _pt2e_config(observer: str) -> Any:
    """litert-torch's symmetric per-channel static config with the activation observer ``observer``
    (a key of :data:`ACTIVATION_OBSERVERS`)."""
    import dataclasses

    from litert_torch.quantize import pt2e_quantizer as pq
    from torchao.quantization import pt2e as observers
    from torchao.quantization.pt2e.quantizer import QuantizationSpec

    config = pq.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
    if observer == "histogram":  # litert-torch's own choice
        return config
    act = config.input_activation
    ctr = percentile_observer() if observer == "percentile" else getattr(observers, ACTIVATION_OBSERVERS[observer])
    spec = QuantizationSpec(dtype=act.dtype, quant_min=act.quant_min, quant_max=act.quant_max, qscheme=act.qscheme,
                            is_dynamic=False, observer_or_fake_quant_ctr=ctr.with_args(eps=2 ** -12))
    return dataclasses.replace(config, input_activation=spec, output_activation=spec)


def _aeq_quantize(model: bytes, recipe: Any, calibration: list[Any] | None = None) -> bytes:
    """Run ai-edge-quantizer over a float flatbuffer with ``recipe``, calibrated by
    :func:`_aeq_calibrate` when ``calibration`` is given."""
    import warnings

    from ai_edge_quantizer import quantizer

    try:
        q = quantizer.Quantizer(bytearray(model), recipe)
        with warnings.catch_warnings():
            # calibration reads every intermediate tensor; LiteRT warns that this is debug-only
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")
            result = _aeq_calibrate(model, recipe, calibration) if calibration and q.need_calibration else None
            quantized = q.quantize(result, enable_progress_bar=False, enable_progress_report=False)
        return bytes(quantized.quantized_model)
    except (ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise converter_error("tflite (ai-edge-quantizer)", exc, ALTERNATIVES) from exc


def _fp16_recipe() -> Any:
    from ai_edge_quantizer import qtyping, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    rm = recipe_manager.RecipeManager()
    rm.add_weight_only_config(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                              num_bits=16, algorithm_key=AlgorithmName.FLOAT_CASTING)
    return rm.get_quantization_recipe()


@register("tflite")
class TfliteExporter(Exporter):
    """``.tflite`` via litert-torch; runs here with the ai-edge-litert interpreter (XNNPACK)."""

    extension = ".tflite"
    precisions = ("fp32", "fp16", "int8", "int8-dynamic")
    runtime = "litert"
    extra = "tflite"
    modules = ("litert_torch", "ai_edge_litert", "ai_edge_quantizer")
    converter_dist = "litert-torch"
    libraries = ("litert-torch", "ai-edge-litert", "ai-edge-quantizer")
    cost = 6.0
    Options = TfliteOptions
    alternatives = ALTERNATIVES

    def validate(self, options: TfliteOptions) -> None:
        """ConfigError for an unknown static int8 method."""
        if options.int8_method not in INT8_STATIC_METHODS:
            raise ConfigError(f"unknown TFLite int8 method {options.int8_method!r}",
                              hint=f"one of {', '.join(INT8_STATIC_METHODS)}")
        if options.activation_observer not in ACTIVATION_OBSERVERS:
            raise ConfigError(f"unknown TFLite activation_observer {options.activation_observer!r}",
                              hint=f"one of {', '.join(ACTIVATION_OBSERVERS)}")
        if options.hard_activations not in HARD_ACTIVATIONS:
            raise ConfigError(f"unknown TFLite hard_activations {options.hard_activations!r}",
                              hint=f"one of {', '.join(HARD_ACTIVATIONS)}")

    def _float_flatbuffer(self, ctx: ExportContext) -> bytes:
        """The fp32 flatbuffer of ``ctx.module``: converted once per transform, shared by the fp32,
        fp16 and int8 variants (which start from it)."""

        def make() -> bytes:
            import litert_torch

            litert_torch.config.show_progress = False  # its rich progress lines would flood the CLI
            try:
                model = litert_torch.convert(_named_module(ctx.module), sample_kwargs={INPUT_NAME: ctx.example})
                return bytes(model.model_content())
            except Exception as exc:  # lowering raises many unrelated types; all mean "cannot convert"
                raise converter_error("tflite", exc, ALTERNATIVES) from exc

        return ctx.memo("tflite.fp32", make)

    def _pt2e_int8(self, ctx: ExportContext, options: TfliteOptions) -> tuple[bytes, int, int]:
        """The PT2E int8 flatbuffer, how many hard activations were rewritten and how many convs
        bias-corrected first."""
        import litert_torch
        import torch
        from litert_torch.quantize import pt2e_quantizer as pq
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e import quantize_pt2e

        litert_torch.config.show_progress = False
        quantizer = _pt2e_quantizer(options).set_global(_pt2e_config(options.activation_observer))
        rewritten = corrected = 0
        try:
            program, module = ctx.exported_program(), ctx.module
            if options.bias_correction:  # PT2E's weight observer floors the scale at eps = 2**-12
                module, corrected = bias_corrected(module, ctx.calibration, min_scale=2.0 ** -12)
            if options.hard_activations == "relu6":
                module, rewritten = relu6_activations(module)
            if rewritten or corrected:
                program = torch.export.export(module, (ctx.example,), strict=False)
            prepared = quantize_pt2e.prepare_pt2e(program.module(), quantizer)
            observe_chained_adds(prepared)
            for x in ctx.calibration:
                prepared(x)
            converted = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
            model = litert_torch.convert(_named_module(converted), sample_kwargs={INPUT_NAME: ctx.example},
                                         quant_config=QuantConfig(pt2e_quantizer=quantizer))
            return bytes(model.model_content()), rewritten, corrected
        except Exception as exc:  # PT2E prepare / lowering raise many unrelated types
            raise converter_error("tflite (PT2E int8)", exc, ALTERNATIVES) from exc

    def convert(self, ctx: ExportContext, spec: ExportSpec, dest: Path, options: TfliteOptions) -> ConvertResult:
        """Write ``dest`` in the variant's precision; io specs carry int8 scale / zero point."""
        from ai_edge_quantizer import recipe

        precision = ctx.precision
        quant: dict[str, Any] = {"mode": precision}
        converter = None
        if precision == "int8" and not ctx.calibration:
            raise ExportError("static int8 needs calibration inputs and none were given",
                              hint="pass --calibration DIR or --calibration-samples N, or use --dynamic")
        if precision == "int8" and options.int8_method == "pt2e":
            data, rewritten, corrected = self._pt2e_int8(ctx, options)
            quant.update(method="litert_torch PT2EQuantizer, symmetric per-channel weights, "
                                f"{ACTIVATION_OBSERVERS[options.activation_observer]} activations",
                         activation_observer=options.activation_observer, clamp_ranges=options.clamp_ranges,
                         calibration_samples=len(ctx.calibration),
                         hard_activations=options.hard_activations, hard_activations_rewritten=rewritten,
                         bias_correction=options.bias_correction, bias_corrected_convs=corrected)
        else:
            data = self._float_flatbuffer(ctx)
            aeq = {"name": "ai-edge-quantizer", "version": dist_version("ai-edge-quantizer"),
                   "graph": {"name": "litert-torch", "version": dist_version("litert-torch")}}
            if precision == "fp16":
                data = _aeq_quantize(data, _fp16_recipe())
                quant.update(method="ai-edge-quantizer float_casting: fp16 weights, fp32 compute")
                converter = aeq
            elif precision == "int8-dynamic":
                data = _aeq_quantize(data, recipe.dynamic_wi8_afp32())
                quant.update(method="ai-edge-quantizer dynamic_wi8_afp32: int8 per-channel weights, "
                                    "activations quantized at run time")
                converter = aeq
            elif precision == "int8":
                data = _aeq_quantize(data, recipe.static_wi8_ai8(), ctx.calibration)
                quant.update(method="ai-edge-quantizer static_wi8_ai8: int8 per-channel weights, "
                                    "int8 activations (min/max over all calibration samples)",
                             calibration_samples=len(ctx.calibration))
                converter = aeq
        interface_ops = 0  # the QUANTIZE / DEQUANTIZE at the float32 interface (not float islands)
        if precision == "int8":
            if options.int8_io:
                data, _ = int8_interface(data)
            else:
                data, interface_ops = float_interface(data)
            quant.update(io="int8" if options.int8_io else "float32")
        Path(dest).write_bytes(data)
        it = interpreter(dest)
        inputs, outputs = io_specs(it)
        notes = []
        if precision == "int8" and options.int8_io:
            # feed round(x / scale) + zero_point, read (q - zero_point) * scale
            quant.update(input_scale=inputs[0]["scale"], input_zero_point=inputs[0]["zero_point"],
                         output_scale=outputs[0]["scale"], output_zero_point=outputs[0]["zero_point"])
        ops = op_counts(it)
        islands = ops.get("QUANTIZE", 0) + ops.get("DEQUANTIZE", 0) - interface_ops
        if precision == "int8" and islands:
            notes.append(f"{islands} QUANTIZE/DEQUANTIZE ops: some ops (e.g. residual adds) run in float "
                         "between them")
        return ConvertResult(inputs=inputs, outputs=outputs, quantization=quant, notes=notes,
                             converter=converter, details={"ops": ops})

    def check(self, path: Path) -> list[str]:
        """Problems found by loading the flatbuffer: unloadable, or not exactly one input."""
        try:
            it = interpreter(path)
        except ExportError as exc:
            return [exc.message]
        problems = []
        if len(it.get_input_details()) != 1:
            problems.append(f"expected one input, found {len(it.get_input_details())}")
        if not it.get_output_details():
            problems.append("the model has no outputs")
        return problems

    def file_param_counts(self, path: Path) -> tuple[int | None, int | None]:
        """Elements and non-zero elements of the constant tensors (tensors backed by a data buffer,
        each buffer counted once, scalars not counted; a sparse tensor counts its dense shape, and
        its stored values as non-zero candidates) in every subgraph of the flatbuffer, read
        with LiteRT's own schema module. (None, None) when LiteRT is missing or the file unreadable."""
        try:
            from ai_edge_litert import schema_py_generated as schema
        except ImportError:
            return None, None
        import numpy as np

        try:
            data = Path(path).read_bytes()
            model = schema.Model.GetRootAs(data, 0)
            seen: set[int] = set()
            total = nonzero = 0
            for s in range(model.SubgraphsLength()):
                graph = model.Subgraphs(s)
                for t in range(graph.TensorsLength()):
                    tensor = graph.Tensors(t)
                    index = tensor.Buffer()
                    if index in seen or index >= model.BuffersLength() or tensor.ShapeLength() == 0:
                        continue
                    raw = _buffer_bytes(model.Buffers(index), data)
                    if raw is None:
                        continue
                    seen.add(index)
                    count = int(np.prod(tensor.ShapeAsNumpy()))
                    total += count
                    dtype = _NUMPY_TYPES.get(tensor.Type())
                    if dtype is not None and tensor.Sparsity() is not None:  # only the stored values
                        nonzero += int(np.count_nonzero(np.frombuffer(raw, dtype=dtype)[: count]))
                    elif dtype is not None and len(raw) == count * np.dtype(dtype).itemsize:
                        nonzero += int(np.count_nonzero(np.frombuffer(raw, dtype=dtype)))
                    else:  # packed / unusual element types: counted, not inspected
                        nonzero += count
        except (OSError, ValueError, IndexError, TypeError, AttributeError, struct.error):
            return None, None  # a damaged flatbuffer: the run itself says why it cannot load
        return total, nonzero


# TFLite TensorType → numpy dtype (schema.fbs enum values)
_NUMPY_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16",
                9: "int8", 10: "float64", 12: "uint64", 15: "uint32", 16: "uint16"}


def _buffer_bytes(buffer: Any, data: bytes) -> bytes | None:
    """The bytes of a constant buffer: inline data, or (models over 2 GB) an offset into the file."""
    if buffer.DataLength() > 0:
        return buffer.DataAsNumpy().tobytes()
    offset, size = buffer.Offset(), buffer.Size()
    if offset > 1 and size > 0:
        return data[offset:offset + size]
    return None
