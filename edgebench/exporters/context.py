"""The per-(model, variant) work every format shares: transform, calibration, references, graphs.

:class:`ContextBuilder` loads nothing itself: it takes a loaded model and builds one
:class:`ExportContext` per variant, sharing the transformed module, its eager reference outputs
and the traced / exported graphs between the variants (and formats) that need the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from edgebench.errors import ConfigError
from edgebench.exporters.converter_errors import converter_error
from edgebench.exporters import reference
from edgebench.exporters.progress import stage
from edgebench.exporters.variants import apply
from edgebench.exporters.variants.calibration import calibration_inputs
from edgebench.models.counting import count
from edgebench.spec import ExportSpec, Variant


def precision_label(variant: Variant) -> str:
    """``fp32``, ``fp16``, ``int8`` (static, calibrated) or ``int8-dynamic`` (weights only)."""
    if variant.precision == "int8" and variant.int8_mode == "dynamic":
        return "int8-dynamic"
    return variant.precision


@dataclass
class ExportContext:
    """The work shared by every format for one (model, variant), computed once.

    ``module`` is the transformed eval-mode module (pruned / binarized / untouched); ``example``
    a batch-1 input; ``calibration`` the calibration batches (batch-1 tensors, only filled for
    static int8); ``parity_inputs`` the batch-1 inputs parity runs on; ``reference_outputs`` the
    transformed module's eager outputs on them and ``untransformed_outputs`` the original
    module's (None when the variant has no torch-level transform); ``calibration_outputs`` the
    transformed module's eager outputs on ``calibration`` (same order; empty when there are no
    calibration inputs, then parity checks nothing on them). ``transform_info`` comes from
    the variant transform; ``counts`` are the transformed module's params / MACs.
    ``reference_npz`` holds the calibration + parity inputs and the untransformed model's eager
    outputs on them (:mod:`edgebench.exporters.reference`; None for non-float inputs), written
    beside the artifact so agreement with eager later needs no checkpoint.
    """

    loaded: Any  # edgebench.models.LoadedModel
    variant: Variant
    module: Any
    example: Any
    calibration: list[Any] = field(default_factory=list)
    parity_inputs: list[Any] = field(default_factory=list)
    reference_outputs: list[Any] = field(default_factory=list)
    untransformed_outputs: list[Any] | None = None
    calibration_outputs: list[Any] = field(default_factory=list)
    transform_info: dict[str, Any] = field(default_factory=dict)
    counts: Any = None  # edgebench.models.counting.Counts
    reference_npz: bytes | None = field(default=None, repr=False)
    # what the export row should say about how its inputs were drawn (e.g. a small calibration folder)
    notes: list[str] = field(default_factory=list)
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
                with stage("torch.export"):
                    return torch.export.export(self.module, (self.example,), strict=False)
            except Exception as exc:  # torch.export raises many types; all mean "cannot capture"
                raise converter_error("torch.export", exc) from exc

        return self.memo("torch.export", make)

    def traced(self) -> Any:
        """One ``torch.jit.trace`` of the transformed module, shared by every format and precision."""

        def make() -> Any:
            import torch

            try:
                with torch.no_grad(), stage("torch.jit.trace"):
                    return torch.jit.trace(self.module, (self.example,), check_trace=False)
            except Exception as exc:  # tracing errors have no common base class
                raise converter_error("torch.jit.trace", exc) from exc

        return self.memo("torch.jit.trace", make)


@dataclass
class _Shared:
    """What every variant with the same torch-level transform shares (module, outputs, caches)."""

    module: Any
    info: dict[str, Any]
    counts: Any
    reference_outputs: list[Any]
    cache: dict[Any, Any] = field(default_factory=dict)
    calibration_outputs: list[Any] | None = None  # eager outputs on the calibration inputs, made once


def eager_outputs(module: Any, inputs: Sequence[Any]) -> list[Any]:
    """The first output of ``module`` on each input, as float32 numpy arrays (batch dim kept)."""
    import torch

    outs = []
    with torch.no_grad():
        for x in inputs:
            y = module(x)
            if isinstance(y, (tuple, list)):
                y = y[0]
            outs.append(y.detach().float().numpy().copy())
    return outs


class ContextBuilder:
    """Builds the :class:`ExportContext` of each variant of one loaded model, sharing the transform,
    its reference outputs and the traced / exported graphs between variants that need the same."""

    def __init__(self, loaded: Any, spec: ExportSpec):
        self.loaded = loaded
        self.spec = spec
        self._inputs: tuple[list[Any], list[Any]] | None = None
        self._shared: dict[tuple, _Shared] = {}
        self._pool: list[Any] = []
        self._pool_outputs: list[Any] | None = None
        self._reference: bytes | None = None
        self._split_note: str | None = None

    def inputs(self) -> tuple[list[Any], list[Any]]:
        """(calibration inputs, parity inputs), drawn once from the same source, never overlapping."""
        if self._inputs is None:
            n_cal, n_par = self.spec.calibration_samples, self.spec.parity_samples
            if n_cal < 1 or n_par < 1:
                raise ConfigError(f"calibration samples ({n_cal}) and parity samples ({n_par}) must be ≥ 1")
            with stage("calibration and parity inputs"):
                pool = calibration_inputs(self.loaded.input_spec, self.spec.calibration_dir, n=n_cal + n_par)
            # a small folder: keep at least half of it for calibration, the rest for parity
            asked_par = n_par
            n_par = min(n_par, max(1, len(pool) // 2))
            cal, par = pool[:len(pool) - n_par] or pool, pool[len(pool) - n_par:]
            if len(pool) < n_cal + asked_par:
                where = (f"calibration folder {self.spec.calibration_dir}" if self.spec.calibration_dir is not None
                         else "the built-in sample pool")
                self._split_note = (f"{where} gave {len(pool)} inputs for {n_cal} calibration + {asked_par} parity "
                                    f"samples: {len(cal)} calibrate the int8 ranges, {len(par)} check parity "
                                    "(never the same ones); add images for steadier ranges")
            self._pool = pool
            self._inputs = (cal, par)
        return self._inputs

    def pool_outputs(self) -> list[Any]:
        """Eager outputs of the untransformed model on every calibration and parity input (once)."""
        if self._pool_outputs is None:
            self.inputs()
            with stage("eager reference outputs"):
                self._pool_outputs = eager_outputs(self.loaded.module, self._pool)
        return self._pool_outputs

    def base_outputs(self) -> list[Any]:
        """Eager outputs of the untransformed model on the parity inputs."""
        n_par = len(self.inputs()[1])
        return self.pool_outputs()[len(self._pool) - n_par:]

    def reference(self) -> bytes | None:
        """The npz bytes of :mod:`edgebench.exporters.reference` for this model's input pool (None
        when an input is not a float tensor: nothing a dataset image could be matched with)."""
        if self._reference is None:
            self.inputs()
            if not all(getattr(x, "is_floating_point", lambda: False)() for x in self._pool):
                return None
            self._reference = reference.encode([x.numpy() for x in self._pool], self.pool_outputs())
        return self._reference

    def _transform(self, variant: Variant) -> _Shared:
        key = (variant.transform, variant.amount, variant.binarize_activations)
        if key not in self._shared:
            example = self.loaded.input_spec.example(1)
            with stage("eager reference" if variant.transform == "none" else f"{variant.label}: {variant.transform}"):
                module, info = apply(self.loaded.module, variant, example)
                refs = self.base_outputs() if variant.transform == "none" else eager_outputs(module, self.inputs()[1])
            self._shared[key] = _Shared(module, info, count(module, example), refs)
        return self._shared[key]

    def _calibration_outputs(self, variant: Variant, shared: _Shared) -> list[Any]:
        """The transformed module's eager outputs on the calibration inputs (the untransformed
        model's are already in :meth:`pool_outputs`, whose head the calibration inputs are)."""
        if shared.calibration_outputs is None:
            cal = self.inputs()[0]
            if variant.transform == "none":
                shared.calibration_outputs = self.pool_outputs()[:len(cal)]
            else:
                with stage(f"{variant.label}: eager outputs on the calibration inputs"):
                    shared.calibration_outputs = eager_outputs(shared.module, cal)
        return shared.calibration_outputs

    def context(self, variant: Variant) -> ExportContext:
        """The context of ``variant`` (transform applied, references computed)."""
        shared = self._transform(variant)
        cal, par = self.inputs()
        untransformed = None if variant.transform == "none" else self.base_outputs()
        static_int8 = precision_label(variant) == "int8"
        return ExportContext(
            loaded=self.loaded, variant=variant, module=shared.module,
            example=self.loaded.input_spec.example(1),
            calibration=cal if static_int8 else [],
            calibration_outputs=self._calibration_outputs(variant, shared) if static_int8 else [],
            parity_inputs=par, reference_outputs=shared.reference_outputs,
            untransformed_outputs=untransformed, transform_info=shared.info, counts=shared.counts,
            shared=shared.cache, reference_npz=self.reference(),
            notes=[self._split_note] if static_int8 and self._split_note else [],
        )
