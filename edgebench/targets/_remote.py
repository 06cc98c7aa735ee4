"""What the SSH and adb targets share: run ids, safe remote names, options, one retry with back-off."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from edgebench.errors import EdgebenchError, TargetError, UnsupportedError

T = TypeVar("T")

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
RUN_DIR_NAME = re.compile(r"^[A-Za-z0-9._/-]+/edgebench[-/][0-9a-f]{12}$")


def new_run_id() -> str:
    """A short random id naming one deployment's per-run directory on the device."""
    return uuid.uuid4().hex[:12]


def safe_name(name: str, default: str = "file") -> str:
    """A file name safe for any remote shell and for scp/sync in either mode: the user's model
    name never reaches the device, only this (``a b;x'.tflite`` → ``a_b_x_.tflite``)."""
    cleaned = _SAFE.sub("_", name).lstrip(".-") or default
    return cleaned[:100]


def model_file_name(artifact: Path) -> str:
    """``model<ext>`` for an artifact (``.onnx``, ``.tflite``, ``.pt``, ``.ptl``)."""
    ext = artifact.suffix.lstrip(".")
    return "model." + safe_name(ext, "bin").lower() if ext else "model"


def merge_options(file_opts: dict[str, Any], cli_opts: dict[str, Any]) -> dict[str, Any]:
    """Devices-file options overlaid by the caller's; ``None`` and an unset ``False`` flag from the
    command line do not erase a value the devices file sets."""
    out = dict(file_opts)
    for key, value in cli_opts.items():
        if value is None or (value is False and key in file_opts):
            continue
        out[key] = value
    return out


def with_retry(fn: Callable[[], T], *, transient: Callable[[EdgebenchError], bool], retries: int = 1,
               backoff_s: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn``; when it raises an error ``transient`` accepts (connection refused / reset,
    device gone for a moment), wait ``backoff_s`` (doubling) and try again, ``retries`` times."""
    attempt = 0
    while True:
        try:
            return fn()
        except EdgebenchError as err:
            if attempt >= retries or not transient(err):
                raise
            sleep(backoff_s * (2 ** attempt))
            attempt += 1


def tail(text: str | bytes | None, limit: int = 400) -> str:
    """The last meaningful lines of a command's output, on one line."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return " | ".join(lines[-4:])[-limit:]


DISK_FULL = ("No space left on device", "Disk quota exceeded", "ENOSPC")


def disk_full(text: str) -> bool:
    """True when a remote tool's message says the device's storage is full."""
    return any(marker in text for marker in DISK_FULL)


def as_text(proc: subprocess.CompletedProcess, argv: Sequence[str], *, check: bool, where: str,
            stage: str) -> subprocess.CompletedProcess:
    """``proc`` with text output; with ``check`` a non-zero exit raises TargetError naming a full
    disk as such."""
    out = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
                                      proc.stderr.decode(errors="replace"))
    if check and out.returncode != 0:
        text = out.stderr + out.stdout
        reason = "storage full" if disk_full(text) else f"exit {out.returncode}"
        raise TargetError(f"{argv[0]} on {where} failed ({reason}): {tail(text)}", stage=stage)
    return out


def check_artifact(target: Any, artifact: Path, fmt: str) -> Path:
    """The artifact path, after checking the target runs ``fmt`` (UnsupportedError) and the file exists."""
    reason = target.supports(fmt)
    if reason:
        raise UnsupportedError(reason)
    artifact = Path(artifact)
    if not artifact.is_file():
        raise TargetError(f"artifact {artifact} is not a file", stage="deploy")
    return artifact


def remove_run_dir(transport: Any, remote_dir: str, where: str, base: str = "/") -> None:
    """``rm -rf`` a per-run directory (only one named like one); an unreachable device becomes a
    RuntimeWarning naming what was left behind, since the measurement is already safe."""
    if not RUN_DIR_NAME.match(remote_dir) or not remote_dir.startswith(base):
        raise TargetError(f"refusing to remove {remote_dir!r}: not a per-run directory", stage="cleanup")
    try:
        transport.run(["rm", "-rf", remote_dir], timeout=60, check=True, stage="cleanup")
    except EdgebenchError as err:
        warnings.warn(f"could not remove {remote_dir} on {where}: {err}", RuntimeWarning, stacklevel=3)
