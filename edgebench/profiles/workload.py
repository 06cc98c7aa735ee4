"""A model's work, split by the operator classes a CPU runs at different speeds.

``dense_macs``      convolutions with full channel mixing (groups == 1 or wide groups)
``depthwise_macs``  depthwise / narrow grouped convolutions (≤ 4 input channels per group)
``matmul_macs``     Linear layers, matmul / bmm and attention
``elementwise_bytes`` bytes read + written (fp32) by the memory-bound operators that a mobile
                    runtime does NOT fuse into the preceding convolution: adds, multiplies,
                    hard-swish / sigmoid, pooling, concatenation, normalisation, softmax …
``ops``             operators a runtime dispatches one by one (convolutions, matmuls and the
                    unfused element-wise ones) — what per-operator overhead is paid on.
                    Parameter counting runs under the same recorder but touches none of these.

One forward pass under a dispatch-mode recorder, nested around
:func:`edgebench.models.counting.count` so the totals are the same numbers ``edgebench models``
prints.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from edgebench.errors import LoadError, UnsupportedError
from edgebench.models.checkpoint import JIT_KIND

# Element-wise ops a mobile runtime folds into the convolution / matmul before it (BN folding,
# fused ReLU / ReLU6 / clamp): they move no extra bytes on the device.
_FUSED = {
    "batch_norm", "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
    "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "clamp", "clamp_", "clamp_min", "clamp_min_",
    "clamp_max", "threshold", "dropout", "native_dropout",
    # copies autograd makes before an in-place activation: not in an exported graph
    "clone", "copy_", "_to_copy", "detach", "alias", "lift_fresh_copy",
}
# memory-bound ops torch does not tag "pointwise": reductions, pooling, concatenation, norms, resizing
_MEMORY_BOUND = {
    "mean", "sum", "amax", "avg_pool2d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "max_pool2d",
    "max_pool2d_with_indices", "adaptive_max_pool2d", "cat", "stack", "_softmax", "softmax", "_log_softmax",
    "native_layer_norm", "layer_norm", "native_group_norm", "group_norm", "upsample_nearest2d",
    "upsample_bilinear2d", "_upsample_bilinear2d_aa", "constant_pad_nd", "reflection_pad2d", "var_mean",
    "pixel_shuffle", "roll", "gather", "index_select", "topk", "sort", "cumsum",
}
_CONV = {"convolution", "_convolution", "conv2d", "conv1d", "conv3d", "cudnn_convolution"}
_MATMUL = {"mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "_scaled_dot_product_efficient_attention",
           "_scaled_dot_product_flash_attention", "_scaled_dot_product_flash_attention_for_cpu",
           "_scaled_dot_product_cudnn_attention", "scaled_dot_product_attention"}
# how many input channels per group still behave like a depthwise kernel (memory-bound, no GEMM)
DEPTHWISE_MAX_CHANNELS_PER_GROUP = 4


@dataclass(frozen=True)
class Workload:
    """The work of one inference at batch 1, by operator class (see module docstring)."""

    dense_macs: float
    depthwise_macs: float
    matmul_macs: float
    elementwise_bytes: float
    ops: int
    macs: float
    params: int | None = None
    model: str | None = None
    input_shape: tuple[int, ...] | None = None
    source: str = "forward pass"
    notes: tuple[str, ...] = ()

    @property
    def total_macs(self) -> float:
        """dense + depthwise + matmul MACs."""
        return self.dense_macs + self.depthwise_macs + self.matmul_macs

    def scaled(self, factor: float, note: str) -> "Workload":
        """The same split with every MAC class scaled (e.g. a structurally pruned artifact)."""
        return replace(self, dense_macs=self.dense_macs * factor, depthwise_macs=self.depthwise_macs * factor,
                       matmul_macs=self.matmul_macs * factor, macs=self.macs * factor,
                       notes=self.notes + (note,))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (stored in a Projection's details)."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape) if self.input_shape else None
        d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Workload":
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["input_shape"] = tuple(d["input_shape"]) if d.get("input_shape") else None
        d["notes"] = tuple(d.get("notes", ()))
        return cls(**d)


def _name(func: Any) -> str:
    # aten.convolution.default → "convolution"
    return str(getattr(func, "__name__", func)).split(".")[0]


def _numel_bytes(x: Any) -> int:
    import torch

    if isinstance(x, torch.Tensor):
        return x.numel() * 4  # counted at fp32; the projection rescales by precision
    if isinstance(x, (list, tuple)):
        return sum(_numel_bytes(v) for v in x)
    return 0


def _recorder():
    """A TorchDispatchMode that classifies every aten op of one forward pass."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Recorder(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.dense = self.depthwise = 0.0
            self.conv_ops = self.matmul_ops = self.elementwise_ops = 0
            self.elementwise_bytes = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            name = _name(func.overloadpacket) if hasattr(func, "overloadpacket") else _name(func)
            if name in _CONV:
                w = args[1]
                groups = args[8] if len(args) > 8 else kwargs.get("groups", 1)
                cin_per_group = w.shape[1]
                macs = out.numel() * math.prod(w.shape[1:])  # batch 1: one MAC per weight per output
                if groups > 1 and cin_per_group <= DEPTHWISE_MAX_CHANNELS_PER_GROUP:
                    self.depthwise += macs
                else:
                    self.dense += macs
                self.conv_ops += 1
            elif name in _MATMUL:
                self.matmul_ops += 1
            elif name not in _FUSED and (name in _MEMORY_BOUND or torch.Tag.pointwise in func.tags):
                self.elementwise_ops += 1
                self.elementwise_bytes += _numel_bytes(list(args)) + _numel_bytes(out)
            return out

    return Recorder()


