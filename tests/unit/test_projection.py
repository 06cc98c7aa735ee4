"""The projection: exact numbers on toy profiles, the calibration fit, the work split, and the
rule that a projection never lands in a measured column."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from edgebench.profiles import calibration as C
from edgebench.profiles import projection as J
from edgebench.profiles.profiles import Cluster, Efficiency, Profile
from edgebench.profiles.workload import Workload
from edgebench.results.render import projection_table


def toy(name: str = "toy", fp32: float = 10.0, bw: float = 1.0, overhead_us: float = 10.0, cores: int = 2,
        tier: str = "mid") -> Profile:
    """fp32 `fp32` GFLOPS and int8 4× per core, efficiencies 0.5 (depthwise 0.25), parallel efficiency 0.5."""
    c = Cluster("Toy", cores, 1.0, True, fp32, 0.0, 4 * fp32, "sdot", "test")
    e = Efficiency(0.5, 0.25, 0.5, 0.5, overhead_us, 0.5, "test")
    return Profile(name, tier, "toy", "", (c,), bw, "test", e)


WORK = Workload(dense_macs=1e6, depthwise_macs=1e6, matmul_macs=0.0, elementwise_bytes=1e6, ops=10, macs=2e6)


def test_predict_exact_numbers_one_thread():
    b = J.predict(toy(), WORK, "fp32", 1)
    # dense 2e6 ops / (10e9 × 0.5) = 0.4 ms; depthwise at 0.25 → 0.8 ms; 1 MB / (1 GB/s × 0.5) = 2 ms;
    # 10 ops × 10 µs = 0.1 ms
    assert (b.dense, b.depthwise, b.matmul, b.elementwise, b.ops) == pytest.approx((0.4, 0.8, 0.0, 2.0, 0.1))
    assert b.total == pytest.approx(3.3)


def test_predict_threads_and_precision():
    b = J.predict(toy(), WORK, "fp32", 2)  # second core adds 0.5 of its peak: speed-up 1.5
    assert (b.dense, b.depthwise, b.elementwise, b.ops) == pytest.approx((0.4 / 1.5, 0.8 / 1.5, 2.0 / 1.5, 0.1))
    assert J.predict(toy(), WORK, "fp32", 8).total == pytest.approx(b.total)  # only 2 big cores exist
    i8 = J.predict(toy(), WORK, "int8", 1)  # 4× peak, 1 byte per element instead of 4
    assert (i8.dense, i8.depthwise, i8.elementwise) == pytest.approx((0.1, 0.2, 0.5))
    f16 = J.predict(toy(), WORK, "fp16", 1)  # no fp16 arithmetic: fp32 compute, half the bytes
    assert (f16.dense, f16.elementwise) == pytest.approx((0.4, 1.0))


def test_calibration_corrections_apply_per_class():
    cal = J.Calibration(params={"depthwise": math.log(2), "ops": math.log(3), "parallel": math.log(2)})
    b = J.predict(toy(), WORK, "fp32", 2, cal)
    # parallel efficiency 0.5 × 2 = 1.0 → speed-up 2; depthwise time doubled; overhead tripled
    assert (b.dense, b.depthwise, b.elementwise, b.ops) == pytest.approx((0.2, 0.8, 1.0, 0.3))


def test_project_corrects_for_the_models_own_efficiency():
    host = toy("host", fp32=20.0, bw=2.0, overhead_us=5.0, tier="host")
    device = toy("dev")
    host_pred = 0.2 + 0.4 + 1.0 + 0.05  # the toy work on the host profile, 1 thread
    measured = 2 * host_pred  # the model runs at half the speed the host profile predicts
    cal = J.Calibration(params={"fp32": math.log(1.1)}, residual_low=math.log(0.8), residual_high=math.log(1.25))
    e = J.project(WORK, measured, "fp32", host, 1, device, "1-big", cal)
    assert e.model_efficiency == pytest.approx(2.0)
    assert e.point_ms == pytest.approx(2.0 * 3.3 * 1.1)
    assert (e.low_ms, e.high_ms) == pytest.approx((e.point_ms * 0.8, e.point_ms * 1.25))
    assert e.n_threads == 1 and e.threads == "1-big"
    all_big = J.project(WORK, measured, "fp32", host, 1, device, "all-big", cal)
    assert all_big.n_threads == 2 and all_big.point_ms == pytest.approx(2.0 * (1.2 / 1.5 + 2.0 / 1.5 + 0.1) * 1.1)
    pytorch = J.project(WORK, measured, "fp32", host, 1, device, "1-big",
                        replace(cal, params=cal.params | {"runtime:pytorch": math.log(2)}), runtime="pytorch")
    assert pytorch.point_ms == pytest.approx(2 * e.point_ms)


def _rows(device: Profile, host: Profile, factor: dict[str, float]) -> list[C.CalRow]:
    """Rows whose 'published' latency is the uncalibrated projection × a known factor per precision."""
    rows = []
    for k, (prec, thr) in enumerate([("fp32", 1), ("fp32", 2), ("int8", 1), ("int8", 2), ("fp32", 1)]):
        w = replace(WORK, dense_macs=1e6 * (k + 1), ops=10 + 5 * k)
        r = C.CalRow("m", 224, prec, device.name, thr, None, 1.0, "test", host_ms=3.0 + k, host_threads=1, work=w)
        clean = C.project_row(r, {device.name: device}, host, J.UNCALIBRATED)
        rows.append(replace(r, published_ms=clean * factor[prec]))
    return rows


def test_fit_recovers_known_offsets_in_log_space():
    host, device = toy("host", fp32=20.0, tier="host"), toy("dev")
    rows = _rows(device, host, {"fp32": 1.5, "int8": 0.5})
    cal = C.fit(rows, {"dev": device}, host, names=("fp32", "int8", "runtime:pytorch"), ridge=0.0)
    assert cal.params == pytest.approx({"fp32": math.log(1.5), "int8": math.log(0.5)}, abs=1e-5)
    assert "runtime:pytorch" not in cal.params  # no row exercises it: not fitted
    assert cal.residual_low == pytest.approx(0.0, abs=1e-5) and cal.residual_high == pytest.approx(0.0, abs=1e-5)
    # the ridge pulls towards the priors (0): a weaker fit, not a different sign
    shrunk = C.fit(rows, {"dev": device}, host, names=("fp32",), ridge=1.0)
    assert 0 < shrunk.params["fp32"] < math.log(1.5)


def test_leave_one_out_and_summary_exact():
    host, device = toy("host", fp32=20.0, tier="host"), toy("dev")
    rows = _rows(device, host, {"fp32": 1.5, "int8": 1.5})
    held = C.leave_one_out(rows, {"dev": device}, host, names=("fp32", "int8"), ridge=0.0)
    assert [h.ratio for h in held] == pytest.approx([1.0] * len(rows), abs=1e-5)
    s = C.summary(held)
    assert s["within"] == 1.0 and s["spearman"] == pytest.approx(1.0) and s["rows"] == 5
    fake = [C.HeldOut(replace(rows[0], published_ms=p), q) for p, q in [(10, 12), (20, 30), (40, 35), (80, 20)]]
    s = C.summary(fake)
    assert s["within"] == 0.5  # 12/10 and 35/40 are within ±30 %; 30/20 and 20/80 are not
    assert s["spearman"] == pytest.approx(0.4)  # ranks (1,3,4,2) vs (1,2,3,4): 1 − 6·6/(4·15)
    assert s["median_abs_error"] == pytest.approx((0.2 + 0.5) / 2)
    assert "interval_coverage" not in s
    banded = [replace(h, low_ms=h.projected_ms * 0.7, high_ms=h.projected_ms * 1.3) for h in fake]
    assert C.summary(banded)["interval_coverage"] == 0.5  # 10 in [8.4, 15.6], 40 in [24.5, 45.5]


def test_work_split_of_the_tiny_cnn_is_exact(tiny_cnn):
    import torch

    from edgebench.profiles.workload import from_module

    w = from_module(tiny_cnn, torch.randn(1, 3, 32, 32))
    # 3→8 3×3 conv: 8·32·32·27 = 221184; 8→16 1×1: 16·32·32·8 = 131072; depthwise 8·32·32·9
    assert (w.dense_macs, w.depthwise_macs, w.matmul_macs) == (352256.0, 73728.0, 160.0)
    # BN and ReLU fuse into the conv; the pool reads 16·32·32 fp32 and writes 16
    assert w.elementwise_bytes == 4 * (16 * 32 * 32 + 16)
    assert w.ops == 5 and w.macs == w.total_macs
    assert Workload.from_dict(w.to_dict()) == w


def test_shipped_calibration_is_the_fit_of_its_own_rows():
    """Profiles or projection code changed without re-running the calibration → this fails."""
    from edgebench.profiles.profiles import load_profiles

    rows = C.load_rows()
    assert len(rows) >= 25
    shipped = J.load_calibration()
    profiles = load_profiles()
    data = __import__("json").loads(J.CALIBRATION_FILE.read_text())
    refit = C.fit(rows, profiles, profiles[data["host_profile"]])
    assert refit.params == pytest.approx(shipped.params, abs=1e-3)
    assert shipped.residual_low < 0 < shipped.residual_high


def _stored_run(db, tiny_zoo_entry):
    from edgebench.results import ArtifactInfo, LatencyStats, RunResult, Status, Store

    lat = LatencyStats(n=50, mean_ms=2.1, std_ms=0.1, min_ms=1.9, p50_ms=2.0, p90_ms=2.3, p99_ms=2.5, max_ms=2.6,
                       iqr_ms=0.1, cv=0.05, median_ci_low_ms=1.95, median_ci_high_ms=2.05, outliers=0)
    manifest = {"source": {"kind": "zoo", "name": "tiny_cnn"}, "model": "tiny_cnn",
                "input_spec": {"shape": [1, 3, 32, 32]}, "macs": 426144}
    run = RunResult(model="tiny_cnn", format="fmt-a", variant="fp32", target="local", status=Status.OK,
                    artifact=ArtifactInfo(path="x.model", format="fmt-a", variant="fp32", macs=426144,
                                          manifest=manifest),
                    latency=lat, spec={"bench": {"threads": 1}},
                    environment={"host": {"cpu_model": "AMD EPYC", "arch": "x86_64", "cores": 2}})
    with Store(db) as store:
        store.add(run)
    return run


def test_projections_are_their_own_rows_never_in_measured_columns(db, tiny_zoo_entry):
    from edgebench.profiles.profiles import load_profiles
    from edgebench.results import Store, load, load_projections

    run = _stored_run(db, tiny_zoo_entry)
    profiles = load_profiles()
    projections = J.project_run(run, [profiles["pi4"], profiles["low"]], all_profiles=profiles)
    assert [(p.profile, p.threads) for p in projections] == [
        ("pi4", "1-big"), ("pi4", "all-big"), ("low", "1-big"), ("low", "all-big")]
    assert all(p.run_id == run.run_id and p.method == J.METHOD and p.low_ms < p.point_ms < p.high_ms
               for p in projections)
    assert projections[0].details["host_profile"] == "host-epyc-zen3"
    with Store(db) as store:
        for p in projections:
            store.add(p)
        assert len(store.results()) == 1 and len(store.projections(run.run_id)) == 4
    table = load(db)
    assert len(table) == 1
    assert table.loc[0, "latency.p50_ms"] == 2.0  # the measured number, untouched
    projected = {p.point_ms for p in projections} | {p.low_ms for p in projections} | {p.high_ms for p in projections}
    for col in table.columns:
        assert "proj" not in col.lower()
        assert not any(v in projected for v in table[col].tolist() if isinstance(v, float)), col
    assert set(load_projections(db)["run_id"]) == {run.run_id}


def test_projected_columns_are_labelled_and_leave_measured_keys_alone(db, tiny_zoo_entry):
    from edgebench.profiles.profiles import load_profiles

    run = _stored_run(db, tiny_zoo_entry)
    profiles = load_profiles()
    projections = J.project_run(run, [profiles["pi5"]], threads=("all-big",), all_profiles=profiles)
    rows = [{"run_id": run.run_id, "p50_ms": 2.0}, {"run_id": "other", "p50_ms": 5.0}]
    cols = J.projected_columns(rows, projections)
    assert cols == [("proj:pi5:all-big", f"pi5 all-big ms — projected ({J.METHOD})")]
    assert rows[0]["p50_ms"] == 2.0 and rows[0]["proj:pi5:all-big:point_ms"] == projections[0].point_ms
    assert rows[1]["proj:pi5:all-big:point_ms"] is None
    headers, cells = projection_table([run], projections)
    assert headers[3] == "measured here p50 ms" and cells[0][3] == "2"  # the measured number, as measured
    assert [h for h in headers if "ms" in h or "interval" in h][1:] == ["projected ms", "projected 80 % interval"]
    assert cells[0][7] == f"{projections[0].point_ms:.3g}" and cells[0][9] == J.METHOD


def test_noisy_host_measurement_is_flagged(db, tiny_zoo_entry):
    run = _stored_run(db, tiny_zoo_entry)
    assert J.host_noise_warning(run) is None
    noisy = replace(run, latency=replace(run.latency, cv=0.5, min_ms=0.7))
    assert "noisy (cv 0.50" in J.host_noise_warning(noisy)


def test_project_run_refuses_what_it_cannot_project(db, tiny_zoo_entry):
    from edgebench.errors import UnsupportedError
    from edgebench.profiles.profiles import load_profiles
    from edgebench.results import Status

    run = _stored_run(db, tiny_zoo_entry)
    profiles = load_profiles()
    with pytest.raises(UnsupportedError, match="not a successful measurement"):
        J.project_run(replace(run, status=Status.RUN_FAILED), [profiles["pi4"]], all_profiles=profiles)
    with pytest.raises(UnsupportedError, match="not on this desktop"):
        J.project_run(replace(run, target="ssh:pi@pi4"), [profiles["pi4"]], all_profiles=profiles)


def test_cli_project_stores_rows_and_prints_projected_table(db, tiny_zoo_entry, capsys):
    from edgebench.cli import main
    from edgebench.results import Store

    run = _stored_run(db, tiny_zoo_entry)
    with pytest.raises(SystemExit) as ex:
        main(["--db", str(db), "project", "--run", run.run_id[:20], "--tiers", "pi4,high"])
    assert ex.value.code in (0, None)
    out = capsys.readouterr().out
    assert "projected" in out and "tiny_cnn" in out
    with Store(db) as store:
        assert {(p.profile, p.threads) for p in store.projections(run.run_id)} == {
            ("pi4", "1-big"), ("pi4", "all-big"), ("high", "1-big"), ("high", "all-big")}
    with pytest.raises(SystemExit) as ex:
        main(["--db", str(db), "project", "--run", run.run_id, "--tiers", "pi9"])
    assert ex.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pi9" in err


# --- the anchored method (issue 15): exact numbers on toy devices ---------------------------------

from edgebench.profiles import anchored as A  # noqa: E402
from edgebench.profiles import validation as V  # noqa: E402
from edgebench.profiles.references import ReferenceRow  # noqa: E402

DENSE = Workload(dense_macs=1e8, depthwise_macs=0.0, matmul_macs=0.0, elementwise_bytes=0.0, ops=0, macs=1e8)
DEPTHWISE = Workload(dense_macs=5e7, depthwise_macs=5e7, matmul_macs=0.0, elementwise_bytes=0.0, ops=0, macs=1e8)
NO_KNOBS = A.Anchoring(alpha=0.0, sigma=1.0, bands={"device": (math.log(0.8), math.log(1.25)),
                                                      "transfer": (math.log(0.5), math.log(2.0))})


def ref(model: str, ms: float, device: str = "dev", precision: str = "fp32", threads: int = 1,
        runtime: str = "litert") -> ReferenceRow:
    return ReferenceRow(model, precision, threads, runtime, ms, "test", 224, device=device)


def with_refs(p: Profile, *rows: ReferenceRow) -> Profile:
    return replace(p, references=rows)


def hr(key: str, ratio: float, precision: str = "fp32") -> A.HostRatio:
    return A.HostRatio(key, ratio, precision, 1)


def test_anchored_on_device_rows_is_the_weighted_geometric_mean_of_ratio_times_row():
    dev = with_refs(toy("dev"), ref("a", 10.0), ref("b", 40.0))
    work = {"a@224": DENSE, "b@224": DENSE}
    e = A.project_anchored(DENSE, {"a@224": hr("a@224", 2.0), "b@224": hr("b@224", 1.0)}, dev, "fp32", 1,
                           "litert", toy("host", tier="host"), NO_KNOBS, {"dev": dev}, work=work)
    # identical work splits: equal weights; estimates 2·10 = 20 and 1·40 = 40 → √(20·40)
    assert e.path == "device-rows" and e.point_ms == pytest.approx(math.sqrt(800))
    assert (e.low_ms, e.high_ms) == pytest.approx((0.8 * e.point_ms, 1.25 * e.point_ms))
    assert sorted(a.estimate_ms for a in e.anchors) == pytest.approx([20.0, 40.0])


def test_references_are_weighted_by_work_split_similarity():
    dev = with_refs(toy("dev"), ref("a", 10.0), ref("b", 40.0))
    work = {"a@224": DENSE, "b@224": DEPTHWISE}
    e = A.project_anchored(DENSE, {"a@224": hr("a@224", 2.0), "b@224": hr("b@224", 1.0)}, dev, "fp32", 1,
                           "litert", toy("host", tier="host"), NO_KNOBS, {"dev": dev}, work=work)
    # b's depthwise share differs by 0.5 = 2 feature units → weight exp(−½·2²) = e⁻²
    w = math.exp(-2.0)
    assert A.similarity(DENSE, DEPTHWISE, 1.0) == pytest.approx(w)
    assert e.point_ms == pytest.approx(math.exp((math.log(20) + w * math.log(40)) / (1 + w)))


def test_int8_is_projected_from_the_devices_int8_rows():
    dev = with_refs(toy("dev"), ref("a", 10.0), ref("a", 4.0, precision="int8"))
    work = {"a@224": DENSE}
    # the host ratio may come from the fp32 pair; the device latency is the int8 row
    e = A.project_anchored(DENSE, {"a@224": hr("a@224", 1.5, "fp32")}, dev, "int8", 1, "litert",
                           toy("host", tier="host"), NO_KNOBS, {"dev": dev}, work=work)
    assert e.point_ms == pytest.approx(6.0) and e.anchors[0].row.precision == "int8"


def test_other_thread_count_is_scaled_by_the_roofline():
    dev = with_refs(toy("dev"), ref("a", 30.0, threads=1))
    # compute only, parallel efficiency 0.5: 2 threads are 1.5× faster → 30 / 1.5 = 20
    e = A.project_anchored(DENSE, {"a@224": hr("a@224", 1.0)}, dev, "fp32", 2, "litert",
                           toy("host", tier="host"), NO_KNOBS, {"dev": dev}, work={"a@224": DENSE})
    assert e.path == "device-rows+threads" and e.point_ms == pytest.approx(20.0)


def test_device_without_rows_gets_them_through_the_roofline_and_says_so():
    slow = with_refs(toy("slow", fp32=10.0), ref("a", 10.0, device="slow"))
    fast = toy("fast", fp32=20.0)  # twice the peak, no rows of its own
    profiles = {"slow": slow, "fast": fast}
    e = A.project_anchored(DENSE, {"a@224": hr("a@224", 2.0)}, fast, "fp32", 1, "litert",
                           toy("host", tier="host"), NO_KNOBS, profiles, work={"a@224": DENSE})
    assert e.path == "roofline-transfer" and e.point_ms == pytest.approx(2.0 * 10.0 / 2)
    assert (e.low_ms, e.high_ms) == pytest.approx((0.5 * e.point_ms, 2.0 * e.point_ms))
    assert "no litert fp32 reference row" in e.note and "slow" in e.note
    # no torch row anywhere: the litert row stands in (runtimes assumed equally fast), and the note says so
    t = A.project_anchored(DENSE, {"a@224": hr("a@224", 2.0)}, fast, "fp32", 1, "torch",
                           toy("host", tier="host"), NO_KNOBS, profiles, work={"a@224": DENSE})
    assert t.path == "roofline-transfer+runtime" and t.point_ms == pytest.approx(10.0)
    assert "no profile has a torch fp32 reference row" in t.note and "litert rows" in t.note
    assert (t.low_ms, t.high_ms) == pytest.approx((0.5 * t.point_ms, 2.0 * t.point_ms))  # the transfer band
    # no row at the precision anywhere: nothing to anchor on (the caller falls back, saying so)
    assert A.project_anchored(DENSE, {"a@224": hr("a@224", 2.0)}, fast, "int8", 1, "torch",
                              toy("host", tier="host"), NO_KNOBS, profiles, work={"a@224": DENSE}) is None


def test_op_class_differential_moves_a_depthwise_model_off_a_dense_reference():
    user = Workload(0.0, 1e8, 0.0, 0.0, 0, 1e8)  # all depthwise
    dev = with_refs(toy("dev"), ref("a", 10.0))  # device: depthwise at 0.25, dense at 0.5 of peak
    host = replace(toy("host", tier="host"), efficiency=Efficiency(0.5, 0.5, 0.5, 0.5, 10.0, 0.5, "t"))
    knobs = replace(NO_KNOBS, alpha=1.0)
    e = A.project_anchored(user, {"a@224": hr("a@224", 1.0)}, dev, "fp32", 1, "litert", host, knobs,
                           {"dev": dev}, work={"a@224": DENSE})
    # device: depthwise/dense time = 2; host: 1 → the user model is 2× slower on the device than its ratio says
    assert e.anchors[0].correction == pytest.approx(math.log(2.0)) and e.point_ms == pytest.approx(20.0)


def test_host_pairs_take_ratios_round_by_round():
    pairs = V.HostPairs({("u", "fp32"): [10.0, 12.0, 11.0], ("a", "fp32"): [5.0, 4.0, 5.5]})
    r = pairs.ratio("u", "a", "fp32")
    assert r.round_ratios == pytest.approx((2.0, 3.0, 2.0)) and r.ratio == pytest.approx(2.0)
    assert pairs.ratio("u", "a", "int8") is None
    assert set(pairs.ratios("u", "fp32")) == {"a"}  # never its own reference


def _lodo_world():
    """Three toy devices whose rows of three reference models are exactly ratio-consistent."""
    host_ms = {"a": 1.0, "b": 2.0, "c": 4.0}
    scale = {"d1": 10.0, "d2": 20.0, "d3": 40.0}
    profiles = {d: with_refs(toy(d, fp32=400.0 / s), *(ref(m, s * host_ms[m], device=d) for m in host_ms))
                for d, s in scale.items()}
    pairs = V.HostPairs({(f"{m}@224", "fp32"): [ms, ms, ms] for m, ms in host_ms.items()})
    work = {f"{m}@224": DENSE for m in host_ms}
    return profiles, pairs, work


def test_leave_one_device_out_split_and_no_leakage():
    profiles, pairs, work = _lodo_world()
    train, test = V.split(profiles, "d2")
    assert {r.device for r in train} == {"d1", "d3"} and {r.device for r in test} == {"d2"}
    base = replace(NO_KNOBS, workloads=work)
    host = toy("host", tier="host")
    held = V.held_out(profiles, host, pairs, work, base, "device-rows")
    assert len(held) == 9 and all(h.estimate.path == "device-rows" for h in held)
    assert [h.log_error for h in held] == pytest.approx([0.0] * 9, abs=1e-9)
    # a held-out row is never its own anchor: changing its published value changes nothing projected
    bent = dict(profiles)
    bent["d2"] = with_refs(profiles["d2"], *(replace(r, latency_ms=r.latency_ms * (3 if r.model == "b" else 1))
                                             for r in profiles["d2"].references))
    again = V.held_out(bent, host, pairs, work, base, "device-rows")
    row_b = [h for h in again if h.row.device == "d2" and h.row.model == "b"][0]
    assert row_b.projected_ms == pytest.approx(40.0)  # 20 × 2 from a and c, not the bent 120
    # unseen: the device keeps no row at all, its rows come from d1 / d3 through the roofline
    unseen = V.held_out(profiles, host, pairs, work, base, "unseen")
    assert all(h.estimate.path == "roofline-transfer" for h in unseen)
    assert all(a.row.device != h.row.device for h in unseen for a in h.estimate.anchors)


def test_interval_bands_come_from_other_devices_only():
    profiles, pairs, work = _lodo_world()
    held = V.held_out(profiles, toy("host", tier="host"), pairs, work, replace(NO_KNOBS, workloads=work),
                      "device-rows")
    # fake errors: d1 rows +0.1, d2 rows −0.2, d3 rows 0 (log)
    fake = [replace(h, estimate=replace(h.estimate, point_ms=h.row.latency_ms
                                        / math.exp({"d1": 0.1, "d2": -0.2, "d3": 0.0}[h.row.device])))
            for h in held]
    banded = V.with_bands(fake)
    d1 = [b for b in banded if b[0].row.device == "d1"][0]
    # d1's band comes from d2 and d3's errors, three −0.2 and three 0.0: order statistics
    # ⌊7·0.1⌋ → 1st (clamped) and ⌈7·0.9⌉ → 7th → 6th (clamped) of the six
    lo, hi = -0.2, 0.0
    assert A.quantile_band([0.3, -0.1, 0.0, 0.2, -0.3, 0.1, 0.05, -0.05, 0.15, -0.2, 0.25]) == (-0.3, 0.3)
    assert A.quantile_band(range(99)) == (9, 89)  # n = 99: the 10th and the 90th
    assert (d1[1], d1[2]) == pytest.approx((d1[0].projected_ms * math.exp(lo), d1[0].projected_ms * math.exp(hi)))
    s = V.summary(banded)
    assert s["rows"] == 9 and s["within"] == 1.0


def test_shipped_anchoring_is_the_fit_of_the_shipped_rows():
    """Profiles or method changed without re-running the benchmark's --write → this fails."""
    from edgebench.profiles.profiles import load_profiles

    shipped = A.load_anchoring()
    profiles = {n: p for n, p in load_profiles().items() if p.tier != "host"}
    rows = [r for p in profiles.values() for r in p.references]
    refit = A.fit_transfer(rows, profiles, shipped.workloads)
    assert refit.params == pytest.approx(shipped.transfer.params, abs=1e-3)
    lo, hi = shipped.band("device-rows")
    assert lo < 0 < hi and shipped.band("roofline-transfer") != (lo, hi)


