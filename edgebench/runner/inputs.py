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


_FEEDABLE = "biuf"  # numpy kinds the runner can make and feed: bool, int, uint, float


def check_feedable(inp: dict) -> None:
    """RunnerError("input") naming the input and its type when it is not a numeric or bool tensor
    (a string, a sequence, an optional, a map): the runner cannot make or feed such values."""
    try:
        ok = np.dtype(inp["dtype"]).kind in _FEEDABLE
    except TypeError:
        ok = False
    if not ok:
        raise RunnerError("input", "input %r has type %s, which edgebench cannot feed" % (inp["name"], inp["dtype"]),
                          "only numeric and bool tensor inputs can be measured; wrap the model so that its "
                          "inputs are tensors")


def image_like(shape: list) -> bool:
    """A 4-d shape with 1, 3 or 4 channels first or last (NCHW / NHWC pixels)."""
    return len(shape) == 4 and (shape[1] in (1, 3, 4) or shape[3] in (1, 3, 4))


def index_bound(shapes: list) -> int:
    """The smallest dim above 1 over every input shape (1 when there is none): synthetic integer
    inputs stay below it (at least 1), so a value used as a count (TopK's k), an index (Gather) or
    a size most likely fits the axes it refers to, and is never 0."""
    dims = [d for s in shapes for d in s if d and d > 1]
    return min(dims) if dims else 1


def synthetic_how(inp: dict, shape: list, bound: int = 1) -> dict:
    """How :func:`synthetic_feed` fills ``inp``: ``{name, dtype, how, guessed}``. ``guessed`` is True
    when the runner cannot know a valid value (integer ids, counts, masks, bools): timing on such
    data may not reflect real work (a TopK with another k, a Loop with another trip count)."""
    dtype = np.dtype(inp["dtype"])
    quant = dtype.name in QUANTIZED and inp.get("scale")
    if dtype.kind == "f" or quant:
        how, guessed = "standard normal" + (", quantised with the input's scale / zero point" if quant else ""), False
    elif dtype.name in ("uint8", "int8"):
        info = np.iinfo(dtype)
        guessed = not image_like(shape)
        how = "uniform %d..%d%s" % (info.min, info.max, "" if guessed else " (raw pixels)")
    elif dtype.kind == "b":
        how, guessed = "random True / False", True
    else:
        lo, hi = _int_range(dtype, bound)
        how, guessed = "uniform %d..%d" % (lo, hi), True
    return {"name": inp["name"], "dtype": dtype.name, "how": how, "guessed": guessed}


def _int_range(dtype: np.dtype, bound: int) -> tuple:
    return 1, max(1, min(bound - 1, int(np.iinfo(dtype).max)))


def synthetic_feed(inp: dict, shape: list, seed: int = 0, bound: int = 1) -> np.ndarray:
    """What the timed loop feeds ``inp`` when no data is given, valid for its dtype: float inputs
    standard normal (normalised-image statistics), quantised with the input's scale / zero point for
    int8 / uint8 / int16 inputs that have one; uint8 / int8 without one: uniform over the whole raw
    range (0..255 pixels); other integers: uniform over 1..``bound``−1 (``bound``: see
    :func:`index_bound`); bool: random. Never all zeros (a TopK with k = 0 does no work).
    RunnerError("input") for a type the runner cannot feed (see :func:`check_feedable`)."""
    check_feedable(inp)
    dtype = np.dtype(inp["dtype"])
    rng = np.random.default_rng(seed)
    if dtype.kind == "f" or (dtype.name in QUANTIZED and inp.get("scale")):
        return to_runtime_dtype(synthetic_input(shape, seed), inp)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.name in ("uint8", "int8"):
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)
    lo, hi = _int_range(dtype, bound)
    return rng.integers(lo, hi + 1, size=shape).astype(dtype)


def read_feed(path: str, specs: list) -> list:
    """``--feed``: the arrays the timed loop feeds, as they are (no batch dim added): a ``.npz`` with
    one array per input (keyed by input name, else in the model's order) or a ``.npy`` for a
    one-input model. RunnerError("input") when the file cannot be read or does not match the inputs."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise RunnerError("input", "cannot read --feed %s: %s" % (path, exc),
                          "a .npz with one array per input name (numpy.savez)")
    if isinstance(data, np.ndarray):
        arrays = [data]
    else:
        with data:
            names = [s["name"] for s in specs]
            keys = names if all(n in data.files for n in names) else data.files
            arrays = [data[k] for k in keys]
    if len(arrays) != len(specs):
        raise RunnerError("input", "--feed %s holds %d arrays but the model has %d inputs (%s)"
                          % (path, len(arrays), len(specs), ", ".join(s["name"] for s in specs)),
                          "one array per input, keyed by input name")
    return arrays


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
    the first output dequantized and arg-maxed (``post``). Non-image inputs get synthetic data.
    ``given`` (``--feed``): the user's arrays, handed in as they are each iteration (copy-in timed)."""

    def __init__(self, inputs: list, shapes: list, out_quant: list, given: list | None = None):
        self.inputs, self.shapes, self.out_quant, self.given = inputs, shapes, out_quant, given
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
        if self.given is not None:
            return self.given
        feed = []
        for k, (inp, shape, img) in enumerate(zip(self.inputs, self.shapes, self.images)):
            if img is None:  # the very values bound before the loop (seed k): same work, same output shapes
                feed.append(synthetic_feed(inp, shape, seed=k, bound=index_bound(self.shapes)))
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
