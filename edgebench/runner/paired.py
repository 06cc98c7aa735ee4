"""Paired timing: several artifacts in one process, timed interleaved in rounds (A B C, B C A, …).

Each artifact gets one warm session (its runtime loaded once, inputs bound once, same thread
count for all); within a round each session runs one short block of calls (a few untimed calls
to bring its weights back into the caches, then at least ``min_runs`` calls and ``min_seconds``),
and each round keeps every session's median. Because the blocks of one round follow each other
within a second or so, the per-round *ratio* to an anchor cancels what the machine was doing at
the time (another user's job, a frequency change): the ratio's spread over rounds is far smaller
than any one artifact's (see :func:`measure_interleaved` for why blocks and not alternating calls).

    python -m edgebench.runner.paired --json OUT.json --threads 1 --rounds 7 \\
        mine=litert:model.tflite ref=litert:mobilenet_v2.tflite --anchor ref
    python -m edgebench.runner --paired …   /   python3 runner.pyz --paired …   (the same; :func:`command`)

Part of the runner leaf: imports nothing from edgebench outside ``edgebench.runner``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from .errors import RunnerError, one_line
from .inputs import resolve_shape, synthetic_feed
from .probes import affinity
from .runtimes import get_runtime


class Session(Protocol):
    """What paired timing needs of a loaded, bound runtime (:class:`edgebench.runner.runtimes.Runtime`)."""

    def invoke(self) -> None: ...


@dataclass(frozen=True)
class PairedResult:
    """Per-round medians (ms) of every artifact and per-round ratios to the anchor.

    ``round_medians_ms[name][r]`` is artifact ``name``'s median in round ``r``;
    ``ratios[name][r] = round_medians_ms[name][r] / round_medians_ms[anchor][r]``."""

    anchor: str
    threads: int | None
    rounds: int
    round_medians_ms: dict[str, list[float]]
    ratios: dict[str, list[float]]
    runs_per_round: dict[str, list[int]] = field(default_factory=dict)
    runtimes: dict[str, str] = field(default_factory=dict)
    timer: str = "wall"  # what round_medians_ms measure: "wall" (perf_counter) or "cpu" (see cpu_timer)
    wall_round_medians_ms: dict[str, list[float]] = field(default_factory=dict)
    cpus_allowed: int | None = None  # CPUs the process could run on (taskset / cgroup affinity)

    @property
    def effective_threads(self) -> int:
        """Threads that could really run in parallel: min(threads, CPUs allowed)."""
        t = self.threads or 1
        return min(t, self.cpus_allowed) if self.cpus_allowed else t

    def median_ms(self, name: str) -> float:
        """Median over rounds of ``name``'s per-round medians (ms)."""
        return statistics.median(self.round_medians_ms[name])

    def ratio(self, name: str, to: str | None = None) -> float:
        """Median over rounds of ``name`` / ``to`` (default: the anchor), round by round."""
        if to is None or to == self.anchor:
            return statistics.median(self.ratios[name])
        return statistics.median(a / b for a, b in zip(self.round_medians_ms[name], self.round_medians_ms[to]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PairedResult":
        return cls(**dict(d))


def cpu_timer(threads: int | None) -> Callable[[], float]:
    """CPU seconds of the calling thread for a 1-thread session (the runtimes run a 1-thread
    inference on the caller), else of the whole process: time the machine's other users take
    from us (a preemption mid-call) is not counted."""
    return time.thread_time if threads == 1 else time.process_time


def measure_interleaved(sessions: Mapping[str, Session], *, anchor: str, rounds: int = 7, min_runs: int = 5,
                        min_seconds: float = 0.25, warmup_runs: int = 3, threads: int | None = None,
                        clock: Callable[[], float] = time.perf_counter,
                        timer: Callable[[], float] | None = None, timer_name: str = "wall",
                        settle_runs: int = 2) -> PairedResult:
    """Time ``sessions`` (name → a bound session) in ``rounds`` rounds; within a round each session
    in turn runs one block — ``settle_runs`` untimed calls, then timed calls until it has
    ``min_runs`` of them and the block has lasted ``min_seconds`` — and the round keeps every
    session's median. The order of the blocks rotates from round to round (A B, B A, …).
    ``clock`` (wall) bounds the blocks and is recorded in ``wall_round_medians_ms``; ``timer``
    (default: ``clock``) times each call for ``round_medians_ms`` and the ratios — a CPU-time
    timer (:func:`cpu_timer`) keeps a crowded machine's preemptions out of the ratios.

    Blocks, not alternating calls: with calls alternating (A B A B …) each artifact always ran with
    the other's weights in the caches, and the paired ratio sat far from the steady state of each
    (measured, MobileNetV2 fp32 ÷ int8, 1 thread, CPU time, AMD EPYC: onnxruntime 2.00× alternating
    vs 2.58× in blocks vs 2.56× from two long loops; LiteRT 2.10× / 2.24× / 2.16×). A round of
    blocks still lasts well under a second per session, so a slow drift of the machine's load hits
    every artifact of a round alike and the per-round ratio cancels it.

    Every session is warmed up ``warmup_runs`` times first (XNNPACK packs weights on the first
    invokes). Raises ValueError when ``anchor`` is not one of the sessions or ``rounds`` < 1."""
    if anchor not in sessions:
        raise ValueError(f"anchor {anchor!r} is not one of {sorted(sessions)}")
    if rounds < 1 or min_runs < 1:
        raise ValueError("rounds and min_runs must be ≥ 1")
    for s in sessions.values():
        for _ in range(warmup_runs):
            s.invoke()
    timer = timer or clock
    names = list(sessions)
    medians: dict[str, list[float]] = {n: [] for n in sessions}
    walls: dict[str, list[float]] = {n: [] for n in sessions}
    counts: dict[str, list[int]] = {n: [] for n in sessions}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            s = sessions[name]
            for _ in range(settle_runs):  # this artifact's weights back into the caches
                s.invoke()
            samples: list[float] = []
            wall: list[float] = []
            start = clock()
            while len(samples) < min_runs or clock() - start < min_seconds:
                w0, t0 = clock(), timer()
                s.invoke()
                t1, w1 = timer(), clock()
                samples.append((t1 - t0) * 1e3)
                wall.append((w1 - w0) * 1e3)
            medians[name].append(statistics.median(samples))
            walls[name].append(statistics.median(wall))
            counts[name].append(len(samples))
    ratios = {n: [a / b for a, b in zip(m, medians[anchor])] for n, m in medians.items()}
    return PairedResult(anchor=anchor, threads=threads, rounds=rounds, round_medians_ms=medians, ratios=ratios,
                        runs_per_round=counts, timer=timer_name, wall_round_medians_ms=walls)


def open_session(runtime: str, path: str, threads: int | None, input_shape: list[int] | None = None) -> Any:
    """Load ``path`` with the runner runtime ``runtime`` and bind the runner's synthetic inputs
    (the same data the timed loop feeds): a session ready for :func:`measure_interleaved`.
    Raises RunnerError (stage runtime / load / input) when it cannot."""
    rt = get_runtime(runtime)(str(path), threads, input_shape)
    try:
        rt.load()
    except RunnerError:
        raise
    except Exception as exc:  # native runtimes raise their own types for a bad file
        raise RunnerError("load", "cannot load %s with %s: %s" % (path, runtime, one_line(exc))) from None
    inputs = rt.inputs()
    rt.bind([synthetic_feed(inp, resolve_shape(inp, input_shape if len(inputs) == 1 else None))
             for inp in inputs])
    return rt


def measure_paired(entries: Sequence[tuple], *, anchor: str, threads: int | None = None,
                   rounds: int = 7, min_runs: int = 5, min_seconds: float = 0.25,
                   input_shape: list[int] | None = None, timer: str = "cpu",
                   shapes: Mapping[str, list[int]] | None = None, warmup_runs: int = 3) -> PairedResult:
    """Open one session per ``(name, runtime, path)`` and time them interleaved (see module doc);
    ``shapes[name]`` (else ``input_shape``) is the input shape for a file that does not record
    it; ``timer`` "cpu" (default, :func:`cpu_timer`) or "wall" decides what the ratios are taken of;
    every session is warmed up ``warmup_runs`` times first."""
    if timer not in ("cpu", "wall"):
        raise ValueError("timer must be cpu or wall, not %r" % timer)
    shapes = shapes or {}
    sessions = {name: open_session(runtime, path, threads, shapes.get(name, input_shape))
                for name, runtime, path in entries}
    result = measure_interleaved(sessions, anchor=anchor, rounds=rounds, min_runs=min_runs,
                                 min_seconds=min_seconds, threads=threads, warmup_runs=warmup_runs,
                                 timer=cpu_timer(threads) if timer == "cpu" else None, timer_name=timer)
    cpus = affinity()
    return PairedResult(**{**result.to_dict(), "runtimes": {n: r for n, r, _ in entries},
                           "cpus_allowed": len(cpus) if cpus else None})


def command(entry: Sequence[str], entries: Sequence[tuple], out_json: str, *, anchor: str | None = None,
            threads: int | None = None, rounds: int = 7, min_runs: int = 5, min_seconds: float = 0.25,
            warmup_runs: int = 3, input_shape: Sequence[int] | None = None,
            shapes: Mapping[str, Sequence[int]] | None = None, timer: str = "cpu") -> list[str]:
    """What follows the interpreter on a paired runner's command line (a list, never a shell
    string): ``entry`` (``["-m", "edgebench.runner"]`` locally, the ``runner.pyz`` path on a device),
    ``--paired`` and this module's flags; ``entries`` are ``(name, runtime, model path)``."""
    argv = [*map(str, entry), "--paired", "--json", out_json, "--rounds", str(rounds), "--min-runs", str(min_runs),
            "--min-seconds", repr(float(min_seconds)), "--warmup-runs", str(warmup_runs), "--timer", timer]
    if anchor:
        argv += ["--anchor", anchor]
    if threads:
        argv += ["--threads", str(threads)]
    if input_shape:
        argv += ["--input-shape", ",".join(str(d) for d in input_shape)]
    for name, dims in sorted((shapes or {}).items()):
        argv += ["--shape", "%s=%s" % (name, ",".join(str(d) for d in dims))]
    return argv + ["%s=%s:%s" % (name, runtime, path) for name, runtime, path in entries]


def _shape(text: str) -> tuple[str, list[int]]:
    name, _, dims = text.partition("=")
    try:
        return name, [int(d) for d in dims.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not NAME=d,d,d,d" % text) from None


def _entry(text: str) -> tuple[str, str, str]:
    name, _, rest = text.partition("=")
    runtime, _, path = rest.partition(":")
    if not name or not runtime or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=RUNTIME:PATH")
    return name, runtime, path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: time NAME=RUNTIME:PATH artifacts interleaved; write the PairedResult JSON."""
    ap = argparse.ArgumentParser(prog="python -m edgebench.runner.paired", description=__doc__.splitlines()[0])
    ap.add_argument("entries", nargs="+", type=_entry, metavar="NAME=RUNTIME:PATH")
    ap.add_argument("--anchor", help="name to take ratios to (default: the first)")
    ap.add_argument("--json", required=True, help="output file")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-runs", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=0.25)
    ap.add_argument("--warmup-runs", type=int, default=3, help="untimed calls per session before the rounds")
    ap.add_argument("--input-shape", help="e.g. 1,3,224,224: for models whose input shape is not in the file")
    ap.add_argument("--shape", type=_shape, action="append", default=[], metavar="NAME=1,3,224,224",
                    help="input shape of one entry whose file does not record it (repeatable)")
    ap.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                    help="what the ratios are taken of: CPU time (default; preemptions on a shared machine "
                         "do not count) or wall time")
    args = ap.parse_args(argv)
    try:
        shape = [int(d) for d in args.input_shape.split(",")] if args.input_shape else None
    except ValueError:
        ap.error("--input-shape %r is not a comma-separated list of integers" % args.input_shape)
    try:
        result = measure_paired(args.entries, anchor=args.anchor or args.entries[0][0], threads=args.threads,
                                rounds=args.rounds, min_runs=args.min_runs, min_seconds=args.min_seconds,
                                input_shape=shape, timer=args.timer, shapes=dict(args.shape),
                                warmup_runs=args.warmup_runs)
    except (RunnerError, ValueError) as err:
        print("paired: %s" % one_line(err), file=sys.stderr)
        return 1
    with open(args.json, "w") as fh:
        json.dump(result.to_dict(), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
