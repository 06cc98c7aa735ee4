"""Core ML exporter: coremltools ``mlprogram`` packages (``.mlpackage`` directories).

- fp32 / fp16: compute precision FLOAT32 / FLOAT16, inputs and outputs float32.
- int8-dynamic: int8 weights (``coremltools.optimize.coreml.linear_quantize_weights``, symmetric,
  per-channel) over the fp16 program; activations stay fp16 (Core ML dequantises weights on load).
- int8 (static, int8 activations) is unsupported here: coremltools calibrates activations by
  running the model, which only macOS can do.

The program comes from the shared trace (coremltools' mature TorchScript frontend); if that
frontend rejects the graph, the shared ``torch.export`` program is tried. Off macOS nothing can
run a Core ML model: artifacts are marked ``runnable_here: false`` and checked structurally
(the spec is loaded, inputs / outputs / operations / weight blobs inspected, nothing predicted).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from edgebench.exporters.base import INPUT_NAME, OUTPUT_NAME, ConvertResult, Exporter, io_entry, quiet, register
from edgebench.exporters.context import ExportContext
from edgebench.exporters.converter_errors import converter_error
from edgebench.spec import ExportSpec, Variant

ALTERNATIVES = "try --format onnx or --format tflite"
MINIMUM_TARGET = "iOS16"  # the first target with constexpr (compressed int8) weights
JIT_FRONTEND = "torch.jit trace"  # coremltools' mature frontend, tried first

def _import_ct() -> Any:
    # coremltools logs complaints about untested torch / scikit-learn versions on import
    import logging

    with quiet():
        logging.getLogger("coremltools").setLevel(logging.ERROR)
        import coremltools as ct
    return ct


def _convert(ctx: ExportContext, fp16: bool) -> Any:
    import numpy as np

    ct = _import_ct()
    precision = ct.precision.FLOAT16 if fp16 else ct.precision.FLOAT32
    # float32 I/O at every precision, so a caller feeds and reads the same tensors as for fp32
    kwargs = dict(convert_to="mlprogram", compute_precision=precision,
                  inputs=[ct.TensorType(name=INPUT_NAME, shape=tuple(ctx.example.shape), dtype=np.float32)],
                  outputs=[ct.TensorType(name=OUTPUT_NAME, dtype=np.float32)],
                  minimum_deployment_target=getattr(ct.target, MINIMUM_TARGET))
    try:
        with quiet():
            return ct.convert(ctx.traced(), source="pytorch", **kwargs), JIT_FRONTEND
    except Exception as first:  # the TorchScript frontend rejected something: try torch.export
        try:
            program = ctx.exported_program().run_decompositions({})
            with quiet():
                return ct.convert(program, source="pytorch", **kwargs), "torch.export"
        except Exception:  # report the first frontend's reason: it names the operator
            raise converter_error("coreml", first, ALTERNATIVES) from first


def _program_facts(spec: Any) -> dict[str, Any]:
    """Operation counts and stored weight elements of an mlprogram spec."""
    ops: Counter[str] = Counter()
    weights = 0
    for fn in spec.mlProgram.functions.values():
        for block in fn.block_specializations.values():
            for op in block.operations:
                ops[op.type] += 1
                value = op.attributes.get("val")
                if value is not None and value.WhichOneof("value") == "blobFileValue":
                    n = 1
                    for dim in op.outputs[0].type.tensorType.dimensions:
                        n *= dim.constant.size
                    weights += n
    return {"ops": dict(sorted(ops.items())), "stored_weight_elements": weights}


@register("coreml")
class CoreMLExporter(Exporter):
    """Core ML mlprogram via coremltools; structurally checked where it cannot run."""

    extension = ".mlpackage"
    suffixes = (".mlpackage", ".mlmodel")
    precisions = ("fp32", "fp16", "int8-dynamic")
    runtime = "coreml"
    extra = "coreml"
    modules = ("coremltools",)
    converter_dist = "coremltools"
    libraries = ("coremltools",)
    cost = 2.0
    alternatives = ALTERNATIVES

    def supports(self, variant: Variant) -> str | None:
        """Static int8 needs activation calibration, which coremltools can only do on macOS."""
        if variant.precision == "int8" and variant.int8_mode == "static" and not self.runnable_here:
            return ("coreml int8 with int8 activations needs calibration by running the model, "
                    "which only macOS can do; use --int8 --dynamic (int8 weights)")
        return super().supports(variant)

    def convert(self, ctx: ExportContext, spec: ExportSpec, dest: Path, options: None) -> ConvertResult:
        """Convert to an mlprogram of ``ctx``'s precision and save the ``.mlpackage`` at ``dest``."""
        precision = ctx.precision
        key = ("coreml", "fp32" if precision == "fp32" else "fp16")
        model, frontend = ctx.memo(key, lambda: _convert(ctx, fp16=precision != "fp32"))
        quant: dict[str, Any] = {}
        notes: list[str] = []
        try:
            if precision == "int8-dynamic":
                import coremltools.optimize.coreml as cto

                config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(
                    mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=0))
                with quiet():
                    model = cto.linear_quantize_weights(model, config)
                quant = {"mode": "weights-only", "weight_type": "int8", "per_channel": True,
                         "symmetric": True, "compute_precision": "fp16"}
            with quiet():
                model.save(str(dest))
        except Exception as exc:  # coremltools raises generic types from its MIL passes
            raise converter_error("coreml", exc, ALTERNATIVES) from exc
        if frontend != JIT_FRONTEND:
            notes.append(f"converted from the {frontend} program (the {JIT_FRONTEND} frontend rejected the graph)")
        ct = _import_ct()
        with quiet():
            mlspec = ct.utils.load_spec(str(dest))
        inputs, outputs = self._io(mlspec)
        return ConvertResult(inputs=inputs, outputs=outputs, quantization=quant, notes=notes,
                             details={"frontend": frontend, "compute_precision": key[1],
                                      "minimum_deployment_target": MINIMUM_TARGET, **_program_facts(mlspec)})

    @staticmethod
    def _io(mlspec: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        names = {65568: "float32", 65552: "float16", 131104: "int32", 65600: "float64"}

        def entries(features: Any) -> list[dict[str, Any]]:
            out = []
            for f in features:
                arr = f.type.multiArrayType
                out.append(io_entry(f.name, list(arr.shape), names.get(arr.dataType, str(arr.dataType))))
            return out

        return entries(mlspec.description.input), entries(mlspec.description.output)

    def check(self, path: Path) -> list[str]:
        """Load the package's spec (no prediction) and report what is structurally wrong."""
        ct = _import_ct()
        path = Path(path)
        try:
            with quiet():
                mlspec = ct.utils.load_spec(str(path))
        except Exception as exc:  # protobuf / package errors: the package is broken
            return [f"spec cannot be loaded: {exc}".split("\n")[0]]
        problems = []
        if mlspec.WhichOneof("Type") != "mlProgram":
            problems.append(f"model type is {mlspec.WhichOneof('Type')}, not mlProgram")
        inputs, outputs = self._io(mlspec)
        if [i["name"] for i in inputs] != [INPUT_NAME] or not inputs[0]["shape"]:
            problems.append(f"inputs are {inputs}, expected one shaped {INPUT_NAME!r}")
        if not outputs:
            problems.append("the model has no outputs")
        facts = _program_facts(mlspec) if not problems else {"ops": {}, "stored_weight_elements": 0}
        if not problems and sum(facts["ops"].values()) == 0:
            problems.append("the program has no operations")
        weight_files = list(path.rglob("weight.bin"))
        if facts["stored_weight_elements"] and not any(f.stat().st_size > 0 for f in weight_files):
            problems.append("operations reference stored weights but the package has no weight blob")
        return problems
