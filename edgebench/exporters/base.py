"""The format plug-in: everything about one file format as data on one :class:`Exporter` class.

A format is one file in ``edgebench/exporters/`` that registers an INSTANCE::

    @dataclass(frozen=True)
    class OnnxOptions:                      # this format's own export options (or Options = None)
        opset: int = field(default=18, metadata={"help": "ONNX opset."})

    @register("onnx")
    class OnnxExporter(Exporter):
        extension = ".onnx"                 # suffixes: every suffix of the format (default: extension)
        precisions = ("fp32", "fp16", "int8", "int8-dynamic")
        runtime = "onnxruntime"             # the edgebench.runner runtime that runs (and times) it
        extra = "onnx"                      # pip install 'edgebench[onnx]'
        modules = ("onnx", "onnxruntime")   # import names the converter needs
        converter_dist = "torch"            # whose version the manifest names as converter
        libraries = ("onnx", "onnxruntime") # pip dists versioned in manifest / hostinfo / doctor
        cost = 3.0                          # relative export cost (parallel scheduling)
        Options = OnnxOptions

        def convert(self, ctx, spec, dest, options): ...   # writes the model at ``dest``

Nothing else in edgebench names a format: the pipeline, the harness, doctor, hostinfo and the CLI
derive their lists from :data:`registry` (see :mod:`edgebench.exporters`). Exporters never run
their artifacts: parity goes through the runner's batch mode, the code ``edgebench run`` times.
"""

from __future__ import annotations

import abc
import contextlib
import importlib.metadata as md
import importlib.util
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from edgebench.exporters.context import ExportContext, precision_label
from edgebench.exporters.options import OptionField, make_options, option_fields
from edgebench.registry import Registry
from edgebench.runner import RUNTIMES, RunnerError
from edgebench.runner.batch import open_runtime
from edgebench.runner.inputs import layout
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


def formats() -> list[str]:
    """Every registered format name, in registration order."""
    return registry.names()


def for_suffix(path: Path | str) -> "Exporter | None":
    """The format plug-in whose file suffixes include ``path``'s suffix (case-insensitive); None
    for a file no plug-in knows."""
    suffix = Path(path).suffix.lower()
    return next((e for _, e in registry.items() if suffix in e.file_suffixes()), None)


def runtime_for(fmt: str) -> str:
    """The runner runtime that runs format ``fmt`` (ConfigError listing the formats if unknown)."""
    return registry.get(fmt).runtime


def all_libraries() -> tuple[str, ...]:
    """Every pip distribution any format versions (manifest / hostinfo / doctor), without repeats."""
    return tuple(dict.fromkeys(lib for _, e in registry.items() for lib in e.libraries))


def format_option_fields() -> list[OptionField]:
    """One command-line flag per option field of every format (see :mod:`.options`)."""
    return option_fields((name, e.Options) for name, e in registry.items())