def test_project_run_anchored_rows_say_their_path_and_fall_back_honestly(db, tiny_zoo_entry):
    from edgebench.profiles.profiles import load_profiles

    run = _stored_run(db, tiny_zoo_entry)
    profiles = load_profiles()
    ratios = {k: A.HostRatio(k, 0.1, "fp32", 1, (0.1, 0.1, 0.1)) for k in
              ("mobilenet_v2@224", "mobilenet_v3_small@224", "mobilenet_v3_large@224")}
    rows = A.project_run_anchored(run, [profiles["pixel3"], profiles["low"]], ["1-big"], ratios=ratios,
                                  runtime="litert", all_profiles=profiles, paired={"rounds": 3})
    by = {p.profile: p for p in rows}
    assert by["pixel3"].method == f"{A.METHOD} (device-rows)" and by["low"].method == f"{A.METHOD} (roofline-transfer)"
    # pixel3 1 thread fp32 rows: V2 56, V3-S 14.4, V3-L 44 ms (MobileNetV3 paper) × 0.1, weighted by similarity
    assert 1.0 < by["pixel3"].point_ms < 6.0
    assert all(p.run_id == run.run_id and p.low_ms < p.point_ms < p.high_ms for p in rows)
    assert by["low"].details["path"] == "roofline-transfer" and "low has no litert fp32" in by["low"].details["note"]
    assert by["pixel3"].details["paired"] == {"rounds": 3} and "mobilenet_v2@224" in by["pixel3"].details["host_ratios"]
    # a runtime no profile has rows for: the rows of other runtimes stand in, and the row says so
    other = A.project_run_anchored(run, [profiles["pixel3"]], ["1-big"], ratios=ratios, runtime="onnxruntime",
                                   all_profiles=profiles)
    assert other[0].method == f"{A.METHOD} (roofline-transfer+runtime)"
    assert "no profile has a onnxruntime fp32 reference row" in other[0].details["note"]
    assert "equally fast" in other[0].details["note"]
    assert A.reference_keys_for("onnxruntime", "fp32", profiles.values(), list(ratios)) == sorted(ratios)
    # no row at the precision anywhere: the host-efficiency roofline, and the row says why
    bare = {n: replace(p, references=()) for n, p in profiles.items()}
    legacy = A.project_run_anchored(run, [bare["pixel3"]], ["1-big"], ratios=ratios, runtime="onnxruntime",
                                    all_profiles=bare)
    assert legacy[0].method == J.METHOD
    assert "no profile has a fp32 reference row of onnxruntime or any other runtime" in legacy[0].details["note"]


