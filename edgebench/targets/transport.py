"""How a target reaches its device, once for every target: run an argv list with a timeout, retry a
dropped connection with back-off, copy files, recognise a full disk, keep remote paths safe.

A :class:`Transport` never takes a shell string built from input: it runs argv lists (remote
transports quote each element with ``shlex.quote`` for the device's shell). :class:`LocalTransport`
is this machine: a subprocess, and copies that copy nothing.
"""

from __future__ import annotations

import abc
import re
import shlex
import shutil
import subprocess
import time
import uuid
import warnings
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from edgebench.errors import EdgebenchError, RunError, TargetError

T = TypeVar("T")

DISK_FULL = ("No space left on device", "Disk quota exceeded", "ENOSPC")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")
RUN_DIR_NAME = re.compile(r"^/[A-Za-z0-9._/-]+/edgebench[-/][0-9a-f]{12}$")


class RunnerFailed(RunError):
    """The measuring process died or wrote no usable result; ``detail`` holds its stderr tail."""

    def __init__(self, message: str, *, detail: str | None = None, hint: str | None = None,
                 stage: str | None = None):
        super().__init__(message, hint=hint, stage=stage)
        self.detail = detail


class RunnerTimeout(RunnerFailed):
    """A command on the device did not finish within its timeout (stage ``timeout``)."""

    stage = "timeout"


# -- small pure helpers ---------------------------------------------------------------------------

def tail(text: str | bytes | None, limit: int = 400) -> str:
    """The last meaningful lines of a command's output, on one line (at most ``limit`` characters)."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return " | ".join(lines[-4:])[-limit:]


def disk_full(text: str) -> bool:
    """True when a tool's message says the device's storage is full."""
    return any(marker in text for marker in DISK_FULL)


def new_run_id() -> str:
    """A short random id naming one deployment's per-run directory on the device (12 hex digits)."""
    return uuid.uuid4().hex[:12]


def safe_name(name: str, default: str = "file") -> str:
    """A file name safe for any remote shell and for scp/sync in either mode: the user's model
    name never reaches the device, only this (``a b;x'.tflite`` → ``a_b_x_.tflite``)."""
    cleaned = _SAFE_NAME.sub("_", name).lstrip(".-") or default
    return cleaned[:100]


def model_file_name(artifact: Path) -> str:
    """``model<ext>`` for an artifact: its own suffix, sanitised (``x y.ONNX`` → ``model.onnx``)."""
    ext = Path(artifact).suffix.lstrip(".")
    return "model." + safe_name(ext, "bin").lower() if ext else "model"


def safe_path(path: str, *, stage: str = "deploy") -> str:
    """``path`` when it is absolute and made of plain characters (what our per-run directories and
    safe names produce), else TargetError: no character any shell or scp mode would expand."""
    if not _SAFE_PATH.match(path) or "/../" in path + "/":
        raise TargetError(f"unsafe device path {path!r}", stage=stage)
    return path


