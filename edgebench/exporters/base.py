"""The Exporter protocol and the per-(model, variant) context every format shares.

An exporter is one file in ``edgebench/exporters/`` that registers an INSTANCE::

    @register("onnx")
    class OnnxExporter(Exporter):
        extension = ".onnx"
        precisions = ("fp32", "fp16", "int8", "int8-dynamic")
        converter_dist = "onnx"
        extra = "onnx"
        modules = ("onnx", "onnxruntime", "onnxscript")

        def convert(self, ctx, spec, dest): ...   # writes the model at ``dest`` (a temp path)
        def run(self, path, inputs): ...          # one output array per input sample

The pipeline (:mod:`edgebench.exporters.pipeline`) loads the model once, builds one
:class:`ExportContext` per variant (transform, calibration, reference outputs, one
``torch.export`` and one trace, all computed lazily and cached) and hands it to every format.
It owns temp-name-then-move, parity, manifests and result rows; an exporter only converts,
runs and checks.
"""

from __future__ import annotations

import abc
import contextlib
import io
import importlib.metadata as md
import importlib.util
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from edgebench.errors import ExportError, UnsupportedError
from edgebench.registry import Registry
from edgebench.spec import ExportSpec, Variant

# Every format names its graph's single input and output the same way, so runners and manifests agree.
INPUT_NAME = "input"
OUTPUT_NAME = "output"

registry: "Registry[Exporter]" = Registry("exporter")


def register(name: str) -> Callable[[type], type]:
    """Class decorator: instantiate the exporter class and register the instance as ``name``."""

    def deco(cls: type) -> type:
        instance = cls()
        instance.name = name
        registry.add(name, instance)
        return cls

    return deco


def precision_label(variant: Variant) -> str:
    """``fp32``, ``fp16``, ``int8`` (static, calibrated) or ``int8-dynamic`` (weights only)."""
    if variant.precision == "int8" and variant.int8_mode == "dynamic":
        return "int8-dynamic"
    return variant.precision


def io_entry(name: str, shape: Sequence[int], dtype: str, scale: float | None = None,
             zero_point: int | None = None) -> dict[str, Any]:
    """One manifest ``inputs``/``outputs`` entry: name, shape, dtype and (for int8 tensors) scale
    and zero point."""
    return {"name": name, "shape": [int(s) for s in shape], "dtype": str(dtype),
            "scale": None if scale is None else float(scale),
            "zero_point": None if zero_point is None else int(zero_point)}


