"""Runtimes: one module per inference library, each defining one :class:`Runtime` subclass.

A runtime module imports its library lazily (in ``__init__``), so discovering every runtime costs
nothing and a missing library is a reason (:meth:`Runtime.unavailable_reason`), not an ImportError.
Discovery walks this package with :mod:`pkgutil`, which also works inside the ``runner.pyz`` zipapp.

The protocol the timed loop and batch mode share (issue 16: time what the peers time)::

    rt = RUNTIMES["litert"](path, threads, input_shape)
    rt.load()                    # timed as load_ms
    rt.inputs()                  # names, shapes, dtypes, quantisation
    rt.bind(feed)                # untimed: copy inputs in, pre-create output buffers
    rt.invoke()                  # TIMED: the inference call only
    rt.outputs()                 # untimed (unless --include-io): copy outputs out
    rt.delegation()              # after the run: which nodes the delegate / execution provider took

``--delegate NAME`` picks a delegate (LiteRT) or execution provider (ONNX Runtime) before
``load``: :meth:`Runtime.available_delegates` lists the names a runtime takes here, the first being
its default; :meth:`Runtime.select_delegate` refuses any other name in one line that lists them.
Names are case-insensitive aliases of one canonical name (:meth:`Runtime.canonical_delegate`:
``CPU`` / ``CPUExecutionProvider`` → ``cpu``); ``default_delegate`` is the name used without
``--delegate`` where that does not depend on the model file, so a caller can tell that the
explicitly named default and no flag are the same measurement.
"""

from __future__ import annotations

import abc
import importlib
import importlib.util
import pkgutil
import sys

from ..errors import RunnerError

RUNTIMES: dict = {}
_PLATFORM_NAMES = {"darwin": "macOS", "linux": "Linux", "win32": "Windows"}