def with_retry(fn: Callable[[], T], *, transient: Callable[[EdgebenchError], bool], retries: int = 1,
               backoff_s: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn``; when it raises an error ``transient`` accepts (connection refused / reset,
    device gone for a moment), wait ``backoff_s`` seconds (doubling each time) and try again, at
    most ``retries`` times. Other errors and the last failure propagate."""
    attempt = 0
    while True:
        try:
            return fn()
        except EdgebenchError as err:
            if attempt >= retries or not transient(err):
                raise
            sleep(backoff_s * (2 ** attempt))
            attempt += 1


def invoke(cmd: Sequence[str], *, timeout: float | None, where: str, input: bytes | None = None,
           env: dict[str, str] | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run a local argv list (bytes output) with a timeout: RunnerTimeout naming ``where`` when it
    does not finish, RunnerFailed when it cannot start."""
    try:
        return subprocess.run(list(cmd), input=input, capture_output=True, timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        raise RunnerTimeout(f"{Path(cmd[0]).name} on {where} timed out after {timeout:g} s",
                            detail=tail(exc.stderr) or None,
                            hint="raise the timeout (--timeout) or check the device") from None
    except OSError as exc:
        raise RunnerFailed(f"cannot start {cmd[0]}: {exc}", stage="run") from None


def as_text(proc: subprocess.CompletedProcess, argv: Sequence[str], *, check: bool, where: str,
            stage: str) -> subprocess.CompletedProcess:
    """``proc`` with text output; with ``check`` a non-zero exit raises TargetError naming a full
    disk as such."""
    def text(data: bytes | str | None) -> str:
        return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")

    out = subprocess.CompletedProcess(proc.args, proc.returncode, text(proc.stdout), text(proc.stderr))
    if check and out.returncode != 0:
        said = out.stderr + out.stdout
        reason = "storage full" if disk_full(said) else f"exit {out.returncode}"
        raise TargetError(f"{argv[0]} on {where} failed ({reason}): {tail(said)}", stage=stage)
    return out


def copy_failed(verb: str, src: str, dst: str, said: str, *, where: str, stage: str, free_hint: str) -> TargetError:
    """The TargetError for a failed copy: ``storage full`` (with ``free_hint``) or the tool's words."""
    if disk_full(said):
        return TargetError(f"device storage full on {where}: {tail(said)}", stage=stage, hint=free_hint)
    return TargetError(f"{verb} {src} → {dst} failed: {tail(said)}", stage=stage)


# -- the transport ----------------------------------------------------------------------------------

class Transport(abc.ABC):
    """Runs argv lists on a device and moves files to and from it."""

    where: str = "device"
    copies: bool = True  # push() really copies (False: the device reads this machine's files in place)

    @abc.abstractmethod
    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = False,
            stage: str = "run", cwd: str | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` on the device (in directory ``cwd`` when given); stdout/stderr as text.
        ``check``: a non-zero exit raises TargetError (naming a full disk as such). RunnerTimeout
        after ``timeout`` seconds."""

    @abc.abstractmethod
    def push(self, local: Path, remote: str, *, stage: str = "deploy", timeout: float = 600) -> str:
        """Make the local file available on the device at ``remote``; returns the device path the
        file can be read from. TargetError (``storage full`` when so) on failure."""

    @abc.abstractmethod
    def pull(self, remote: str, local: Path, *, stage: str = "run", timeout: float = 600) -> None:
        """Copy a device file to ``local``. TargetError when it is missing or the copy fails."""

    def online(self) -> bool:
        """True when the device answers right now (used to tell a vanished device from a crash)."""
        return True

    def make_run_dir(self, base: str, *, stage: str = "deploy") -> str:
        """Create a fresh per-run directory ``BASE/edgebench-<id>`` (mode 700) and return its path."""
        remote_dir = f"{safe_path(base.rstrip('/') or '/', stage=stage).rstrip('/')}/edgebench-{new_run_id()}"
        self.run(["mkdir", "-m", "700", "-p", remote_dir], timeout=60, check=True, stage=stage)
        return remote_dir

    def remove_run_dir(self, remote_dir: str, base: str) -> None:
        """``rm -rf`` a per-run directory (only one named like one, under ``base``); an unreachable
        device becomes a RuntimeWarning naming what was left behind: the measurement is safe already."""
        if not RUN_DIR_NAME.match(remote_dir) or not remote_dir.startswith(base.rstrip("/") + "/"):
            raise TargetError(f"refusing to remove {remote_dir!r}: not a per-run directory", stage="cleanup")
        try:
            self.run(["rm", "-rf", remote_dir], timeout=60, check=True, stage="cleanup")
        except EdgebenchError as err:
            warnings.warn(f"could not remove {remote_dir} on {self.where}: {err}", RuntimeWarning, stacklevel=3)


def shell_line(argv: Sequence[str], cwd: str | None = None) -> str:
    """The one string a remote shell gets for ``argv``: every element quoted with shlex.quote,
    after ``cd DIR &&`` when ``cwd`` is given (a safe path only)."""
    line = " ".join(shlex.quote(str(a)) for a in argv)
    return f"cd {shlex.quote(safe_path(cwd, stage='run'))} && {line}" if cwd else line


class LocalTransport(Transport):
    """This machine: argv lists run as subprocesses (with ``env`` when given); a "pushed" file is
    read where it lies."""

    where = "this machine"
    copies = False

    def __init__(self, env: dict[str, str] | None = None):
        self.env = env

    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = False,
            stage: str = "run", cwd: str | None = None) -> subprocess.CompletedProcess:
        proc = invoke(argv, timeout=timeout, where=self.where, env=self.env, cwd=cwd)
        return as_text(proc, argv, check=check, where=self.where, stage=stage)

    def push(self, local: Path, remote: str, *, stage: str = "deploy", timeout: float = 600) -> str:
        """Nothing to copy: the local file's own absolute path."""
        path = Path(local).resolve()
        if not path.exists():
            raise TargetError(f"{local} does not exist", stage=stage)
        return str(path)

    def pull(self, remote: str, local: Path, *, stage: str = "run", timeout: float = 600) -> None:
        src = Path(remote)
        if not src.is_file():
            raise TargetError(f"{remote}: No such file", stage=stage)
        if src.resolve() != Path(local).resolve():
            try:
                shutil.copyfile(src, local)
            except OSError as exc:
                raise copy_failed("copy", remote, str(local), str(exc), where=self.where, stage=stage,
                                  free_hint="free space on this machine") from None

    def make_run_dir(self, base: str, *, stage: str = "deploy") -> str:
        """A fresh ``BASE/edgebench-<id>`` (mode 700) on this machine, any characters in ``base``."""
        path = Path(base) / f"edgebench-{new_run_id()}"
        try:
            path.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise TargetError(f"cannot create {path}: {exc}", stage=stage,
                              hint="free space on this machine" if disk_full(str(exc)) else None) from None
        return str(path)

    def remove_run_dir(self, remote_dir: str, base: str) -> None:
        path = Path(remote_dir)
        if not re.fullmatch(r"edgebench-[0-9a-f]{12}", path.name) or path.parent != Path(base):
            raise TargetError(f"refusing to remove {remote_dir!r}: not a per-run directory", stage="cleanup")
        shutil.rmtree(path, ignore_errors=True)
