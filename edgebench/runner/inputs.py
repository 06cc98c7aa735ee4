"""Inputs and outputs around a runtime: quantisation, shapes, synthetic tensors, image layout and
the pre/post-processing that ``--include-io`` adds to the timed region."""

from __future__ import annotations

import numpy as np

from .errors import RunnerError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
QUANTIZED = ("int8", "uint8", "int16")


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    """Affine quantization q = clip(round(x / scale) + zero_point) into ``dtype`` (int8 / uint8 / int16)."""
    info = np.iinfo(np.dtype(dtype))
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """x = (q − zero_point) · scale as float32."""
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)


def fmt_shape(shape) -> str:
    """``[1,3,?,?]``: a shape as the error messages print it (None = a dynamic dim)."""
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def resolve_shape(inp: dict, requested: list | None) -> list:
    """The concrete input shape: the model's where fixed, ``requested`` (``--input-shape``) where
    dynamic or unknown; only a dynamic batch dim defaults (to 1).

    RunnerError("input") when the shape stays unknown or ``requested`` contradicts a fixed dim."""
    model = inp["shape"]
    if requested is None:
        if model is None:
            raise RunnerError("input", "the input shape of %r is unknown" % inp["name"],
                              "pass --input-shape, e.g. --input-shape 1,3,224,224")
        if any(d is None for d in model):
            if model[0] is None and len(model) > 1 and all(d is not None for d in model[1:]):
                return [1] + list(model[1:])  # only the batch dim is dynamic: measure batch 1
            raise RunnerError("input", "input %r has dynamic dims %s" % (inp["name"], fmt_shape(model)),
                              "pass --input-shape with every dim, e.g. --input-shape 1,3,224,224")
        return list(model)
    req = list(requested)
    if model is not None:
        if len(model) != len(req) or any(m is not None and m != r for m, r in zip(model, req)):
            raise RunnerError("input", "--input-shape %s does not match input %r of the model %s"
                              % (fmt_shape(req), inp["name"], fmt_shape(model)),
                              "use the model's shape or omit --input-shape")
    return req


def synthetic_input(shape: list, seed: int = 0) -> np.ndarray:
    """A deterministic float32 tensor with normalised-image statistics (standard normal)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def to_runtime_dtype(x: np.ndarray, inp: dict) -> np.ndarray:
    """Float data → the input's dtype: quantized with its scale / zero point for int8 / uint8 /
    int16 inputs, cast for float inputs. Data already in the input's dtype passes unchanged."""
    dtype = inp["dtype"]
    x = np.asarray(x)
    if x.dtype == np.dtype(dtype):
        return np.ascontiguousarray(x)
    if dtype in QUANTIZED and inp.get("scale"):
        return quantize(x, inp["scale"], inp["zero_point"] or 0, dtype)
    try:
        return np.ascontiguousarray(x.astype(dtype))
    except TypeError:
        raise RunnerError("input", "input %r has dtype %s, which the runner cannot feed" % (inp["name"], dtype))


def synthetic_feed(inp: dict, shape: list, seed: int = 0) -> np.ndarray:
    """What the timed loop feeds ``inp``: :func:`synthetic_input` in the input's dtype (quantized for
    int8 / uint8 / int16 inputs with a scale); zeros for other integer or bool inputs (ids, masks)."""
    dtype = inp["dtype"]
    if dtype.startswith("float") or (dtype in QUANTIZED and inp.get("scale")):
        return to_runtime_dtype(synthetic_input(shape, seed), inp)
    return np.zeros(shape, dtype=dtype)


def to_float_outputs(outputs: list, quant: list) -> list:
    """Outputs as float32 arrays, dequantized where ``quant`` gives (scale, zero_point) for them."""
    res = []
    for k, out in enumerate(outputs):
        q = quant[k] if k < len(quant) else None
        out = np.asarray(out)
        res.append(dequantize(out, q[0], q[1]) if q is not None else out.astype(np.float32, copy=False))
    return res


def layout(shape: list) -> str:
    """``NHWC`` when a 4-d shape has 1 or 3 channels last (and not second), else ``NCHW``."""
    return "NHWC" if len(shape) == 4 and shape[3] in (1, 3) and shape[1] not in (1, 3) else "NCHW"


class IO:
    """Pre-/post-processing timed with ``--include-io``: a uint8 HWC image → float, normalised with
    ImageNet mean/std, transposed to the model's layout, quantized for integer inputs (``pre``);
    the first output dequantized and arg-maxed (``post``). Non-image inputs get synthetic data."""

    def __init__(self, inputs: list, shapes: list, out_quant: list):
        self.inputs, self.shapes, self.out_quant = inputs, shapes, out_quant
        self.images = []
        rng = np.random.default_rng(1)
        for shape in shapes:
            if len(shape) == 4:
                h, w = (shape[1], shape[2]) if layout(shape) == "NHWC" else (shape[2], shape[3])
                self.images.append(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
            else:
                self.images.append(None)
        self.mean = np.array(IMAGENET_MEAN, dtype=np.float32)
        self.std = np.array(IMAGENET_STD, dtype=np.float32)

    def pre(self) -> list:
        """One feed (a list of arrays in the runtime's dtypes) made from the images."""
        feed = []
        for inp, shape, img in zip(self.inputs, self.shapes, self.images):
            if img is None:
                feed.append(synthetic_feed(inp, shape))
                continue
            x = (img.astype(np.float32) / 255.0 - self.mean) / self.std
            if layout(shape) == "NCHW":
                x = x.transpose(2, 0, 1)[: shape[1]]
            else:
                x = x[..., : shape[3]]
            feed.append(to_runtime_dtype(np.ascontiguousarray(x).reshape(shape), inp))
        return feed

    def post(self, outputs: list) -> int:
        """The arg-max of the first output (dequantized first when it is quantized)."""
        out = outputs[0]
        q = self.out_quant[0] if self.out_quant else None
        if q is not None:
            out = dequantize(out, q[0], q[1])
        return int(np.argmax(out))
