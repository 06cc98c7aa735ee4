"""ExecuTorch (``executorch.runtime``): the ``forward`` method of a ``.pte`` program; the parts
lowered to a backend (XNNPACK) run there, the rest on ExecuTorch's CPU kernels.

Timed region: ``method.execute()`` on inputs copied in once by ``set_inputs`` before the loop.
(``executorch.runtime.Method.execute(inputs)`` is ``set_inputs`` + ``execute`` + ``get_outputs``;
calling the three parts times the inference alone, as for the other runtimes.)

Threads: the XNNPACK delegate takes ExecuTorch's process-wide threadpool when a method is
loaded, so ``--threads N`` resizes that pool before :meth:`load`. Without it the pool keeps
ExecuTorch's default size (one thread per core it finds); :attr:`threads_used` is the pool's
actual size either way and ``delegate`` names it. Resizing replaces the pool under any method
loaded before, so once a method is loaded in a process another size is refused (the runner is one
process per measurement).

ExecuTorch's native library logs to the process's stderr (file descriptor 2) while it builds the
threadpool and loads a program; that output is held back and quoted only when loading fails.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile

import numpy as np

from ..errors import RunnerError, one_line
from . import Runtime

METHOD = "forward"
_PROCESS = {"loaded": False}  # has this process loaded a method (which holds the threadpool)?
# ExecuTorch ScalarType codes (runtime/core/portable_type/scalar_type.h) → numpy dtype names
_DTYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32",
           7: "float64", 11: "bool"}


@contextlib.contextmanager
def _native_stderr(sink: list):
    """Redirect file descriptor 2 into a temporary file for the block; append what was written to
    ``sink`` (native libraries write there directly, past ``sys.stderr``)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            sink.append(tmp.read().decode("utf-8", "replace"))


