"""`edgebench report` rendered by a real headless Chromium: no script or console errors, every plot
has a size, the tables hold the store's rows, nothing is fetched from the network."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebench.results import Store
from edgebench.results.model import ArtifactInfo, ErrorInfo, LatencyStats, Projection, RunResult, Status

EDGEBENCH = str(Path(sys.executable).with_name("edgebench"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MB = 1024 * 1024


def chromium(url: str, profile: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Headless Chromium on ``url`` with no network side-channels (``extra``: --dump-dom / --screenshot=…)."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--virtual-time-budget=5000", *extra, url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def _run(fmt, variant, p50, *, status=Status.OK, size_mb=10.0, top1=1.0, packed=None, ops=None, error=None,
         warnings=()) -> RunResult:
    rng = np.random.default_rng(len(fmt) * 7 + len(variant))
    samples = None
    lat = None
    if p50 is not None:
        it = list(p50 * (1 + 0.03 * rng.standard_normal(40)))
        q = np.percentile(it, [25, 50, 75, 90, 99])
        lat = LatencyStats(n=40, mean_ms=float(np.mean(it)), std_ms=float(np.std(it)), min_ms=min(it),
                           p50_ms=float(q[1]), p90_ms=float(q[3]), p99_ms=float(q[4]), max_ms=max(it),
                           iqr_ms=float(q[2] - q[0]), cv=0.03, median_ci_low_ms=float(q[1]) * 0.98,
                           median_ci_high_ms=float(q[1]) * 1.02, outliers=0)
        samples = {"iterations_ms": it, "runtime": "rt-" + fmt, "runtime_version": "1.0", "threads": 2,
                   "host": {"cpu_model": "Test CPU", "cores": 2, "hostname": "box", "arch": "x86_64"},
                   "input_shapes": [[1, 3, 32, 32]]}
        if ops:
            samples["op_profile"] = ops
    art = ArtifactInfo(path=f"artifacts/tiny/tiny-{variant}.{fmt}", format=fmt, variant=variant,
                       size_bytes=int(size_mb * MB), gzip_bytes=int(size_mb * 0.9 * MB), sha256="ab" * 32,
                       params=2_500_000, macs=56_000_000, packed_1bit_bytes=packed)
    return RunResult(model="tiny", format=fmt, variant=variant, target="local", status=status, artifact=art,
                     latency=lat, samples=samples, memory={"peak_rss_bytes": 90 * MB, "model_peak_bytes": 20 * MB},
                     parity={"vs_eager": {"top1_agreement": top1, "sqnr_db": 40.0 if top1 == 1 else 12.0, "n": 8}},
                     environment={"edgebench": "0.1.0", "python": "3.11", "libraries": {"numpy": "2.0"}},
                     error=error, warnings=tuple(warnings))


@pytest.fixture
def store(tmp_path) -> tuple[Path, list[RunResult]]:
    ops = [{"op_type": "Conv", "name": f"conv{i}", "total_ms": 10.0 - i, "mean_ms": (10.0 - i) / 40,
            "share": (10.0 - i) / 60, "delegated": i % 2 == 0} for i in range(12)]
    runs = [_run("fa", "fp32", 10.0, warnings=["CV 6% > 5%: noisy <timings>"]),
            _run("fa", "int8", 4.0, size_mb=2.6, top1=0.875, ops=ops),
            _run("fb", "fp32", 8.0), _run("fb", "int8", 5.0, size_mb=2.7),
            _run("fb", "binarized", 6.0, size_mb=9.0, packed=400_000, top1=0.25),
            _run("fc", "fp32", None, status=Status.UNSUPPORTED, error=ErrorInfo("unsupported", "needs macOS"))]
    db = tmp_path / "results.db"
    with Store(db) as s:
        for r in runs:
            s.add(r)
            if r.latency is not None:
                for t in ("1-big", "all-big"):
                    s.add(Projection(run_id=r.run_id, profile="mid", tier="mid", threads=t,
                                     point_ms=r.latency.p50_ms * 3, low_ms=r.latency.p50_ms * 2.4,
                                     high_ms=r.latency.p50_ms * 3.6, method="test-method"))
    return db, runs


def test_report_renders_in_chromium(store, tmp_path):
    db, runs = store
    out = tmp_path / "report dir" / "report.html"
    proc = subprocess.run([EDGEBENCH, "--db", str(db), "report", "--out", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    # self-contained: nothing to fetch (namespace URIs inside SVG are identifiers, not requests)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<link" not in text and "@import" not in text
    assert "noisy &lt;timings&gt;" in text  # warnings are escaped, not injected

    dom = chromium(out.as_uri(), tmp_path / "chrome", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    check = json.loads(re.search(r'<pre id="eb-selfcheck">(.*?)</pre>', dom.stdout, re.S).group(1))
    assert check["errors"] == []
    # measured scatter, projected-tier scatter, size, speed-up, memory
    assert len(check["plots"]) == 5
    assert all(p["width"] > 100 and p["height"] > 100 for p in check["plots"]), check["plots"]
    assert check["rows"] == len(runs)
    # what to ship: one line per place (the target and the tier); in the details, every artifact at
    # each place (the unsupported one has no projection)
    assert check["picks"] == 2
    assert check["ship_rows"] == len(runs) + (len(runs) - 1)
    for r in runs:
        assert f'data-run="{r.run_id}"' in dom.stdout
    assert "needs macOS" in dom.stdout and "packed 1-bit" in text and "Per-operator profiles" in text
    assert dom.stdout.count("<details>") >= len(runs)  # provenance per row
    assert text.count("<td>Conv</td>") == 10  # top-10 of the 12 profiled ops

    png = tmp_path / "report.png"
    shot = chromium(out.as_uri(), tmp_path / "chrome", "--window-size=1400,3000", f"--screenshot={png}")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000


def test_a_script_error_is_caught_by_the_self_check(tmp_path):
    page = tmp_path / "broken.html"
    from edgebench.results.report import context, render_html

    html = render_html(context([_run("fa", "fp32", 10.0)]))
    page.write_text(html.replace("</body>", "<script>undefinedFunction();</script></body>"))
    dom = chromium(page.as_uri(), tmp_path / "chrome", "--dump-dom")
    check = json.loads(re.search(r'<pre id="eb-selfcheck">(.*?)</pre>', dom.stdout, re.S).group(1))
    assert any("undefinedFunction" in e for e in check["errors"])


def test_no_op_profile_no_section_and_an_empty_store_is_a_clear_error(tmp_path):
    from edgebench.results.report import context, render_html

    html = render_html(context([_run("fa", "fp32", 10.0), _run("fa", "int8", 5.0)]))
    assert "Per-operator profiles" not in html and "Quality vs latency" in html
    proc = subprocess.run([EDGEBENCH, "--db", str(tmp_path / "none.db"), "report"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error") and "no results database" in proc.stderr
    assert "Traceback" not in proc.stderr
