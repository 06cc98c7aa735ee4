"""A progress line per long export stage with its elapsed time (issue 12 item 10)."""

from __future__ import annotations

from edgebench.exporters import export
from edgebench.exporters.progress import listen, stage
from edgebench.spec import ExportSpec, ModelSpec


def test_stage_reports_start_and_duration():
    seen = []
    previous = listen(lambda name, s: seen.append((name, s)))
    try:
        with stage("lowering"):
            pass
    finally:
        listen(previous)
    assert seen[0] == ("lowering", None) and seen[1][0] == "lowering" and seen[1][1] >= 0
    with stage("silent"):  # no listener: nothing happens
        pass


def test_export_reports_each_stage(tiny_zoo_entry, tmp_path):
    seen = []
    previous = listen(lambda name, s: seen.append((name, s)))
    try:
        rows = export(ModelSpec(name="tiny_cnn"), ExportSpec(formats=("torchscript",), out_dir=tmp_path,
                                                              calibration_samples=2, parity_samples=2))
    finally:
        listen(previous)
    assert rows[0].status.value == "OK"
    finished = [name for name, s in seen if s is not None]
    started = [name for name, s in seen if s is None]
    assert sorted(finished) == sorted(started)  # every stage that starts reports its end
    for expected in ("calibration and parity inputs", "eager reference", "torch.jit.trace",
                     "torchscript fp32: convert", "torchscript fp32: parity"):
        assert expected in finished, seen