def _last_lines(logs: list, n: int = 3) -> str:
    lines = [ln.strip() for text in logs for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


class ExecuTorchRuntime(Runtime):
    name = "executorch"
    module = "executorch"
    requires = ("torch",)  # executorch.runtime takes and returns torch tensors; its wheel does not pull torch
    dist = "executorch"
    timed_region = "execute"
    # executorch 1.5.1 on PyPI (Requires-Python >=3.10,<3.15): wheels for Linux x86_64 / aarch64
    # (manylinux_2_28: glibc >= 2.28), macOS arm64 and Windows x86_64; none for 32-bit ARM
    machines = ("x86_64", "aarch64", "arm64", "AMD64")
    python_min = (3, 10)
    install_hint = "install edgebench[executorch] (on a device: pip install executorch torch)"

    def __init__(self, path: str, threads: int | None, input_shape: list | None):
        super().__init__(path, threads, input_shape)
        try:
            with _native_stderr([]):
                import torch
                from executorch.extension.pybindings import portable_lib
                from executorch.runtime import Runtime as EtRuntime
                pool = int(portable_lib._threadpool_get_thread_count())
                if threads and int(threads) != pool and not _PROCESS["loaded"]:
                    portable_lib._unsafe_reset_threadpool(int(threads))
                    pool = int(portable_lib._threadpool_get_thread_count())
        except ImportError as exc:
            raise self._missing(exc)
        if threads and int(threads) != pool:
            raise RunnerError("runtime", "ExecuTorch's threadpool already runs %d threads in this process and "
                              "cannot be resized under a loaded method" % pool,
                              "measure each thread count in its own process (edgebench run does)")
        self.threads_used = pool
        try:
            from importlib.metadata import PackageNotFoundError, version
            self.version = version(self.dist)
        except (ImportError, PackageNotFoundError):
            from executorch.version import __version__
            self.version = __version__
        self.torch = torch
        self._et = EtRuntime.get()
        self._delegate = None
        self._method = None


    def available_delegates(self) -> list:
        """ExecuTorch fixes delegation when the program is lowered (``export --partitioner``), not at
        run time: the one name offered is what the program was lowered with (``xnnpack`` or
        ``portable``)."""
        return ["xnnpack" if "xnnpack" in self.delegate.lower() else "portable"]

    def select_delegate(self, name: str | None) -> None:
        """None or the program's own delegate; anything else is RunnerError("args") saying where
        ExecuTorch takes that choice (at export)."""
        offered = self.available_delegates()
        if name is not None and self.canonical_delegate(name) not in offered:
            raise RunnerError("args", "ExecuTorch runs the delegates its program was lowered with (%s); "
                              "--delegate %s cannot change that at run time" % (offered[0], name),
                              "export again with --partitioner xnnpack or --partitioner none")
        self.delegate_name = offered[0]

    @property
    def delegate(self) -> str:
        """The backends the program delegates to (or the portable kernels) and the threadpool size."""
        if self._delegate is None:
            backends = self._backends()
            self._delegate = "%s, %d threads" % ("+".join(backends) if backends else "portable kernels",
                                                 self.threads_used)
        return self._delegate

    def load(self) -> None:
        logs: list = []
        try:
            with _native_stderr(logs):
                program = self._et.load_program(self.path)
                if METHOD not in program.method_names:
                    raise RunnerError("load", "%s has no %r method (it has: %s)"
                                      % (os.path.basename(self.path), METHOD, ", ".join(sorted(program.method_names))),
                                      "export the model's forward with edgebench export")
                # the low-level method: set_inputs / execute / get_outputs as separate calls
                self._method = program.load_method(METHOD)._method
                _PROCESS["loaded"] = True
        except RunnerError:
            raise
        except Exception as exc:  # the pybindings raise RuntimeError / ValueError with a status code
            detail = _last_lines(logs)
            raise RunnerError("load", "ExecuTorch cannot load %s: %s%s" % (
                os.path.basename(self.path), one_line(exc), " [%s]" % detail if detail else ""),
                "re-export it with the installed executorch %s; a .pte is tied to the runtime's "
                "version and needs the backends it was lowered to" % self.version)
        self._meta = self._method.method_meta()

    def _backends(self) -> list:
        """Registered backends this program delegates to: the program's delegate table stores each
        backend id as a flatbuffer string (u32 length, UTF-8 bytes, NUL)."""
        try:
            names = self._et.backend_registry.registered_backend_names
            with open(self.path, "rb") as f:
                data = f.read()
        except (OSError, RuntimeError):
            return []
        return [n for n in names if struct.pack("<I", len(n)) + n.encode() + b"\0" in data]

    def inputs(self) -> list:
        meta = self._meta
        n = meta.num_inputs()
        out = []
        for i in range(n):
            t = meta.input_tensor_meta(i)
            code = int(t.dtype())
            if code not in _DTYPES:
                raise RunnerError("input", "input %d has ExecuTorch scalar type %d, which numpy cannot feed"
                                  % (i, code))
            out.append({"name": "input" if n == 1 else "input_%d" % i, "shape": [int(d) for d in t.sizes()],
                        "dtype": _DTYPES[code], "scale": None, "zero_point": None})
        return out

    def bind(self, feed: list) -> None:
        expected = self._meta.num_inputs()
        if len(feed) != expected:
            raise RunnerError("input", "the model has %d inputs, %d given" % (expected, len(feed)))
        tensors = [self.torch.from_numpy(np.ascontiguousarray(x)) for x in feed]
        try:
            self._method.set_inputs(tensors)  # copies into the program's planned input buffers
        except Exception as exc:  # noqa: BLE001 - shape / dtype mismatches surface as RuntimeError
            wanted = ", ".join("x".join(str(d) for d in e["shape"]) for e in self.inputs())
            raise RunnerError("input", "ExecuTorch rejected inputs of shape %s: %s"
                              % (", ".join("x".join(str(d) for d in x.shape) for x in feed), one_line(exc)),
                              "the program was exported for %s; re-export for another shape" % wanted)

    def invoke(self) -> None:
        self._method.execute()

    def outputs(self) -> list:
        # get_outputs clones by default: the arrays are the caller's
        return [o.numpy() for o in self._method.get_outputs() if isinstance(o, self.torch.Tensor)]

    def profile_ops(self, feed: list, runs: int) -> list:
        """ExecuTorch's ETDump: a second program loaded with ``enable_etdump=True`` runs the same
        inputs, its ETDump is written and read back with ``executorch.devtools.Inspector``; every
        operator event of the ``Execute`` block (XNNPACK's delegated ops, e.g. ``Convolution (NHWC,
        F32) IGEMM #1``, or portable kernels, ``native_call_convolution.out``) becomes a row; the
        wrapper events (``OPERATOR_CALL``, ``DELEGATE_CALL``, ``Method::execute``) do not. Only the
        last ``runs`` executions count (the warm-up ones before them do not)."""
        import re
        import shutil

        from ..ops import PROFILE_WARMUP, aggregate

        where = tempfile.mkdtemp(prefix="edgebench-etdump-")
        logs: list = []
        try:
            with _native_stderr(logs):
                program = self._et.load_program(self.path, enable_etdump=True)
                method = program.load_method(METHOD)._method
                method.set_inputs([self.torch.from_numpy(np.ascontiguousarray(x)) for x in feed])
                for _ in range(PROFILE_WARMUP + runs):
                    method.execute()
                etdump = os.path.join(where, "run.etdp")
                program.write_etdump_result_to_file(etdump, os.path.join(where, "debug.bin"))
                from executorch.devtools import Inspector

                blocks = Inspector(etdump_path=etdump).event_blocks
        except ImportError as exc:
            raise RunnerError("profile", "executorch.devtools is not importable (%s): ETDump cannot be read" % exc)
        except Exception as exc:  # noqa: BLE001 - a wheel built without the event tracer
            raise RunnerError("profile", "ExecuTorch ETDump failed: %s%s" % (
                one_line(exc), " [%s]" % _last_lines(logs) if _last_lines(logs) else ""))
        finally:
            shutil.rmtree(where, ignore_errors=True)
        events, seen = [], {}
        for block in blocks:
            if block.name != "Execute":
                continue
            for e in block.events:
                if e.name in ("OPERATOR_CALL", "DELEGATE_CALL") or e.name.startswith("Method::") \
                        or e.perf_data is None:
                    continue
                seen[e.name] = seen.get(e.name, 0) + 1  # a kernel name repeats per call site
                name = e.name if seen[e.name] == 1 else "%s [%d]" % (e.name, seen[e.name])
                op_type = re.sub(r" #\d+$", "", e.name)
                op_type = op_type[len("native_call_"):] if op_type.startswith("native_call_") else op_type
                backend = e.delegate_backend_name or (
                    ("+".join(self._backends()) or "delegate") if e.is_delegated_op else "portable kernels")
                events += [(op_type, name, ms, bool(e.is_delegated_op), backend) for ms in e.perf_data.raw[-runs:]]
        if not events:
            raise RunnerError("profile", "ExecuTorch's ETDump holds no operator events (was executorch built "
                                         "without its event tracer, EXECUTORCH_BUILD_DEVTOOLS?)")
        return aggregate(events, runs)