def test_unknown_work_split_weighs_references_equally_and_says_so():
    dev = with_refs(toy("dev"), ref("a", 10.0), ref("b", 40.0))
    knobs = replace(NO_KNOBS, alpha=1.0)
    e = A.project_anchored(None, {"a@224": hr("a@224", 2.0), "b@224": hr("b@224", 1.0)}, dev, "fp32", 1, "litert",
                           toy("host", tier="host"), knobs, {"dev": dev}, work={"a@224": DENSE, "b@224": DEPTHWISE})
    assert e.point_ms == pytest.approx(math.sqrt(20 * 40)) and all(a.correction == 0 for a in e.anchors)
    assert "work split is unknown" in e.note


# --- unseen devices (issue 15, second pass): int8 kernels, host fit ------------------------------

MIXED = Workload(dense_macs=5e7, depthwise_macs=0.0, matmul_macs=0.0, elementwise_bytes=1e6, ops=10, macs=5e7)
FIXED = Workload(dense_macs=0.0, depthwise_macs=0.0, matmul_macs=0.0, elementwise_bytes=1e6, ops=10, macs=0.0)


def test_kernel_profile_without_dot_kernels_runs_int8_at_twice_fp32():
    dev = toy("dev")  # 10 GFLOPS fp32, int8 40 G ops/s with sdot
    old = A.kernel_profile(dev, False)
    assert (old.clusters[0].int8_gops, old.clusters[0].int8_dot) == (20.0, "none")
    assert A.kernel_profile(dev, None) is dev and A.kernel_profile(dev, True) is dev
    plain = replace(dev, clusters=(replace(dev.clusters[0], int8_dot="none", int8_gops=20.0),))
    assert A.kernel_profile(plain, False) is plain
    # DENSE int8 on 1 thread: 2e8 ops / (40e9 × 0.5) = 10 ms with sdot, 20 ms without
    assert J.predict(dev, DENSE, "int8", 1).total == pytest.approx(10.0)
    assert J.predict(old, DENSE, "int8", 1).total == pytest.approx(20.0)
    # the same core without dot-product kernels is in the other dot class: half the transfer weight
    assert A.device_similarity(dev, dev, 1, 1, "int8", None, False) == pytest.approx(0.5)
    assert A.device_similarity(dev, dev, 1, 1, "fp32", None, False) == pytest.approx(1.0)


