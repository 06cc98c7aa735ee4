"""ExecuTorch exporter: ``torch.export`` → ``to_edge_transform_and_lower`` → ``.pte``.

- fp32: the shared ``torch.export`` graph, lowered with the XNNPACK partitioner (``partitioner =
  "xnnpack"``, the default) or left whole on ExecuTorch's portable CPU kernels (``"none"``).
- int8 (static): PT2E with ExecuTorch's XNNPACK quantizer (symmetric, per-channel int8 weights,
  int8 activations), calibrated on the calibration inputs, re-exported and lowered the same way.
  Input and output stay float32: the quantize / dequantize steps are inside the program. With
  ``partitioner = "none"`` the quantized graph runs as quantize → dequantize → float kernels
  (int8 storage, float arithmetic).

The manifest's ``details`` record the partitioner and how many graph nodes went to the delegate
vs stayed on the portable kernels (``executorch.devtools.backend_debug.get_delegation_info``).
The artifact runs through the runner's ``executorch`` runtime (``executorch.runtime``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebench.errors import ConfigError, ExportError
from edgebench.exporters.base import INPUT_NAME, OUTPUT_NAME, ConvertResult, Exporter, io_entry, register
from edgebench.exporters.context import ExportContext
from edgebench.exporters.converter_errors import converter_error
from edgebench.spec import ExportSpec

ALTERNATIVES = "try --partitioner none (portable kernels), or --format tflite / onnx"
PARTITIONERS = ("xnnpack", "none")
# a delegate's outputs come back as a tuple; getitem nodes only unpack it (no kernel runs)
_NOT_KERNELS = ("getitem",)


@dataclass(frozen=True)
class ExecuTorchOptions:
    """ExecuTorch export options."""

    partitioner: str = field(default="xnnpack", metadata={
        "help": "ExecuTorch: 'xnnpack' lowers what XNNPACK supports to its delegate; "
                "'none' keeps every op on the portable CPU kernels."})


def _int8_program(ctx: ExportContext) -> Any:
    """The calibrated PT2E int8 graph of ``ctx.module``, exported again for lowering."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(ctx.exported_program().module(), quantizer)
    with torch.no_grad():
        for x in ctx.calibration:
            prepared(x)
    converted = convert_pt2e(prepared)
    return torch.export.export(converted, (ctx.example,), strict=False)


def _delegation(edge: Any) -> dict[str, Any]:
    """Delegated vs portable node counts of a lowered edge program, and the portable ops by type."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(edge.exported_program().graph_module)
    portable = {op: b.non_delegated for op, b in sorted(info.delegation_by_operator.items())
                if b.non_delegated and op not in _NOT_KERNELS}
    return {"delegated_nodes": int(info.num_delegated_nodes), "portable_nodes": sum(portable.values()),
            "delegated_subgraphs": int(info.num_delegated_subgraphs), "portable_ops": portable}


def _io(edge: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Manifest entries for the lowered program's user inputs and outputs (shapes and dtypes from
    the graph's tensor metadata)."""
    import torch

    ep = edge.exported_program()
    user_inputs = set(ep.graph_signature.user_inputs)
    placeholders = [n for n in ep.graph.nodes if n.op == "placeholder" and n.name in user_inputs]
    output = next(n for n in ep.graph.nodes if n.op == "output")
    results = list(output.args[0])

    def entries(nodes: list[Any], base: str) -> list[dict[str, Any]]:
        vals = [n.meta["val"] for n in nodes]
        names = [base] if len(vals) == 1 else [f"{base}_{i}" for i in range(len(vals))]
        return [io_entry(name, v.shape, str(v.dtype).removeprefix("torch."))
                for name, v in zip(names, vals) if isinstance(v, torch.Tensor)]

    return entries(placeholders, INPUT_NAME), entries(results, OUTPUT_NAME)


@register("executorch")
class ExecuTorchExporter(Exporter):
    """``.pte`` programs for ExecuTorch, lowered to XNNPACK by default; run with ``executorch.runtime``."""

    extension = ".pte"
    precisions = ("fp32", "int8")
    runtime = "executorch"
    extra = "executorch"
    modules = ("executorch",)
    converter_dist = "executorch"
    libraries = ("executorch",)
    cost = 3.0
    Options = ExecuTorchOptions
    alternatives = ALTERNATIVES

    def validate(self, options: ExecuTorchOptions) -> None:
        """ConfigError for a partitioner other than ``xnnpack`` / ``none``."""
        if options.partitioner not in PARTITIONERS:
            raise ConfigError(f"unknown ExecuTorch partitioner {options.partitioner!r}",
                              hint=f"one of {', '.join(PARTITIONERS)}")

    def convert(self, ctx: ExportContext, spec: ExportSpec, dest: Path,
                options: ExecuTorchOptions) -> ConvertResult:
        """Lower the module with ``options.partitioner`` and write the ``.pte`` at ``dest``."""
        precision = ctx.precision
        if precision == "int8" and not ctx.calibration:
            raise ExportError("static int8 needs calibration inputs and none were given",
                              hint="pass --calibration DIR or --calibration-samples N")
        quant: dict[str, Any] = {}
        notes: list[str] = []
        try:
            import executorch.kernels.quantized  # noqa: F401 - out variants of the quantize ops (portable path)
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
            from executorch.exir import to_edge_transform_and_lower

            program = _int8_program(ctx) if precision == "int8" else ctx.exported_program()
            partitioners = [XnnpackPartitioner()] if options.partitioner == "xnnpack" else []
            edge = to_edge_transform_and_lower(program, partitioner=partitioners)
            delegation = _delegation(edge)
            inputs, outputs = _io(edge)
            Path(dest).write_bytes(edge.to_executorch().buffer)
        except ExportError:
            raise
        except Exception as exc:  # export / quantize / lowering raise many unrelated types
            raise converter_error("executorch" + (" (PT2E int8)" if precision == "int8" else ""),
                                  exc, ALTERNATIVES) from exc
        if precision == "int8":
            quant = {"mode": "static", "method": "PT2E XNNPACKQuantizer: symmetric per-channel int8 weights, "
                                                 "int8 activations; float32 input and output",
                     "per_channel": True, "calibration_samples": len(ctx.calibration)}
            if options.partitioner == "none":
                notes.append("int8 without a delegate runs as quantize/dequantize around float portable "
                             "kernels: int8 weights, float arithmetic")
        if options.partitioner == "xnnpack" and not delegation["delegated_nodes"]:
            notes.append("XNNPACK took no node: the whole program runs on the portable kernels")
        return ConvertResult(inputs=inputs, outputs=outputs, quantization=quant, notes=notes,
                             details={"partitioner": options.partitioner, **delegation})
