"""Converter failures as one classified line: which operator a converter rejected, and a hint.

Converters (torch.onnx, litert-torch, coremltools, torch.jit …) raise many unrelated exception
types with pages of text; :func:`converter_error` turns any of them into one ``ExportError`` that
names the rejected operator when the message (or a cause in its chain) does.
"""

from __future__ import annotations

import re

from edgebench.errors import ExportError, UnsupportedError

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


def converter_error(fmt: str, exc: BaseException, alternatives: str = "") -> ExportError | UnsupportedError:
    """One-line ExportError for a converter failure: names the operator when the message does,
    the format (or tool) ``fmt``, and a hint (``alternatives``: another format / option). An
    UnsupportedError raised inside a converter (a combination found impossible on the way, e.g. a
    TorchScript checkpoint reaching torch.export) comes back as itself: an UNSUPPORTED row, not a
    failed export."""
    if isinstance(exc, UnsupportedError):
        return exc
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