def test_int8_row_measured_without_dot_kernels_is_rescaled_for_todays_kernels():
    row = replace(ref("a", 10.0, precision="int8"), int8_dot_kernels=False)
    dev = with_refs(toy("dev"), row)
    args = (DENSE, {"a@224": hr("a@224", 1.0)}, dev, "int8", 1, "litert", toy("host", tier="host"), NO_KNOBS,
            {"dev": dev})
    # today's kernels use sdot: the roofline halves the no-dot row (20 → 10 ms of compute): 10 × ½ = 5 ms
    today = A.project_anchored(*args, work={"a@224": DENSE})
    assert today.path == "device-rows+threads" and today.point_ms == pytest.approx(5.0)
    # asked for the row's own kernels: the row itself
    same = A.project_anchored(*args, work={"a@224": DENSE}, int8_dot_kernels=False)
    assert same.path == "device-rows" and same.point_ms == pytest.approx(10.0)


def test_source_dot_kernels_reads_the_sources_table(tmp_path):
    from edgebench.profiles.references import SOURCES, source_dot_kernels

    f = tmp_path / "s.toml"
    f.write_text('[[source]]\ncontains = "Old Paper"\nyear = 2019\nint8_dot_kernels = false\n'
                 '[[source]]\ncontains = "paper"\nyear = 2020\nint8_dot_kernels = true\n')
    assert source_dot_kernels("the old paper, Table 4", f) is False  # first match wins, case-insensitive
    assert source_dot_kernels("new paper", f) is True
    assert source_dot_kernels("my bench", f) is None
    assert source_dot_kernels("MobileNetV3 paper (ICCV 2019) Table 4", SOURCES) is False
    assert source_dot_kernels("tensorflow/tpu models/official/efficientnet/lite/README.md", SOURCES) is True