class Runtime(abc.ABC):
    """One inference library running one model file.

    Class attributes (data, read without instantiating): ``name`` (registry key), ``module`` (import
    name probed on a device), ``requires`` (further import names the library needs but does not
    install itself), ``dist`` (pip distribution that installs it), ``platforms``
    (``sys.platform`` prefixes it runs on; empty = any), ``machines`` / ``python_min`` (the
    ``platform.machine()`` values and the lowest Python ``dist`` publishes wheels for; empty = no
    known limit, see :meth:`device_reason`), ``timed_region`` (the library call that
    :meth:`invoke` times), ``install_hint``. Instance attributes after ``__init__``: ``version``,
    ``delegate`` (execution provider / delegate in use, or None)."""

    name: str = ""
    module: str = ""
    requires: tuple = ()
    dist: str = ""
    platforms: tuple = ()
    machines: tuple = ()
    python_min: tuple = ()
    timed_region: str = "invoke"
    install_hint: str | None = None
    version: str | None = None
    delegate: str | None = None
    # canonical name of the delegate used without --delegate; None where it depends on the file
    default_delegate: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            RUNTIMES[cls.name] = cls

    def __init__(self, path: str, threads: int | None, input_shape: list | None):
        """Import the library (RunnerError("runtime") naming what to install when it is missing;
        RunnerError("unsupported") on a platform it does not run on). Does not read the file."""
        self.path = str(path)
        self.threads = threads
        self.input_shape = list(input_shape) if input_shape else None
        self.delegate_name: str | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this runtime cannot run here (wrong platform, library not installed), or None."""
        if cls.platforms and not any(sys.platform.startswith(p) for p in cls.platforms):
            return "unsupported here: %s needs %s" % (cls.name, " or ".join(_PLATFORM_NAMES.get(p, p)
                                                                             for p in cls.platforms))
        for module in (cls.module,) + tuple(cls.requires):
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return "%s is not installed: %s" % (module, cls.install_hint or "pip install " + cls.dist)
        return None

    @classmethod
    def device_reason(cls, machine: str | None, python: str | None) -> str | None:
        """Why ``dist`` cannot be pip-installed on a device whose ``platform.machine()`` is
        ``machine`` and whose Python is ``python`` (``"3.9"``): no wheel for that machine or Python.
        None when it can, or when the device did not say."""
        if cls.machines and machine and machine not in cls.machines:
            return "%s publishes no wheel for %s (only %s)" % (cls.dist, machine, ", ".join(cls.machines))
        if cls.python_min and python:
            try:
                version = tuple(int(p) for p in python.split(".")[:2])
            except ValueError:
                return None
            if version < tuple(cls.python_min):
                return "%s publishes no wheel for Python %s (needs >= %s)" % (
                    cls.dist, python, ".".join(str(p) for p in cls.python_min))
        return None

    def available_delegates(self) -> list:
        """Delegate / execution-provider names this runtime takes here (lower case), its default
        first. A runtime without a delegate choice offers only its one fixed name."""
        return [self.delegate.lower()] if self.delegate else ["default"]

    @classmethod
    def canonical_delegate(cls, name: str | None) -> str | None:
        """The canonical (lower-case) name of delegate ``name`` as typed (case-insensitive; a
        runtime may accept further aliases), None for None. Needs no library: callers use it to
        name a row's delegate before anything runs."""
        return name.strip().lower() if name is not None else None

    def select_delegate(self, name: str | None) -> None:
        """Use delegate ``name`` (None: the default; any alias :meth:`canonical_delegate` takes)
        from :meth:`load` on. RunnerError("args") naming the available ones when this runtime does not
        take ``name`` here."""
        offered = self.available_delegates()
        if name is None:
            self.delegate_name = offered[0]
            return
        if self.canonical_delegate(name) not in offered:
            raise RunnerError("args", "unknown delegate %r for %s" % (name, self.name),
                              "available here: " + ", ".join(offered))
        self.delegate_name = self.canonical_delegate(name)

    def delegation(self) -> dict | None:
        """Delegate coverage of the loaded model, from the runtime itself: ``{delegate,
        delegated_nodes, total_nodes, partitions, fallback_ops: {op: count}}`` (nodes of the
        runtime's own graph; ``partitions``: delegate subgraphs, None where the runtime has no
        such notion), or None when this runtime cannot tell."""
        return None

    def _missing(self, exc: BaseException) -> RunnerError:
        return RunnerError("runtime", "%s is not installed (%s)" % (self.dist, exc),
                           self.install_hint or "pip install " + self.dist)

    @abc.abstractmethod
    def load(self) -> None:
        """Load the model file (timed as load_ms)."""

    @abc.abstractmethod
    def inputs(self) -> list:
        """``[{name, shape (None for a dynamic dim; None for an unknown shape), dtype (numpy name),
        scale, zero_point}]`` — scale / zero_point are None for a float input."""

    @abc.abstractmethod
    def bind(self, feed: list) -> None:
        """Hand ``feed`` (numpy arrays in the inputs' dtypes, concrete shapes) to the runtime and
        prepare everything :meth:`invoke` needs. Outside the timed region (unless --include-io)."""

    @abc.abstractmethod
    def invoke(self) -> None:
        """One inference on the bound inputs: the timed region (``timed_region`` names the call)."""

    @abc.abstractmethod
    def outputs(self) -> list:
        """The last :meth:`invoke`'s outputs as numpy arrays the caller owns (copies)."""

    def output_quant(self) -> list:
        """(scale, zero_point) per output, or None for a float output (an empty list: all float)."""
        return []

    def profile_ops(self, feed: list, runs: int) -> list:
        """Per-operator timings of ``runs`` inferences on ``feed``, in a profiling session of its
        own (opened here, after the timed loop, never the timed one): rows of
        :mod:`edgebench.runner.ops`, slowest first. RunnerError("profile") naming why when the
        library's Python API offers no per-operator timing (the default)."""
        raise RunnerError("profile", "%s offers no per-operator timing through its Python API" % self.name)


def get_runtime(name: str) -> type:
    """The Runtime class registered as ``name``; RunnerError("args") listing the known names."""
    try:
        return RUNTIMES[name]
    except KeyError:
        raise RunnerError("args", "unknown runtime %r" % name, "one of " + ", ".join(sorted(RUNTIMES)))


def _discover() -> None:
    # pkgutil.iter_modules understands both a directory and a zipimport path (runner.pyz)
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg and not info.name.startswith("_"):
            importlib.import_module("%s.%s" % (__name__, info.name))


_discover()

__all__ = ["RUNTIMES", "Runtime", "RunnerError", "get_runtime"]
