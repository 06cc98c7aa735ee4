"""Paired timing (edgebench.runner.paired): interleaving, per-round medians and ratios, exactly,
with sessions whose invoke advances a fake clock."""

from __future__ import annotations

import pytest

from edgebench.runner import paired as R


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.log: list[str] = []

    def __call__(self) -> float:
        return self.t


class FakeSession:
    """invoke() takes ``ms[round]`` on the fake clock (the 'machine load' of that round)."""

    def __init__(self, name: str, clock: Clock, ms_by_call):
        self.name, self.clock, self.ms_by_call, self.calls = name, clock, ms_by_call, 0

    def invoke(self) -> None:
        self.clock.t += self.ms_by_call(self.calls) / 1e3
        self.clock.log.append(self.name)
        self.calls += 1


def test_rounds_of_blocks_and_ratios_cancel_the_load():
    clock = Clock()
    # round r is slowed by a factor (1, 3, 2) for everybody: a busy machine; every call of a
    # round's block (2 settling calls + 5 timed) runs at that round's load
    load = [1.0, 3.0, 2.0]
    warm, settle, timed = 2, 2, 5
    a = FakeSession("a", clock, lambda i: 10.0 * load[(i - warm) // (settle + timed)] if i >= warm else 99.0)
    b = FakeSession("b", clock, lambda i: 5.0 * load[(i - warm) // (settle + timed)] if i >= warm else 99.0)
    res = R.measure_interleaved({"a": a, "b": b}, anchor="b", rounds=3, min_runs=timed, min_seconds=0.0,
                                warmup_runs=warm, clock=clock, settle_runs=settle)
    assert clock.log[:4] == ["a", "a", "b", "b"]  # warm-up each
    blocks = ["a"] * 7 + ["b"] * 7, ["b"] * 7 + ["a"] * 7, ["a"] * 7 + ["b"] * 7  # the order rotates
    assert clock.log[4:] == [n for block in blocks for n in block]
    assert res.round_medians_ms["a"] == pytest.approx([10.0, 30.0, 20.0])
    assert res.round_medians_ms["b"] == pytest.approx([5.0, 15.0, 10.0])
    assert res.ratios["a"] == pytest.approx([2.0, 2.0, 2.0]) and res.ratio("a") == pytest.approx(2.0)
    assert res.ratio("b", to="a") == pytest.approx(0.5) and res.median_ms("a") == pytest.approx(20.0)
    assert res.runs_per_round["a"] == [5, 5, 5]
    assert R.PairedResult.from_dict(res.to_dict()) == res


def test_a_cold_first_call_after_the_other_artifact_stays_out_of_the_median():
    """What alternating calls got wrong: each artifact's first call after another's is slow (its
    weights were evicted); the settling calls absorb it, so the ratio is the steady-state one."""
    clock = Clock()
    last = [None]

    class Cached:
        def __init__(self, name: str, ms: float):
            self.name, self.ms = name, ms

        def invoke(self) -> None:
            cold = last[0] not in (None, self.name)
            clock.t += (self.ms + (10.0 if cold else 0.0)) / 1e3  # refetching weights: the same for both
            last[0] = self.name

    res = R.measure_interleaved({"a": Cached("a", 4.0), "b": Cached("b", 1.0)}, anchor="b", rounds=4, min_runs=5,
                                min_seconds=0.0, warmup_runs=0, clock=clock)
    assert res.ratios["a"] == pytest.approx([4.0] * 4)


def test_min_seconds_extends_a_round():
    clock = Clock()
    s = FakeSession("a", clock, lambda i: 100.0)
    t = FakeSession("b", clock, lambda i: 50.0)
    res = R.measure_interleaved({"a": s, "b": t}, anchor="a", rounds=2, min_runs=1, min_seconds=0.2,
                                warmup_runs=0, clock=clock)
    # each block lasts ≥ 0.2 s (after 2 settling calls): a 100 ms call → 2 timed calls, 50 ms → 4
    assert res.runs_per_round == {"a": [2, 2], "b": [4, 4]}


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="anchor 'x'"):
        R.measure_interleaved({"a": FakeSession("a", Clock(), lambda i: 1.0)}, anchor="x")
    with pytest.raises(ValueError, match="rounds"):
        R.measure_interleaved({"a": FakeSession("a", Clock(), lambda i: 1.0)}, anchor="a", rounds=0)


def test_command_line_times_real_runtime_sessions(tmp_path, tiny_cnn, capsys):
    import json

    import torch

    small = tmp_path / "small.pt"
    torch.jit.trace(tiny_cnn, torch.randn(1, 3, 32, 32)).save(str(small))
    out = tmp_path / "paired.json"
    code = R.main(["--json", str(out), "--threads", "1", "--rounds", "3", "--min-runs", "2", "--min-seconds", "0",
                   "--anchor", "b", "--input-shape", "1,3,32,32", f"a=torch:{small}", f"b=torch:{small}"])
    assert code == 0
    res = R.PairedResult.from_dict(json.loads(out.read_text()))
    assert res.rounds == 3 and res.threads == 1 and res.runtimes == {"a": "torch", "b": "torch"}
    assert res.cpus_allowed >= 1 and res.effective_threads == 1
    assert len(res.ratios["a"]) == 3 and res.ratios["b"] == [1.0, 1.0, 1.0]
    assert all(m > 0 for m in res.round_medians_ms["a"])
    # a missing file is one line naming the stage, exit ≠ 0
    assert R.main(["--json", str(out), f"a=torch:{tmp_path / 'nope.pt'}"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("paired: load:")


def test_cpu_timer_keeps_preemption_out_of_the_ratios():
    wall, cpu = Clock(), Clock()

    class Preempted:
        """Takes ``ms`` of CPU; every third call is preempted for 20 ms of wall time."""

        def __init__(self, ms: float):
            self.ms, self.calls = ms, 0

        def invoke(self) -> None:
            self.calls += 1
            cpu.t += self.ms / 1e3
            wall.t += (self.ms + (20.0 if self.calls % 3 == 0 else 0.0)) / 1e3

    res = R.measure_interleaved({"a": Preempted(4.0), "b": Preempted(1.0)}, anchor="b", rounds=2, min_runs=6,
                                min_seconds=0.0, warmup_runs=0, clock=wall, timer=cpu, timer_name="cpu")
    assert res.timer == "cpu" and res.round_medians_ms["a"] == pytest.approx([4.0, 4.0])
    assert res.ratios["a"] == pytest.approx([4.0, 4.0])
    assert res.wall_round_medians_ms["b"] == pytest.approx([1.0, 1.0])  # median of 1,1,21,1,1,21
    assert R.cpu_timer(1) is __import__("time").thread_time