def quantize_input(x: Any, scale: float, zero_point: int, dtype: str = "int8") -> Any:
    """A float array quantised the way an int8/uint8 model input expects it."""
    import numpy as np

    info = np.iinfo(np.dtype(dtype))
    q = np.round(np.asarray(x, dtype=np.float32) / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize_output(q: Any, scale: float, zero_point: int) -> Any:
    """An int8/uint8 model output back in float32."""
    import numpy as np

    return ((np.asarray(q).astype(np.float32) - zero_point) * scale).astype(np.float32)


def quiet() -> contextlib.ExitStack:
    """A context that silences a converter's progress bars, prints and warnings (the pipeline
    reports what matters: status, parity, notes)."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    return stack


def dist_version(dist: str) -> str | None:
    """Installed version of a pip distribution, None if it is not installed."""
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


@dataclass
class ConvertResult:
    """What a converter reports about the file it wrote.

    ``inputs``/``outputs`` are :func:`io_entry` dicts; ``quantization`` holds format-specific
    quantisation facts (mode, per-channel, calibration count …); ``notes`` become manifest
    warnings; ``converter`` overrides the exporter's ``{name, version}`` when a different tool did
    the work (e.g. onnxruntime.quantization).
    """

    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    quantization: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    converter: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportContext:
    """The work shared by every format for one (model, variant), computed once.

    ``module`` is the transformed eval-mode module (pruned / binarized / untouched); ``example``
    a batch-1 input; ``calibration`` the calibration batches (batch-1 tensors, only filled for
    static int8); ``parity_inputs`` the batch-1 inputs parity runs on; ``reference_outputs`` the
    transformed module's eager outputs on them and ``untransformed_outputs`` the original
    module's (None when the variant has no torch-level transform). ``transform_info`` comes from
    the variant transform; ``counts`` are the transformed module's params / MACs.
    """

    loaded: Any  # edgebench.models.LoadedModel
    variant: Variant
    module: Any
    example: Any
    calibration: list[Any] = field(default_factory=list)
    parity_inputs: list[Any] = field(default_factory=list)
    reference_outputs: list[Any] = field(default_factory=list)
    untransformed_outputs: list[Any] | None = None
    transform_info: dict[str, Any] = field(default_factory=dict)
    counts: Any = None  # edgebench.models.counting.Counts
    # shared by every variant with the same torch-level transform (fp32 / fp16 / int8 of one module):
    # the traced and exported graphs, and whatever a format derives from them (e.g. its fp32 file)
    shared: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def input_spec(self) -> Any:
        """The model's InputSpec."""
        return self.loaded.input_spec

    @property
    def precision(self) -> str:
        """The variant's precision label (see :func:`precision_label`)."""
        return precision_label(self.variant)

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()`` once per transform: later variants of the same module reuse the value."""
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]

    def exported_program(self) -> Any:
        """One ``torch.export`` of the transformed module, shared by every format and precision."""

        def make() -> Any:
            import torch

            try:
                return torch.export.export(self.module, (self.example,), strict=False)
            except Exception as exc:  # torch.export raises many types; all mean "cannot capture"
                raise converter_error("torch.export", exc) from exc

        return self.memo("torch.export", make)

    def traced(self) -> Any:
        """One ``torch.jit.trace`` of the transformed module, shared by every format and precision."""

        def make() -> Any:
            import torch

            try:
                with torch.no_grad():
                    return torch.jit.trace(self.module, (self.example,), check_trace=False)
            except Exception as exc:  # tracing errors have no common base class
                raise converter_error("torchscript", exc) from exc

        return self.memo("torch.jit.trace", make)


class Exporter(abc.ABC):
    """One output format. Instances live in :data:`registry`; capabilities are data on the class.

    ``precisions`` lists the precision labels it can write (``fp32``, ``fp16``, ``int8``,
    ``int8-dynamic``); ``modules`` the import names its converter needs; ``converter_dist`` the
    pip distribution whose version goes into the manifest; ``extra`` the edgebench extra that
    installs it; ``runnable_here`` whether this machine can execute the artifact (parity needs it).
    """

    name: str = ""
    extension: str = ""
    # every file suffix of this format, for recognising third-party files (default: the extension)
    suffixes: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ("fp32",)
    converter_dist: str = ""
    extra: str = ""
    modules: tuple[str, ...] = ()
    runnable_here: bool = True
    # the other formats to suggest when this converter rejects an operator
    alternatives: str = ""

    def unavailable_reason(self) -> str | None:
        """None when the converter is installed, else what is missing and how to install it."""
        missing = [m for m in self.modules if importlib.util.find_spec(m) is None]
        if missing:
            return f"{', '.join(missing)} not installed: pip install 'edgebench[{self.extra}]'"
        return None

    def runnable_reason(self) -> str | None:
        """None when this machine can run the artifact, else why not (goes into the manifest)."""
        return None if self.runnable_here else f"{self.name} artifacts cannot run on this machine"

    def supports(self, variant: Variant) -> str | None:
        """None when this format can write ``variant``, else the reason (an UNSUPPORTED row)."""
        label = precision_label(variant)
        if label not in self.precisions:
            return f"{self.name} cannot write {label} (supports {', '.join(self.precisions)})"
        return None

    def validate(self, spec: ExportSpec) -> None:
        """Raise ConfigError for an option of ``spec`` this format cannot take (e.g. a bad opset)."""

    def extension_for(self, spec: ExportSpec) -> str:
        """The artifact's file extension for ``spec`` (e.g. ``.ptl`` for a mobile TorchScript)."""
        return self.extension

    def converter_info(self) -> dict[str, Any]:
        """``{name, version}`` of the converter, for the manifest."""
        return {"name": self.converter_dist, "version": dist_version(self.converter_dist)}

    @abc.abstractmethod
    def convert(self, ctx: ExportContext, spec: ExportSpec, dest: Path) -> ConvertResult:
        """Write the model for ``ctx`` at ``dest`` (a temporary path the pipeline moves into place)
        and describe it. Converter failures raise ExportError (use :func:`converter_error`);
        combinations found impossible only now raise UnsupportedError."""

    def run(self, path: Path, inputs: list[Any]) -> list[Any]:
        """Run the artifact once per batch-1 input array; returns the first output (float32) of each.

        Quantised int8 inputs/outputs are (de)quantised with the tensor's scale and zero point,
        so results compare directly with eager outputs.
        """
        raise UnsupportedError(f"cannot run {self.name} here: {self.runnable_reason()}",
                               hint="the artifact is checked structurally instead")

    def file_suffixes(self) -> tuple[str, ...]:
        """Suffixes of files in this format (``.pt`` and ``.ptl`` for TorchScript)."""
        return self.suffixes or (self.extension,)

    def file_input_shape(self, path: Path) -> tuple[int, ...] | None:
        """The first input's static shape read from a model file of this format; None when the
        format does not say, the dims are dynamic, or the file is unreadable (the run reports that)."""
        return None

    def file_param_counts(self, path: Path) -> tuple[int | None, int | None]:
        """(params, non-zero params) read from a model file of this format, (None, None) where the
        format does not allow it (used for third-party files without a manifest)."""
        return None, None

    def check(self, path: Path) -> list[str]:
        """Structural problems found without running the artifact (empty list: none)."""
        return []


_OP_PATTERNS = (
    r"OpOverload\(op='([A-Za-z0-9_.:]+)'",  # torch.onnx: "No ONNX function found for <OpOverload(op=...)"
    r"[Uu]nsupported FX nodes?:?[^\[]*\['([A-Za-z0-9_.:]+)'",
    r"convert function for op ['\"]([A-Za-z0-9_.:]+)['\"] not implemented",  # coremltools
    r"[Uu]nsupported (?:operator|op|node)[^A-Za-z0-9_]*['\"`]?([A-Za-z0-9_.:]+)",
    r"operator ['\"`]?([A-Za-z0-9_.:]+)['\"`]? (?:is )?not supported",
    r"[Nn]o (?:symbolic|conversion|translation)[^'\"`]*['\"`]([A-Za-z0-9_.:]+)",
    r"aten[.:]+([A-Za-z0-9_]+)",
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def rejected_operator(text: str) -> str | None:
    """The operator a converter's error message names (``aten::foo`` → ``foo``), if any."""
    for pattern in _OP_PATTERNS:
        m = re.search(pattern, text)
        if m:
            return m.group(1).split("::")[-1].removeprefix("aten.").removesuffix(".default")
    return None


def converter_error(fmt: str, exc: BaseException, alternatives: str = "") -> ExportError:
    """One-line ExportError for a converter failure: names the operator when the message does,
    the format, and a hint (another format / opset)."""
    chain, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:  # the operator is often named by a cause
        seen.add(id(cur))
        chain.append(f"{type(cur).__name__}: {cur}")
        cur = cur.__cause__ or cur.__context__
    text = _ANSI.sub("", "\n".join(chain))
    op = rejected_operator(text)
    hint = alternatives or "try another format"
    if op:
        return ExportError(f"{fmt} converter rejected operator {op!r}", hint=hint)
    first = next((line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()),
                 type(exc).__name__)
    return ExportError(f"{fmt} conversion failed: {first[:300]}", hint=hint)