def io_entry(name: str, shape: Sequence[int], dtype: str, scale: float | None = None,
             zero_point: int | None = None) -> dict[str, Any]:
    """One manifest ``inputs``/``outputs`` entry: name, shape, dtype and (for int8 tensors) scale
    and zero point."""
    return {"name": name, "shape": [int(s) for s in shape], "dtype": str(dtype),
            "scale": None if scale is None else float(scale),
            "zero_point": None if zero_point is None else int(zero_point)}


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
    the work (e.g. onnxruntime.quantization); ``details`` are format facts for the manifest.
    """

    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    quantization: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    converter: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _value_range(entry: dict[str, Any]) -> list[float] | None:
    """[low, high] of the values an input takes: a quantised input's float range (scale / zero
    point), an integer input's raw dtype range (e.g. 0–255 pixels for uint8 without
    quantisation); None for a float input (any normalisation)."""
    import numpy as np

    dtype, scale = entry.get("dtype"), entry.get("scale")
    try:
        kind = np.dtype(dtype).kind
    except TypeError:  # a dtype numpy does not know (e.g. a string tensor)
        return None
    if kind not in "iu":
        return None
    info = np.iinfo(np.dtype(dtype))
    if not scale:
        return [float(info.min), float(info.max)]
    zero = entry.get("zero_point") or 0
    return [float((info.min - zero) * scale), float((info.max - zero) * scale)]


class Exporter(abc.ABC):
    """One file format. Instances live in :data:`registry`; everything about the format is data on
    the class (see the module docstring), so a new format is this one file plus its runner runtime.

    ``precisions`` are the precision labels it can write (``fp32``, ``fp16``, ``int8``,
    ``int8-dynamic``); ``alternatives`` the hint given when its converter rejects an operator.
    """

    name: str = ""
    extension: str = ""
    suffixes: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ("fp32",)
    runtime: str = ""
    extra: str = ""
    modules: tuple[str, ...] = ()
    converter_dist: str = ""
    libraries: tuple[str, ...] = ()
    cost: float = 1.0
    # whether convert() takes a TorchScript (ScriptModule) model: the formats built on torch.export
    # cannot read one, so a TorchScript checkpoint is an UNSUPPORTED row for them, with the reason
    reads_torchscript: bool = False
    Options: type | None = None
    alternatives: str = ""

    # -- availability -----------------------------------------------------------------------

    def install_hint(self) -> str:
        """How to install this format's converter (``pip install 'edgebench[<extra>]'``)."""
        return f"pip install 'edgebench[{self.extra}]'" if self.extra else "pip install edgebench"

    def unavailable_reason(self) -> str | None:
        """None when the converter is installed, else what is missing and how to install it."""
        missing = [m for m in self.modules if importlib.util.find_spec(m) is None]
        if missing:
            return f"{', '.join(missing)} not installed: {self.install_hint()}"
        return None

    def runnable_reason(self) -> str | None:
        """None when this machine can run the artifact (its runner runtime is usable here), else
        why not (it goes into the manifest; the artifact is then checked structurally)."""
        runtime = RUNTIMES.get(self.runtime)
        if runtime is None:
            return f"the runner has no {self.runtime!r} runtime"
        return runtime.unavailable_reason()

    @property
    def runnable_here(self) -> bool:
        """Whether parity can run the artifact on this machine (see :meth:`runnable_reason`)."""
        return self.runnable_reason() is None

    def supports(self, variant: Variant) -> str | None:
        """None when this format can write ``variant``, else the reason (an UNSUPPORTED row)."""
        label = precision_label(variant)
        if label not in self.precisions:
            return f"{self.name} cannot write {label} (supports {', '.join(self.precisions)})"
        return None

    # -- options ----------------------------------------------------------------------------

    def options(self, values: Any = None) -> Any:
        """This format's Options from ``values`` (None → defaults, an Options instance, or a mapping
        of field → value), checked by :meth:`validate`. ConfigError for anything it cannot take."""
        options = make_options(self.name, self.Options, values)
        if options is not None:
            self.validate(options)
        return options

    def options_for(self, spec: ExportSpec) -> Any:
        """The Options ``spec`` asks of this format (``spec.format_options[name]``, else defaults)."""
        return self.options(spec.format_options.get(self.name))

    def validate(self, options: Any) -> None:
        """Raise ConfigError for an option value this format cannot take (e.g. an opset out of range)."""

    def extension_for(self, options: Any) -> str:
        """The artifact's file extension with ``options`` (e.g. a lite-interpreter suffix)."""
        return self.extension

    # -- export -----------------------------------------------------------------------------

    def converter_info(self) -> dict[str, Any]:
        """``{name, version}`` of the converter, for the manifest."""
        return {"name": self.converter_dist, "version": dist_version(self.converter_dist)}

    @abc.abstractmethod
    def convert(self, ctx: ExportContext, spec: ExportSpec, dest: Path, options: Any) -> ConvertResult:
        """Write the model for ``ctx`` at ``dest`` (a temporary path the pipeline moves into place)
        with this format's ``options`` and describe it. Converter failures raise ExportError (use
        :func:`~edgebench.exporters.converter_errors.converter_error`); combinations found
        impossible only now raise UnsupportedError."""

    def check(self, path: Path) -> list[str]:
        """Structural problems found without running the artifact (empty list: none). Used where
        the runtime cannot run here."""
        return []

    # -- file readers (third-party files without a manifest) ----------------------------------

    def file_suffixes(self) -> tuple[str, ...]:
        """Suffixes of files in this format (the extension unless ``suffixes`` lists more)."""
        return self.suffixes or (self.extension,)

    def file_inputs(self, path: Path) -> list[dict[str, Any]]:
        """The model file's inputs as its runner runtime sees them: ``[{name, shape (None = dynamic
        dim), dtype (numpy name), layout ("NCHW"/"NHWC", the runner's rule), scale, zero_point,
        value_range ([low, high] in float for a quantised input, else None)}]``. Empty when the
        runtime is not usable here or cannot read the file (the run reports why)."""
        if self.runnable_reason() is not None:
            return []
        try:
            entries = open_runtime(self.runtime, path).inputs()
        except RunnerError:  # unreadable here: `edgebench run` reports why, with the runner's hint
            return []
        return [dict(e, shape=None if e.get("shape") is None else list(e["shape"]),
                     layout=layout(e["shape"]) if e.get("shape") else None, value_range=_value_range(e))
                for e in entries]

    def file_input_shape(self, path: Path) -> tuple[int, ...] | None:
        """The first input's static shape read from a model file of this format; None when the
        format does not say, a dim is dynamic, or the file is unreadable (the run reports that)."""
        inputs = self.file_inputs(Path(path))
        shape = inputs[0]["shape"] if inputs else None
        if shape and all(isinstance(d, int) and d > 0 for d in shape):
            return tuple(shape)
        return None

    def file_param_counts(self, path: Path) -> tuple[int | None, int | None]:
        """(params, non-zero params) read from a model file of this format, (None, None) where the
        format does not allow it (used for third-party files without a manifest)."""
        return None, None

    def file_test_data(self, model: Path) -> Path | None:
        """A folder of test data shipped beside the model file in this format's convention (inputs
        with their expected outputs), which ``run`` feeds instead of synthetic data; None: none."""
        return None

    def read_test_data(self, path: Path) -> tuple[list[tuple[str | None, Any]], list[Any]] | None:
        """Inputs and expected outputs from this format's test-data files (``path``: one file or a
        folder of them): ``([(input name or None, array), …], [expected output array, …])`` in order.
        None when ``path`` is not this format's test data; ConfigError when it is but cannot be read."""
        return None