def test_fit_host_splits_compute_from_fixed_cost_exactly():
    host = toy("host", tier="host")
    work = {"d": DENSE, "f": FIXED, "m": MIXED}
    # roofline on the toy host: DENSE 40 ms of compute; FIXED 2 ms traffic + 0.1 ms dispatch; MIXED 20 + 2.1
    assert A.split_cost(host, DENSE, "fp32", 1) == pytest.approx((40.0, 0.0))
    assert A.split_cost(host, MIXED, "fp32", 1) == pytest.approx((20.0, 2.1))
    # this host: MACs at 0.5× the roofline time, fixed costs at 2×: 20, 4.2 and 10 + 4.2 ms
    fit = A.fit_host(host, work, {"d": 20.0, "f": 4.2, "m": 14.2}, "fp32", 1)
    assert (fit.compute, fit.fixed, fit.n) == pytest.approx((0.5, 2.0, 3))
    assert fit.predict(host, MIXED, "fp32", 1) == pytest.approx(14.2)
    assert A.fit_host(host, work, {"d": 20.0}, "fp32", 1) is None  # one reference cannot split two costs
    assert A.fit_host(host, work, {"d": 20.0, "x": 5.0}, "fp32", 1) is None  # no work split for x


def test_fitted_host_side_cancels_the_hosts_isa_at_alpha_one():
    dev = with_refs(toy("dev"), ref("d", 10.0), ref("f", 5.0))
    host = toy("host", tier="host")
    work = {"d@224": DENSE, "f@224": FIXED}

    def ratios(a: float, b: float) -> dict:
        # a host whose times are a·compute + b·fixed of the roofline (a wide-SIMD host has a small a)
        t = {"d@224": a * 40.0, "f@224": b * 2.1}
        u = a * 20.0 + b * 2.1
        return {k: A.HostRatio(k, u / v, "fp32", 1, reference_ms=v) for k, v in t.items()}

    knobs = replace(NO_KNOBS, alpha=1.0)
    one = A.project_anchored(MIXED, ratios(0.5, 2.0), dev, "fp32", 1, "litert", host, knobs, {"dev": dev},
                             work=work)
    two = A.project_anchored(MIXED, ratios(0.2, 1.0), dev, "fp32", 1, "litert", host, knobs, {"dev": dev},
                             work=work)
    # both hosts: estimate_k = L_D(k) · pred_D(u) / pred_D(k) = 10 · 22.1/40 and 5 · 22.1/2.1
    assert sorted(a.estimate_ms for a in one.anchors) == pytest.approx([10 * 22.1 / 40, 5 * 22.1 / 2.1])
    assert one.point_ms == pytest.approx(two.point_ms)
    # with the generic host profile instead (here the same roofline as the device, so the differential is
    # 1) each host's raw ratio comes through: 10 · 14.2/20 = 7.1 vs 10 · 6.1/8 = 7.625 (FIXED's weight ≈ 0)
    p1 = A.project_anchored(MIXED, ratios(0.5, 2.0), dev, "fp32", 1, "litert", host,
                            replace(knobs, host_model="profile"), {"dev": dev}, work=work)
    p2 = A.project_anchored(MIXED, ratios(0.2, 1.0), dev, "fp32", 1, "litert", host,
                            replace(knobs, host_model="profile"), {"dev": dev}, work=work)
    assert (p1.point_ms, p2.point_ms) == pytest.approx((7.1, 7.625))