def from_module(module: Any, example: Any, *, model: str | None = None) -> Workload:
    """Split one forward pass of ``module`` on ``example`` (batch 1) by operator class.

    MAC totals come from :func:`edgebench.models.counting.count` (torch's flop counter); the
    recorder adds the depthwise / dense split of the convolutions and the element-wise traffic.
    """
    from edgebench.models.counting import count

    if example.shape[0] != 1:
        example = example[:1]
    rec = _recorder()
    with rec:  # count() runs the forward pass under torch's flop counter; the recorder sees it too
        counts = count(module, example)
    conv_macs = sum(n for op, n in counts.macs_by_op.items() if op in _CONV)
    matmul_macs = counts.macs - conv_macs
    notes = []
    recorded = rec.dense + rec.depthwise
    if conv_macs and abs(recorded - conv_macs) > 0.01 * conv_macs:
        # the flop counter is the reference for totals; keep its number, the recorder's split
        notes.append(f"conv MACs: recorder {recorded:.3g} vs flop counter {conv_macs:.3g}")
    share_dw = rec.depthwise / recorded if recorded else 0.0
    return Workload(
        dense_macs=float(conv_macs * (1 - share_dw)),
        depthwise_macs=float(conv_macs * share_dw),
        matmul_macs=float(matmul_macs),
        elementwise_bytes=float(rec.elementwise_bytes),
        ops=rec.conv_ops + rec.matmul_ops + rec.elementwise_ops,
        macs=float(counts.macs),
        params=counts.params,
        model=model,
        input_shape=tuple(example.shape),
        source="forward pass (torch flop counter + dispatch recorder)",
        notes=tuple(notes),
    )


def from_model_spec(spec: Any) -> Workload:
    """Build the model a :class:`~edgebench.spec.ModelSpec` names (zoo or checkpoint) and split it."""
    from edgebench.models import load

    lm = load(spec)
    return from_module(lm.module, lm.input_spec.example(), model=lm.label)


# checkpoint kinds that rebuild without an --arch (models.load reads their architecture from the file)
SELF_DESCRIBING = ("huggingface", "pt2", JIT_KIND)


def from_manifest(manifest: dict[str, Any], *, macs: float | None = None) -> Workload:
    """Rebuild the model an artifact manifest names and split its work.

    A zoo model is rebuilt by name; a checkpoint with a known ``arch`` as that architecture with its
    builder kwargs (weights do not change the work); a Hugging Face folder, ``.pt2`` or TorchScript
    file (checkpoint kinds ``huggingface``, ``pt2``, ``jit``) from the manifest's absolute path. When the manifest's MACs differ from the rebuilt model's
    (a structurally pruned variant), the MAC classes are scaled to the manifest's figure.
    """
    from edgebench.models.zoo import zoo
    from edgebench.spec import ModelSpec, arch_kwargs_tuple

    source = manifest.get("source") or {}
    name = source.get("name") if source.get("kind") == "zoo" else None
    arch = source.get("arch")
    zoo_name = name if name in zoo.names() else (arch if arch in zoo.names() else None)
    shape = (manifest.get("input_spec") or {}).get("shape")
    kwargs = arch_kwargs_tuple(source.get("arch_kwargs") or {})
    path = source.get("path")
    if zoo_name is not None:
        spec = ModelSpec(name=zoo_name, input_shape=tuple(shape) if shape else None, arch_kwargs=kwargs)
    elif path and Path(path).exists() and source.get("kind") in SELF_DESCRIBING:
        # a checkpoint that carries its own architecture (a Hugging Face folder, a .pt2, a jit archive),
        # found again by the manifest's absolute path
        zoo_name = Path(path).name
        spec = ModelSpec(name=None, checkpoint=Path(path), input_shape=tuple(shape) if shape else None)
    else:
        raise UnsupportedError(
            f"cannot rebuild model {manifest.get('model')!r} to split its work (source {source.get('kind', '?')}"
            + (f" at {path}, not there any more" if path and not Path(path).exists() else "") + ")",
            hint="project from a zoo model, a checkpoint exported with --arch, or a model folder / .pt2 / "
                 "jit archive still at its exported path", stage="project")
    try:
        w = from_model_spec(spec)
    except LoadError as err:
        raise UnsupportedError(f"cannot rebuild {zoo_name} to split its work: {err.message}",
                               hint=err.hint, stage="project") from None
    w = replace(w, model=manifest.get("model") or zoo_name)
    target = macs if macs is not None else manifest.get("macs")
    if target and w.macs and abs(target - w.macs) > 0.01 * w.macs:
        w = w.scaled(target / w.macs, f"MACs scaled to the artifact's {target:.4g} (rebuilt model: {w.macs:.4g})")
    return w


def from_run(run: Any) -> Workload:
    """The work of the model a stored :class:`~edgebench.results.RunResult` measured."""
    art = run.artifact
    manifest = dict(art.manifest) if art is not None and art.manifest else {}
    if not manifest:
        # no manifest stored: the run's model name (a zoo name) is all there is
        manifest = {"source": {"kind": "zoo", "name": run.model}, "model": run.model}
        spec_model = (run.spec or {}).get("model") or {}
        if spec_model.get("input_shape"):
            manifest["input_spec"] = {"shape": spec_model["input_shape"]}
    return from_manifest(manifest, macs=art.macs if art is not None else None)
