"""The timed region travels RawSamples → RunResult → compare table (issue 16)."""

from __future__ import annotations

import sys
from pathlib import Path

from edgebench.harness.measure import timed_region
from edgebench.results.compare import compare_rows
from edgebench.results.model import RunResult, from_json, to_json
from edgebench.results.render import render

sys.path.insert(0, str(Path(__file__).parent))
from test_compare import _run  # noqa: E402


def test_timed_region_from_raw_samples():
    assert timed_region({"timed_region": "invoke", "include_io": False}) == "invoke"
    assert timed_region({"timed_region": "invoke+io", "include_io": True}) == "invoke+io"
    assert timed_region({"include_io": True}) == "invoke+io"  # a runner that only reports the flag
    assert timed_region({"include_io": False}) is None  # not stated: not guessed


def test_run_result_round_trips_and_old_records_load():
    r = _run("fp32", 10.0, timed_region="invoke+io")
    assert from_json(to_json(r)).timed_region == "invoke+io"
    old = r.to_dict()
    del old["timed_region"]
    assert RunResult.from_dict(old).timed_region is None


def test_compare_marks_include_io_rows_and_never_mixes_them_in_a_speedup():
    rows = compare_rows([
        _run("fp32", 10.0, timed_region="invoke+io", created="2026-01-01T00:00:01+00:00"),
        _run("int8", 4.0, timed_region="invoke", created="2026-01-01T00:00:02+00:00"),
        _run("fp32", 8.0, target="ssh:pi@x", timed_region="invoke"),
        _run("int8", 2.0, target="ssh:pi@x", timed_region="invoke"),
    ])
    by = {(r["variant"], r["target"]): r for r in rows}
    assert by[("fp32", "local")]["include_io"] is True and by[("int8", "local")]["include_io"] is False
    assert by[("int8", "local")]["speedup"] is None  # its fp32 baseline timed more than the inference
    assert by[("int8", "ssh:pi@x")]["speedup"] == 4.0
    table = render(rows, "markdown")
    io_line = next(line for line in table.splitlines() if "| fp32 | local |" in line)
    plain_line = next(line for line in table.splitlines() if "| int8 | local |" in line)
    assert "+io" in io_line and "+io" not in plain_line
    assert table.rstrip().endswith("other rows time the inference call alone")  # the legend
    assert "timed with --include-io" in render(rows, "table", width=400)
    assert "--include-io" not in render([r for r in rows if not r["include_io"]], "markdown")
    assert '"timed_region": "invoke+io"' in render(rows, "json")