def test_anchoring_round_trips_the_host_side_settings():
    a = replace(NO_KNOBS, host_model="profile", host_alpha=0.25)
    b = A.Anchoring.from_dict(a.to_dict())
    assert (b.host_model, b.host_alpha) == ("profile", 0.25)
    assert A.Anchoring.from_dict({}).host_model == "fitted"


def test_a_column_mixing_projection_methods_names_each_row_s_method():
    """Two runs projected onto one tier by different methods: the header lists both, every row
    carries its own, and the table cell says which (no number read under another method's name)."""
    from types import SimpleNamespace

    from edgebench.results import render as render_mod

    def proj(run_id, method, point):
        return SimpleNamespace(run_id=run_id, profile="low", threads="1-big", created_at=run_id, method=method,
                               point_ms=point, low_ms=point * 0.8, high_ms=point * 1.2)

    rows = [{"run_id": "a", "model": "m", "format": "x", "variant": "fp32", "target": "local", "status": "OK"},
            {"run_id": "b", "model": "m", "format": "x", "variant": "int8", "target": "local", "status": "OK"}]
    cols = J.projected_columns(rows, [proj("a", "roofline", 4.0), proj("b", "anchored", 11.0)])
    (key, header), = cols
    assert header == "low 1-big ms — projected (roofline | anchored)"
    assert [r[f"{key}:method"] for r in rows] == ["roofline", "anchored"]
    cell = render_mod._projected(key, " | " in header)
    assert cell(rows[0]) == "4.00 [3.20, 4.80] (roofline)" and cell(rows[1]) == "11.00 [8.80, 13.20] (anchored)"
    assert render_mod._projected(key, False)(rows[0]) == "4.00 [3.20, 4.80]"
    single = J.projected_columns([dict(rows[0])], [proj("a", "roofline", 4.0)])
    assert single[0][1] == "low 1-big ms — projected (roofline)"


