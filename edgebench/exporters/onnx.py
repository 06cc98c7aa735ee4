"""ONNX exporter: ``torch.onnx.export(dynamo=True)`` into one self-contained file.

- fp32: the shared ``torch.export`` program translated at the requested opset (default 18);
  weights inlined (no external-data side file). ``ort_optimize`` saves onnxruntime's basic-level
  optimised graph instead (constant folding, redundant-node removal: still portable ONNX).
- fp16: onnxconverter-common ``convert_float_to_float16`` with float32 inputs/outputs kept, so
  callers feed the same tensors.
- int8-dynamic: onnxruntime ``quantize_dynamic`` (int8 weights, activations quantised at run time).
- int8 (static): onnxruntime ``quantize_static`` after ``quant_pre_process``, QDQ format,
  per-channel int8 weights, uint8 activations (U8S8; ``int8_activations="int8"`` gives S8S8)
  calibrated on the calibration inputs (percentile ranges by default, ``calibrate_method``).
  hardswish / hardsigmoid are first rewritten as relu6 forms (``hard_activations``,
  :mod:`edgebench.exporters.quant_prep`) so ORT's QDQ fusion sees Add / Mul / Clip instead
  of float HardSigmoid between DequantizeLinear / QuantizeLinear.
  Measured on an AVX512-VNNI EPYC with onnxruntime 1.32, 1 thread (benchmarks/variant_speed.py
  --int8): S8S8 leaves depthwise convs in float and runs ~2.5x slower than U8S8, so U8S8 stays
  the default. ``int8_rewrites`` (default on) then pools with GlobalAveragePool instead of
  ReduceMean (quantized, where ReduceMean ran in float between DequantizeLinear / QuantizeLinear)
  and folds every Mul by a constant (the relu6 forms' 1/6) into the DequantizeLinear scale:
  MobileNetV3-Small int8 went from 0.89x to 1.04x fp32 (benchmarks/variant_speed.py --int8,
  30 rounds, thread CPU time) at the same SQNR.
  Per-node profile then (ORT profiler, median of 300 runs, 1 thread, same CPU): the 1x1 convs
  ran 2-3.5x faster in int8, but the whole graph lost on three things: the 3-channel stem conv
  (int8 im2col GEMM of depth 27: 232 us against fp32's direct NCHWc kernel with fused HardSwish,
  110 us), the depthwise convs whose channel count is not a multiple of 16 (72 / 88 / 120
  channels: 43 / 49 / 38 us int8 against 16 / 15 / 16 us fp32, i.e. ~13 multiply-adds per ns
  where 96 / 144 / 240 / 576 channels run at 40-50: MLAS's int8 depthwise kernel handles a channel
  remainder slowly) and the 16-channel depthwise conv at 112x112 (32 us against 13), plus the
  hardswish / squeeze-excite arithmetic fp32 fuses into its convs (27 QLinearMul + 33 QLinearAdd,
  ~0.35 ms). Two options now fix the first three: ``float_stem`` (default ``depthwise``) keeps the
  stem conv, the depthwise conv after it and their activations in float (the relu6-form hardswish
  there is put back as one HardSwish, which ORT fuses into the float conv; the float part's output
  is quantized once); ``depthwise_pad`` (default 16) gives each depthwise conv a multiple of 16
  channels with zero weights, spread to the convs that make and take those channels
  (:func:`pad_depthwise_channels`, exact in float). Measured on the same AMD EPYC (avx512_vnni,
  2 shared vCPUs), ORT 1.32 CPU EP, 1 thread, interleaved, thread CPU time:
  MobileNetV3-Small int8 1.01x → pad only 1.05-1.08x, stem conv float only 1.19-1.20x, both
  1.27x, stem + its depthwise conv float + pad (the default) 1.41-1.45x in a 15-25-round harness;
  benchmarks/variant_speed.py --int8 (15 rounds) gave the default 1.27x / 1.44x / 1.33x in three
  runs at load average 3.6 / 3.0 / 1.8, and in one --int8-variants run float_stem=conv 1.47x,
  depthwise_pad=0 1.32x, float_stem=none 1.16x, both off 1.06x (the 0.1x spread is the shared
  machine). SQNR against eager on the 72 photo crops: 14.2 dB → 14.8 dB. MobileNetV2 (real
  weights; its channels are multiples of 16, so only the float stem applies): 1.96x → 2.16x
  (stem conv float) / 2.27x (stem + depthwise), SQNR 15.6 → 16.7 dB, top-1 agreement with fp32
  unchanged at 81.9 % (benchmark: 2.18x / 2.19x). A float conv must not read a DequantizeLinear
  and feed a QuantizeLinear (through Relu / Clip only): ORT's WeightBiasQuantization then
  re-quantizes its weights per tensor and runs it as QLinearConv (seen when only later depthwise
  convs were excluded with nodes_to_exclude), which is why the float part is the stem, where the
  input is float anyway. What is left is the hardswish / SE
  arithmetic: ORT's QDQ fusions have no int8 HardSwish / HardSigmoid (its unary QLinear ops are
  AveragePool, GlobalAveragePool, LeakyRelu, Sigmoid, Softmax), so each relu6 form costs a
  QLinearAdd and a QLinearMul where fp32 fuses it into the conv.
  The XNNPACK execution provider is not in this onnxruntime wheel (get_available_providers():
  Azure, CPU), so it was not measured.
  Tried, no gain on the same CPU: QOperator format, quant_pre_process without optimisation,
  ORT_ENABLE_EXTENDED or NchwcTransformer disabled (fp32 halves, int8 unchanged), symmetric
  activations (slower), convs-only int8, QDQKeepRemovableActivations,
  ForceQuantizeNoInputCheck. ``calibrate_method`` picks onnxruntime's MinMax / Percentile / Entropy:
  with the real MobileNetV2 weights on 72 natural-photo crops, Percentile agreed with fp32 on
  81.9 % of top-1s (100 % of the 35 where fp32 is confident) against 79.2 % / 94.3 % for MinMax
  and Entropy, so it is the default. (That set shared four photos with calibration; the benchmark's
  agreement set is now held out of it: 96 crops of 4 photos, fp32 confident on 40, nearly tied on 11.)
  ``bias_correction`` (default on) first folds BatchNorm and shifts each conv's bias by the mean
  error of its int8 weight rounding on the calibration inputs
  (:func:`edgebench.exporters.quant_prep.bias_corrected`; the float-stem convs are left as they
  are). On the held-out set with the real MobileNetV2 weights, same CPU, onnxruntime 1.32
  (agreement / where fp32 p ≥ 0.5 / logit SQNR): float_stem=none 71.9 % / 90.0 % / 15.8 dB without
  it, 79.2 % / 95.0 % / 16.9 dB with it; with the default float stem 82.3 % / 95.0 % / 16.9 dB
  without, 81.2 % / 92.5 % / 17.2 dB with (the stem's depthwise conv was most of what it fixed;
  one crop either way is noise at n=96). MinMax and Entropy (no float stem): 76.0 % / 87.5 % /
  15.9 dB; S8S8: 84.4 % / 97.5 % / 17.0 dB (but slow, above).
  Keeping the final Gemm's output in float (nodes_to_exclude, or OpTypesToExcludeOutputQuantization)
  left the logit SQNR at 15.6 dB: the error comes from the whole network, not the logits' rounding.

Every precision starts from the same fp32 ONNX file of the transform, made once.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgebench.errors import ConfigError, UnsupportedError
from edgebench.exporters.base import (INPUT_NAME, OUTPUT_NAME, ConvertResult, Exporter, dist_version,
                                      io_entry, quiet, register)
from edgebench.exporters.context import ExportContext
from edgebench.exporters.converter_errors import converter_error, rejected_operator
from edgebench.exporters.quant_prep import bias_corrected, relu6_activations
from edgebench.spec import ExportSpec

ALTERNATIVES = "try another --opset (e.g. 17 or 20) or --format torchscript / tflite"
MIN_OPSET = 13  # per-channel QDQ quantisation needs opset 13
DEFAULT_OPSET = 18

# onnxruntime.quantization.CalibrationMethod member per calibrate_method option
CALIBRATE_METHODS = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}

# float_stem option → keep the depthwise conv after the stem conv in float too
FLOAT_STEMS = {"depthwise": True, "conv": False, "none": None}

_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 10: "float16", 11: "float64"}


@dataclass(frozen=True)
class OnnxOptions:
    """ONNX export options: the opset to write and whether to save onnxruntime's optimised graph."""

    opset: int = field(default=DEFAULT_OPSET, metadata={"help": f"ONNX opset ({MIN_OPSET} … the newest the "
                                                                f"installed onnx knows; default {DEFAULT_OPSET})."})
    ort_optimize: bool = field(default=False, metadata={"help": "ONNX fp32: save onnxruntime's optimised graph."})
    int8_activations: str = field(default="uint8", metadata={
        "help": "ONNX static int8 activation type: uint8 (U8S8, default) or int8 (S8S8)."})
    reduce_range: bool = field(default=False, metadata={
        "help": "ONNX static int8: 7-bit weights (onnxruntime reduce_range, for CPUs without VNNI)."})
    hard_activations: str = field(default="relu6", metadata={
        "help": "ONNX int8: relu6 (rewrite hardswish / hardsigmoid before export) or native."})
    int8_rewrites: bool = field(default=True, metadata={
        "help": "ONNX static int8: pool with GlobalAveragePool (quantized) instead of ReduceMean, and fold "
                "Mul-by-constant (the relu6 forms' 1/6) into the DequantizeLinear scale."})
    float_stem: str = field(default="depthwise", metadata={
        "help": "ONNX static int8: keep the stem in float: depthwise (default: the conv reading the image and the "
                "depthwise conv after it, with their activations), conv (the first conv only) or none."})
    depthwise_pad: int = field(default=16, metadata={
        "help": "ONNX static int8: give depthwise convs a multiple of this many channels (zero weights; "
                "onnxruntime's int8 depthwise kernel is ~3x slower on a remainder); 0 = off."})
    bias_correction: bool = field(default=True, metadata={
        "help": "ONNX static int8: fold BatchNorm into the convs and shift each conv's bias by the mean error of its "
                "int8 weight rounding on the calibration inputs (empirical bias correction)."})
    calibrate_method: str = field(default="percentile", metadata={
        "help": "ONNX static int8 activation ranges: percentile (default; onnxruntime's 99.999th percentile), "
                "minmax or entropy (onnxruntime CalibrationMethod)."})