def test_a_cpu_name_shared_by_two_cpus_is_told_apart_by_its_flags_and_stale_projections_are_redone(
        db, tiny_zoo_entry):
    """"AMD EPYC" is a Zen 3 without AVX-512 and a Zen 4 with VNNI: a Zen 4 run projected with the
    Zen 3 peaks carried a 2-4x faster host into every phone tier (int8 projected faster than the
    phone's own peak). The run's recorded flags pick the profile; a projection stored with the
    other profile is not reused."""
    from dataclasses import replace

    from edgebench.profiles.profiles import load_profiles

    zen3_run = _stored_run(db, tiny_zoo_entry)
    zen4_host = {**zen3_run.environment["host"], "isa_flags": ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma"]}
    zen4_run = replace(zen3_run, environment={"host": zen4_host})
    profiles = load_profiles()
    old = J.project_run(zen3_run, [profiles["mid"]], all_profiles=profiles)  # made when the flags were ignored
    new = J.project_run(zen4_run, [profiles["mid"]], all_profiles=profiles)
    assert {p.details["host_profile"] for p in new} == {"host-epyc-zen4"}
    assert all(n.point_ms > o.point_ms for n, o in zip(new, old))  # a faster host: the phone is slower than it
    assert not any(J.made_with_current_host(p, zen4_run, profiles) for p in old)
    assert all(J.made_with_current_host(p, zen4_run, profiles) for p in new)
    legacy = replace(old[0], details={"host_choice": "host profile host-epyc-zen3 matches CPU 'AMD EPYC'"})
    assert not J.made_with_current_host(legacy, zen4_run, profiles)
    assert J.made_with_current_host(legacy, zen3_run, profiles)  # no flags recorded: the name decides, as then