def export_fp32(ctx: ExportContext, opset: int) -> bytes:
    """The transformed module as serialized fp32 ONNX (one file, weights inlined) at exactly
    ``opset`` (see :func:`at_opset`)."""
    import torch

    program = ctx.exported_program()
    try:
        with quiet():
            onnx_program = torch.onnx.export(program, (ctx.example,), None, dynamo=True, opset_version=opset,
                                             input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                             external_data=False, optimize=True, verbose=False)
    except Exception as exc:  # the dynamo exporter raises its own and torch's error types
        raise converter_error("onnx", exc, ALTERNATIVES) from exc
    return at_opset(onnx_program.model_proto, opset).SerializeToString()


def file_opset(model: Any) -> int | None:
    """The default-domain (``ai.onnx``) opset a model proto imports; None if it imports none."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


_BLOCKING_OP = (
    r"No Adapter (?:From|To) Version \$?\d+ for (\w+)",  # onnx's C API version converter
    r"OpType: (\w+)",                                      # onnx.checker on a converted node
    r"for operator (\w+)",
)


def blocking_operator(text: str) -> str | None:
    """The operator a version converter or the checker names in ``text``, if any."""
    for pattern in _BLOCKING_OP:
        m = re.search(pattern, text)
        if m:
            return m.group(1)
    return rejected_operator(text)


def at_opset(model: Any, opset: int) -> Any:
    """``model`` at exactly ``opset``. torch.onnx writes some graphs at a higher opset than asked
    (it keeps 18 when its own down-conversion fails); then onnxscript's version converter (which
    falls back to onnx's) converts it, and the result must pass ``onnx.checker``. UnsupportedError
    naming the operator that blocks the conversion otherwise: never a file at another opset."""
    import onnx
    import onnx_ir as ir
    from onnxscript import version_converter

    written = file_opset(model)
    if written == opset:
        return model
    converted = ir.from_proto(model)
    problem = ""
    with quiet():
        try:
            version_converter.convert_version(converted, opset, fallback=True)
        except Exception as exc:  # noqa: BLE001 - converter passes raise many types; the reason is reported
            problem = str(exc)
    out = ir.to_proto(converted)
    if not problem and file_opset(out) == opset:
        try:
            onnx.checker.check_model(out, full_check=True)
            return out
        except onnx.checker.ValidationError as exc:
            problem = str(exc)
    if not problem:  # onnxscript left the model as it was: ask onnx's converter why
        try:
            with quiet():
                onnx.version_converter.convert_version(model, opset)
        except (RuntimeError, ValueError) as exc:
            problem = str(exc)
    op = blocking_operator(problem)
    where = f"operator {op!r} cannot be converted" if op else (problem.splitlines()[0][:200] if problem else
                                                               "the version converter left it unchanged")
    raise UnsupportedError(f"onnx cannot write opset {opset} for this model: torch.onnx wrote opset {written} "
                           f"and converting it down fails ({where})",
                           hint=f"use --opset {written} or higher, or another --format")


def fold_scalar_muls(model: Any) -> int:
    """In a QDQ model, drop every ``Mul`` by a positive scalar constant c that sits between
    DequantizeLinear(q, s, zp) and QuantizeLinear → DequantizeLinear: its consumers read
    DequantizeLinear(q, s·c, zp) instead: the same real values up to the rounding of the dropped
    requantisation, one QLinearMul fewer per fold (the relu6 forms' ·1/6: 28 of MobileNetV3-Small's
    56 Muls). Returns how many were folded."""
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    outputs = {o.name for o in g.output}

    def const_value(name):
        dq = producer.get(name)
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in inits:
            return None
        q = numpy_helper.to_array(inits[dq.input[0]]).astype(np.float64)
        if q.size != 1:
            return None
        s = numpy_helper.to_array(inits[dq.input[1]]).astype(np.float64)
        zp = numpy_helper.to_array(inits[dq.input[2]]).astype(np.float64) if len(dq.input) > 2 and dq.input[2] else 0.0
        return float(((q - zp) * s).ravel()[0])

    remove, add, folded = set(), [], 0
    for mul in list(g.node):
        if mul.op_type != "Mul" or len(mul.input) != 2:
            continue
        for k in (0, 1):
            c = const_value(mul.input[1 - k])
            dq_a = producer.get(mul.input[k])
            if c is None or c <= 0 or dq_a is None or dq_a.op_type != "DequantizeLinear":
                continue
            users = consumers.get(mul.output[0], [])
            if len(users) != 1 or users[0].op_type != "QuantizeLinear" or mul.output[0] in outputs:
                continue
            q_b = users[0]
            dq_bs = consumers.get(q_b.output[0], [])
            if not dq_bs or any(d.op_type != "DequantizeLinear" for d in dq_bs):
                continue
            if any(d.output[0] in outputs for d in dq_bs) or q_b.output[0] in outputs:
                continue
            s_a = numpy_helper.to_array(inits[dq_a.input[1]])
            scale_name = f"{dq_a.input[1]}_x{folded}"
            g.initializer.append(numpy_helper.from_array((s_a * np.float32(c)).astype(s_a.dtype), scale_name))
            new_out = f"{mul.output[0]}_folded"
            add.append(helper.make_node("DequantizeLinear", [dq_a.input[0], scale_name, *dq_a.input[2:]], [new_out],
                                        name=f"{mul.name}_folded_dq"))
            for d in dq_bs:
                for user in consumers.get(d.output[0], []):
                    for j, i in enumerate(user.input):
                        if i == d.output[0]:
                            user.input[j] = new_out
                remove.add(id(d))
            remove.update({id(mul), id(q_b)})
            folded += 1
            break
    if not folded:
        return 0
    keep = [n for n in g.node if id(n) not in remove] + add
    # drop DequantizeLinear nodes (e.g. the 1/6 constant's) whose outputs no longer feed anything
    while True:
        used = {i for n in keep for i in n.input} | outputs
        dead = [n for n in keep if n.op_type == "DequantizeLinear" and not any(o in used for o in n.output)]
        if not dead:
            break
        keep = [n for n in keep if n not in dead]
    # topological order: the new DQ nodes read a tensor produced earlier; sort by dependencies
    produced = {i.name for i in g.input} | {i.name for i in g.initializer}
    ordered, pending = [], keep
    while pending:
        ready = [n for n in pending if all((not i) or i in produced for i in n.input)]
        if not ready:
            raise ValueError("fold_scalar_muls: graph has a cycle")
        for n in ready:
            produced.update(n.output)
        ordered += ready
        pending = [n for n in pending if n not in ready]
    del g.node[:]
    g.node.extend(ordered)
    used = {i for n in ordered for i in n.input}
    unused = [i for i in g.initializer if i.name not in used]
    for i in unused:
        g.initializer.remove(i)
    return folded


def global_pools(model: Any) -> int:
    """Rewrite ``ReduceMean`` over the two spatial axes of a 4-D tensor (keepdims) as
    ``GlobalAveragePool`` (same values), which onnxruntime quantizes; returns how many."""
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    n = 0
    for i, node in enumerate(list(g.node)):
        if node.op_type != "ReduceMean":
            continue
        keep = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
        axes = next((list(a.ints) for a in node.attribute if a.name == "axes"), None)
        if axes is None and len(node.input) > 1 and node.input[1] in inits:
            axes = numpy_helper.to_array(inits[node.input[1]]).tolist()
        if keep != 1 or axes is None or sorted(a % 4 for a in axes) != [2, 3]:
            continue
        g.node[i].CopyFrom(helper.make_node("GlobalAveragePool", [node.input[0]], list(node.output), name=node.name))
        n += 1
    return n


# ops that keep the channel axis (axis 1) of an NCHW tensor as it is: what may sit between an
# expand conv, a depthwise conv and a project conv (activations, relu6 forms, squeeze-excite)
_CHANNEL_PRESERVING = {"Relu", "Clip", "HardSwish", "HardSigmoid", "Sigmoid", "LeakyRelu", "GlobalAveragePool",
                       "Add", "Mul", "Sub", "Div"}


def pad_depthwise_channels(model: Any, multiple: int = 16, skip: Any = ()) -> int:
    """Give every depthwise ``Conv`` of C channels (C not a multiple of ``multiple``) C' = C
    rounded up channels, with zero weights and biases, so onnxruntime's int8 depthwise kernel runs
    its full-width channel loop (measured: 72 / 88 / 120-channel depthwise QLinearConvs ran ~3x
    slower per multiply-add than 96 / 144 / 240-channel ones). The padding spreads over the
    connected tensors that carry the same C channels (activations, squeeze-excite pool / gate /
    multiply) up to the 1x1 / full convs that produce them (extra zero output channels) and those
    that consume them (extra zero input weights): the real outputs are unchanged, the padded
    channels hold 0 (0.5 after a hard-sigmoid) and are multiplied by zero weights. A depthwise
    conv whose channel group reaches anything else (a graph input or output, a residual add with
    an unpadded tensor, a reshape, a per-channel constant) is left alone. Works on a float graph
    before quantisation; shape annotations of the padded tensors are dropped (re-inferred).
    Depthwise convs named in ``skip`` (kept in float: onnxruntime pads those itself) are left alone.
    Returns how many depthwise convs were padded."""
    from onnx import numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    outputs = {o.name for o in g.output}

    def weight(conv):
        return numpy_helper.to_array(inits[conv.input[1]]) if len(conv.input) > 1 and conv.input[1] in inits else None

    def group(conv):
        return next((a.i for a in conv.attribute if a.name == "group"), 1)

    def depthwise(conv, c):
        w = weight(conv)
        return conv.op_type == "Conv" and w is not None and w.ndim == 4 and group(conv) == c == w.shape[0] \
            and w.shape[1] == 1

    def scalar(name):
        return name in inits and int(np.prod(inits[name].dims)) == 1

    def component(dw, c):
        """(member nodes, producing convs, consuming convs) of dw's C-channel tensors; None: leave it."""
        members, makers, takers, seen = {}, {}, {}, set()
        todo = [dw.input[0], dw.output[0]]
        while todo:
            t = todo.pop()
            if t in seen:
                continue
            seen.add(t)
            if t in outputs or t not in producer:
                return None
            p = producer[t]
            w = weight(p) if p.op_type == "Conv" else None
            if p.op_type == "Conv" and depthwise(p, c):
                members[id(p)] = p
                todo += [p.input[0], p.output[0]]
            elif p.op_type == "Conv" and w is not None and group(p) == 1 and w.shape[0] == c:
                makers[id(p)] = p
            elif p.op_type in _CHANNEL_PRESERVING:
                members[id(p)] = p
                todo += [i for i in p.input[:1 if p.op_type == "Clip" else None] if i and not scalar(i)]
            else:
                return None
            for u in consumers.get(t, []):
                w = weight(u) if u.op_type == "Conv" else None
                if u.op_type == "Conv" and depthwise(u, c):
                    members[id(u)] = u
                    todo.append(u.output[0])
                elif u.op_type == "Conv" and w is not None and group(u) == 1 and w.shape[1] == c and u.input[0] == t:
                    takers[id(u)] = u
                elif u.op_type in _CHANNEL_PRESERVING:
                    members[id(u)] = u
                    todo += [i for i in [*u.input[:1 if u.op_type == "Clip" else None], u.output[0]]
                             if i and not scalar(i)]
                else:
                    return None
        return list(members.values()), list(makers.values()), list(takers.values()), seen

    def set_input(node, k, array, tag):
        name = f"{node.input[k]}_pad{tag}"
        g.initializer.append(numpy_helper.from_array(array, name))
        inits[name] = g.initializer[-1]
        node.input[k] = name

    padded, touched = 0, set()
    for dw in list(g.node):
        if dw.op_type != "Conv" or id(dw) in touched:
            continue
        w = weight(dw)
        if dw.name in skip or w is None or w.ndim != 4 or not depthwise(dw, w.shape[0]) \
                or w.shape[0] % multiple == 0:
            continue
        c = w.shape[0]
        cp = -(-c // multiple) * multiple
        found = component(dw, c)
        if found is None:
            continue
        members, makers, takers, tensors = found
        if any(id(n) in touched for n in members):
            continue
        extra = cp - c

        def grow(n, axis):
            """Zero weights for the extra channels on ``axis`` (0: outputs, with zero biases; 1: inputs)."""
            wk = weight(n)
            shape = list(wk.shape)
            shape[axis] = extra
            set_input(n, 1, np.concatenate([wk, np.zeros(shape, wk.dtype)], axis=axis), cp)
            if axis == 0 and len(n.input) > 2 and n.input[2]:
                b = numpy_helper.to_array(inits[n.input[2]])
                set_input(n, 2, np.concatenate([b, np.zeros(extra, b.dtype)]), cp)

        for n in members:
            touched.add(id(n))
            if n.op_type == "Conv":  # depthwise: one zero filter per extra channel
                grow(n, 0)
                for a in n.attribute:
                    if a.name == "group":
                        a.i = cp
                padded += 1
        for n in makers:  # a conv may make one group's channels and take another's: both pad
            grow(n, 0)
        for n in takers:
            grow(n, 1)
        kept = [v for v in g.value_info if v.name not in tensors]
        del g.value_info[:]
        g.value_info.extend(kept)
    if padded:
        used = {i for n in g.node for i in n.input}
        for i in [i for i in g.initializer if i.name not in used]:
            g.initializer.remove(i)
    return padded


def _hardswish_tail(model: Any, x: str, consumers: dict, inits: dict) -> list | None:
    """The relu6-form hardswish nodes reading ``x`` (x · Clip(x + 3, 0, 6) · 1/6, as
    :func:`~edgebench.exporters.quant_prep.relu6_activations` writes it), last one last; None if
    ``x`` feeds anything else."""
    from onnx import numpy_helper

    def const(name):
        return float(numpy_helper.to_array(inits[name]).ravel()[0]) if name in inits and \
            int(np.prod(inits[name].dims)) == 1 else None

    users = consumers.get(x, [])
    add = next((u for u in users if u.op_type == "Add"), None)
    if len(users) != 2 or add is None or const(next(i for i in add.input if i != x)) != 3.0:
        return None
    chain = [add]
    for op in ("Clip", "Mul", "Mul"):
        nxt = consumers.get(chain[-1].output[0], [])
        if len(nxt) != 1 or nxt[0].op_type != op:
            return None
        chain.append(nxt[0])
    clip, sixth, last = chain[1:]
    bounds = [const(i) for i in clip.input[1:3]]
    other = next((i for i in sixth.input if i != clip.output[0]), None)
    if bounds != [0.0, 6.0] or other is None or abs((const(other) or 0) - 1 / 6) > 1e-6 or x not in last.input:
        return None
    return chain


def float_stem(model: Any, depthwise: bool = True) -> list[str]:
    """Names of the nodes to keep in float at the stem of an image model: the ``Conv`` reading the
    graph input (≤ 4 input channels, e.g. RGB) and its activation; with ``depthwise``, also the
    depthwise conv that reads that activation and its own activation. A relu6-form hardswish
    after them is rewritten into one ``HardSwish`` node (onnxruntime fuses it into the float conv).
    onnxruntime's int8 conv of a 3-channel input is an im2col GEMM of depth 27, ~2x slower than its
    fp32 direct NCHWc kernel, and its int8 depthwise kernel is slow on few channels at high
    resolution; the float part's output is quantized once, where the int8 graph starts. [] when
    the graph has no such stem."""
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    inputs = [i.name for i in g.input if i.name not in inits]
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    keep: list[str] = []
    replace: dict[int, Any] = {}
    drop: set[int] = set()

    def activation(conv) -> str | None:
        """Keep conv's activation in float; the name of its output (None: conv has no single consumer chain)."""
        y = conv.output[0]
        users = consumers.get(y, [])
        if len(users) == 1 and users[0].op_type in ("Relu", "Clip", "HardSwish"):
            keep.append(users[0].name)
            return users[0].output[0]
        chain = _hardswish_tail(model, y, consumers, inits)
        if chain is None:
            return y if len(users) >= 1 else None
        node = helper.make_node("HardSwish", [y], [chain[-1].output[0]], name=chain[-1].name + "_hardswish")
        replace[id(chain[-1])] = node
        drop.update(id(n) for n in chain[:-1])
        keep.append(node.name)
        return node.output[0]

    stems = [n for n in g.node if n.op_type == "Conv" and n.input[0] in inputs and n.input[1] in inits
             and numpy_helper.to_array(inits[n.input[1]]).shape[1] <= 4]
    if len(stems) != 1:
        return []
    stem = stems[0]
    keep.append(stem.name)
    out = activation(stem)
    if depthwise and out is not None:
        users = consumers.get(out, [])
        w = numpy_helper.to_array(inits[users[0].input[1]]) if len(users) == 1 and users[0].op_type == "Conv" \
            and users[0].input[1] in inits else None
        group = next((a.i for a in users[0].attribute if a.name == "group"), 1) if users else 1
        if w is not None and w.shape[1] == 1 and group == w.shape[0] > 1:
            keep.append(users[0].name)
            activation(users[0])
    if replace or drop:
        nodes = [replace.get(id(n), n) for n in g.node if id(n) not in drop]
        del g.node[:]
        g.node.extend(nodes)
        used = {i for n in nodes for i in n.input}
        for i in [i for i in g.initializer if i.name not in used]:
            g.initializer.remove(i)
    return keep


def _io(model: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    init = {i.name for i in model.graph.initializer}

    def entries(values: Any) -> list[dict[str, Any]]:
        out = []
        for v in values:
            if v.name in init:
                continue
            t = v.type.tensor_type
            shape = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
            out.append(io_entry(v.name, shape, _DTYPES.get(t.elem_type, str(t.elem_type))))
        return out

    return entries(model.graph.input), entries(model.graph.output)


class _Reader:
    """onnxruntime CalibrationDataReader over the context's calibration tensors."""

    def __init__(self, name: str, tensors: list[Any]):
        self._feeds = [{name: t.numpy()} for t in tensors]
        self._items = iter(self._feeds)

    def get_next(self) -> dict[str, Any] | None:
        return next(self._items, None)

    def rewind(self) -> None:  # onnxruntime calls it between calibration passes in some methods
        self._items = iter(self._feeds)


@register("onnx")
class OnnxExporter(Exporter):
    """ONNX through the dynamo exporter; fp16 via onnxconverter-common; int8 via onnxruntime."""

    extension = ".onnx"
    precisions = ("fp32", "fp16", "int8", "int8-dynamic")
    runtime = "onnxruntime"
    extra = "onnx"
    modules = ("onnx", "onnxruntime", "onnxscript", "onnxconverter_common")
    converter_dist = "torch"
    libraries = ("onnx", "onnxruntime", "onnxscript", "onnxconverter-common")
    cost = 3.0
    Options = OnnxOptions
    alternatives = ALTERNATIVES

    def validate(self, options: OnnxOptions) -> None:
        """ConfigError for an opset outside what per-channel quantisation and onnx support."""
        import importlib.util

        highest = 23
        if importlib.util.find_spec("onnx") is not None:
            import onnx.defs

            highest = onnx.defs.onnx_opset_version()
        if options.int8_activations not in ("uint8", "int8"):
            raise ConfigError(f"unknown ONNX int8_activations {options.int8_activations!r}", hint="uint8 or int8")
        if options.calibrate_method not in CALIBRATE_METHODS:
            raise ConfigError(f"unknown ONNX calibrate_method {options.calibrate_method!r}",
                              hint=", ".join(CALIBRATE_METHODS))
        if options.float_stem not in FLOAT_STEMS:
            raise ConfigError(f"unknown ONNX float_stem {options.float_stem!r}", hint=", ".join(FLOAT_STEMS))
        if options.depthwise_pad < 0 or options.depthwise_pad == 1:
            raise ConfigError(f"ONNX depthwise_pad {options.depthwise_pad} is not a channel multiple",
                              hint="0 (off) or a multiple such as 16 (the default) or 8")
        if options.hard_activations not in ("relu6", "native"):
            raise ConfigError(f"unknown ONNX hard_activations {options.hard_activations!r}", hint="relu6 or native")
        if not MIN_OPSET <= options.opset <= highest:
            raise ConfigError(f"--opset {options.opset} is outside {MIN_OPSET}..{highest}",
                              hint=f"{DEFAULT_OPSET} is the default and works for every precision")

    def convert(self, ctx: ExportContext, spec: ExportSpec, dest: Path, options: OnnxOptions) -> ConvertResult:
        """Write the ONNX file of ``ctx``'s precision at ``dest``."""
        import onnx

        opset = options.opset
        fp32 = ctx.memo(("onnx", "fp32", opset), lambda: export_fp32(ctx, opset))
        precision = ctx.precision
        notes: list[str] = []
        quant: dict[str, Any] = {}
        converter: dict[str, Any] = {"name": "torch.onnx (dynamo)", "version": dist_version("torch")}
        try:
            if precision == "fp32":
                if options.ort_optimize:
                    self._ort_optimize(fp32, dest)
                    notes.append("graph optimised by onnxruntime (basic level)")
                else:
                    dest.write_bytes(fp32)
            elif precision == "fp16":
                from onnxconverter_common.float16 import convert_float_to_float16

                with quiet():
                    model = convert_float_to_float16(onnx.load_from_string(fp32), keep_io_types=True)
                onnx.save(model, str(dest))
                converter["fp16"] = {"name": "onnxconverter-common", "version": dist_version("onnxconverter-common")}
            else:
                source, rewritten, corrected = fp32, 0, 0
                if ctx.precision == "int8":
                    source, rewritten, corrected = self._int8_fp32(ctx, opset, options)
                quant = self._quantize(ctx, source, dest, options)
                if ctx.precision == "int8":
                    quant.update(hard_activations=options.hard_activations, hard_activations_rewritten=rewritten,
                                 bias_correction=options.bias_correction, bias_corrected_convs=corrected)
                converter["quantizer"] = {"name": "onnxruntime.quantization", "version": dist_version("onnxruntime")}
        except Exception as exc:  # onnx / onnxruntime tools raise their own and generic types
            raise converter_error("onnx", exc, ALTERNATIVES) from exc
        written = onnx.load(str(dest), load_external_data=False)
        inputs, outputs = _io(written)
        # the opset actually in the file, not the one asked for
        converter["opset"] = file_opset(written)
        if converter["opset"] != opset:
            notes.append(f"the file imports opset {converter['opset']} (asked for {opset}): the "
                         f"{precision} step rewrote the graph")
        return ConvertResult(inputs=inputs, outputs=outputs, quantization=quant, notes=notes, converter=converter)

    def _ort_optimize(self, fp32: bytes, dest: Path) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(dest)
        ort.InferenceSession(fp32, opts, providers=["CPUExecutionProvider"])

    def _int8_fp32(self, ctx: ExportContext, opset: int, options: OnnxOptions) -> tuple[bytes, int, int]:
        """fp32 ONNX the static int8 model starts from: the module bias-corrected for its int8 weight
        rounding (``bias_correction``) and with relu6-form hard activations (``hard_activations``);
        the plain fp32 when neither changes it. Returns (bytes, activations rewritten, convs corrected)."""
        import torch

        module, corrected, n = ctx.module, 0, 0
        if options.bias_correction:
            # the convs float_stem keeps in float keep their float weights
            stem = {"depthwise": 2, "conv": 1}.get(options.float_stem, 0)
            module, corrected = bias_corrected(module, ctx.calibration, float_stem=stem)
        if options.hard_activations == "relu6":
            module, n = relu6_activations(module)
        if not n and not corrected:
            return ctx.memo(("onnx", "fp32", opset), lambda: export_fp32(ctx, opset)), 0, 0

        def make() -> bytes:
            twin = ExportContext(loaded=ctx.loaded, variant=ctx.variant, module=module, example=ctx.example,
                       calibration=ctx.calibration)
            with torch.no_grad():
                return export_fp32(twin, opset)

        key = ("onnx", "fp32-int8-source", opset, options.hard_activations, options.bias_correction,
               options.float_stem)
        return ctx.memo(key, make), n, corrected

    def _quantize(self, ctx: ExportContext, fp32: bytes, dest: Path, options: OnnxOptions) -> dict[str, Any]:
        import onnx
        from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_dynamic,
                                              quantize_static)
        from onnxruntime.quantization.shape_inference import quant_pre_process

        with tempfile.TemporaryDirectory(prefix="edgebench-onnx-") as tmp:
            src, pre = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx"
            src.write_bytes(fp32)
            with quiet():
                # shape inference + fusions first, as onnxruntime's quantisation guide asks
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
                if ctx.precision == "int8-dynamic":
                    quantize_dynamic(str(pre), str(dest), per_channel=True, weight_type=QuantType.QInt8,
                                     op_types_to_quantize=["MatMul", "Gemm", "Conv"])
                    return {"mode": "dynamic", "weight_type": "int8", "per_channel": True,
                            "activations": "float32, quantised at run time"}
                method = getattr(CalibrationMethod, CALIBRATE_METHODS[options.calibrate_method])
                model = onnx.load(str(pre))
                pools = global_pools(model) if options.int8_rewrites else 0
                stem = FLOAT_STEMS[options.float_stem]
                floats = float_stem(model, stem) if stem is not None else []
                padded = pad_depthwise_channels(model, options.depthwise_pad, floats) if options.depthwise_pad else 0
                onnx.save(onnx.shape_inference.infer_shapes(model) if padded else model, str(pre))
                act = QuantType.QInt8 if options.int8_activations == "int8" else QuantType.QUInt8
                quantize_static(str(pre), str(dest), _Reader(INPUT_NAME, ctx.calibration),
                                quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=options.reduce_range,
                                activation_type=act, weight_type=QuantType.QInt8,
                                calibrate_method=method, nodes_to_exclude=floats)
                if options.int8_rewrites:
                    model = onnx.load(str(dest))
                    folded = fold_scalar_muls(model)
                    onnx.save(model, str(dest))
        rewrites = {"global_average_pools": pools, "scalar_muls_folded": folded} if options.int8_rewrites else {}
        return {"mode": "static", "format": "QDQ", "weight_type": "int8", "per_channel": True,
                "activation_type": options.int8_activations, "reduce_range": options.reduce_range,
                "calibrate_method": method.name, "calibration_samples": len(ctx.calibration), **rewrites,
                "float_stem": options.float_stem, "float_nodes": floats,
                "depthwise_pad": options.depthwise_pad, "depthwise_padded": padded}

    def file_param_counts(self, path: Path) -> tuple[int | None, int | None]:
        """Elements and non-zero elements of the numeric weight tensors: graph initializers and
        tensor-valued ``Constant`` nodes (what paddle2onnx and many other exporters emit), in the
        main graph and every subgraph (If / Loop / Scan bodies). Scalars are not counted."""
        try:
            import onnx
        except ImportError:
            return None, None
        from google.protobuf.message import DecodeError

        try:
            model = onnx.load(str(path))
        except (DecodeError, OSError, ValueError, onnx.checker.ValidationError):
            return None, None  # not an ONNX file, or its external-data file is missing: the run says which
        total = nonzero = 0
        for arr in _weight_arrays(model.graph):
            total += arr.size
            nonzero += int(np.count_nonzero(arr))
        return total, nonzero


    def file_test_data(self, model: Path) -> Path | None:
        """``test_data_set_0/`` beside the model (the ONNX backend tests' and model zoo's layout)."""
        folder = Path(model).parent / TEST_DATA_SET
        return folder if folder.is_dir() and any(folder.glob("*put_*.pb")) else None

    def read_test_data(self, path: Path) -> tuple[list[tuple[str | None, Any]], list[Any]] | None:
        """``TensorProto`` files: one ``.pb`` (one input) or a folder of ``input_<k>.pb`` and
        ``output_<k>.pb`` (read with ``onnx.numpy_helper.to_array``). Each input keeps the name its
        TensorProto records (None when empty). Sequence / optional / map protos: ConfigError."""
        path = Path(path)
        if path.is_dir():
            ins, outs = _numbered(path, "input_"), _numbered(path, "output_")
            if not ins and not outs:
                return None
        elif path.suffix == ".pb":
            ins, outs = [path], []
        else:
            return None
        try:
            import onnx
            from onnx import numpy_helper
        except ImportError as exc:
            raise ConfigError(f"reading {path} needs the onnx package ({exc})", hint=self.install_hint()) from None
        from google.protobuf.message import DecodeError

        def read(pb: Path) -> tuple[str | None, Any]:
            tensor = onnx.TensorProto()
            try:
                tensor.ParseFromString(pb.read_bytes())
                if tensor.data_type == 0:
                    raise ValueError("no element type")
                return tensor.name or None, numpy_helper.to_array(tensor)
            except OSError as exc:
                raise ConfigError(f"cannot read the test tensor {pb}: {exc.strerror}", stage="input") from None
            except (DecodeError, ValueError, TypeError):
                raise ConfigError(f"{pb.parent.name}/{pb.name} is not a plain tensor (a sequence, optional or map "
                                  "value?): edgebench feeds and times tensor inputs only", stage="input",
                                  hint="--inputs takes TensorProto .pb files or a .npz with one array per input "
                                       "name") from None

        inputs = [read(p) for p in ins]
        try:
            expected = [read(p)[1] for p in outs]
        except ConfigError:  # a sequence / optional output: the inputs still feed, nothing is checked
            expected = []
        return inputs, expected


TEST_DATA_SET = "test_data_set_0"


def _numbered(folder: Path, prefix: str) -> list[Path]:
    found = []
    for p in folder.glob(prefix + "*.pb"):
        index = p.stem[len(prefix):]
        if index.isdigit():
            found.append((int(index), p))
    return [p for _, p in sorted(found)]


def _weight_arrays(graph: Any) -> Iterator[Any]:
    """Numeric arrays of ≥ 1 dimension held by ``graph`` (initializers, Constant nodes) and its subgraphs."""
    from onnx import AttributeProto, numpy_helper

    tensors = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Constant" and attr.type == AttributeProto.TENSOR:
                tensors.append(attr.t)
            elif node.op_type == "Constant" and attr.type == AttributeProto.SPARSE_TENSOR:
                tensors.append(attr.sparse_tensor.values)
            elif attr.type == AttributeProto.GRAPH:
                yield from _weight_arrays(attr.g)
            elif attr.type == AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from _weight_arrays(sub)
    for tensor in tensors:
        arr = numpy_helper.to_array(tensor)
        if arr.dtype.kind in "fiu" and arr.ndim >= 1:
            yield arr
