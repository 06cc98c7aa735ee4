"""``edgebench recommend``: what to ship, per model and per place it runs.

For each model and each measured target (and each device tier a projection exists for), among the
artifacts measured there: the **fastest** within the accuracy budget, the **smallest** within it,
and for every other artifact the reason it loses — slower, larger, too inaccurate, unsupported or
failed there.

Quality, in the order the store has it:
1. accuracy on a labelled folder (``run --dataset``): the drop is the best fp32 accuracy of the
   same model (same dataset) minus this artifact's accuracy;
2. top-1 agreement with the fp32 eager model (``run --dataset`` on a flat folder, else the export's
   parity check): the drop is ``1 − agreement``.
An artifact with no quality number at all cannot be shown to be within budget, so it is never
recommended (its reason says so). The budget is an absolute drop (0.01 = one point of top-1).
Latency is the measured median (p50) on a target, or the projection's point estimate for a tier
(``all-big`` threads); a tie is called when the runner-up's interval overlaps the winner's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from edgebench.results.compare import BASELINE_VARIANT, asked_delegate, select
from edgebench.results.model import Projection, RunResult, Status

MB = 1024 * 1024
PROJECTED_THREADS = "all-big"
_MEASURED = (Status.OK, Status.PARITY_FAILED)


@dataclass(frozen=True)
class Candidate:
    """One artifact at one place: its latency (ms), size, quality drop and why it is out (if it is)."""

    model: str
    format: str
    variant: str
    where: str  # a target URI, or "tier <name>" for a projection
    run_id: str
    p50_ms: float | None
    low_ms: float | None
    high_ms: float | None
    size_bytes: int | None
    drop: float | None  # accuracy drop (absolute fraction), None when unknown
    quality: str  # how the drop was measured, e.g. "top-1 agreement 98% (n=64)"
    excluded: str | None = None  # reason it cannot be recommended at all
    delegate: str | None = None  # the delegate / execution provider the run asked for

    @property
    def label(self) -> str:
        via = f" via {self.delegate}" if self.delegate else ""
        return f"{self.format} {self.variant}{via}"


@dataclass(frozen=True)
class Recommendation:
    """The answer for one model at one place."""

    model: str
    where: str
    projected: bool
    budget: float
    fastest: Candidate | None
    smallest: Candidate | None
    losers: tuple[tuple[Candidate, str], ...] = field(default=())
    sentence: str = ""


def _quality(r: RunResult, fp32_acc: dict[tuple[str, str], float]) -> tuple[float | None, str]:
    acc = r.accuracy or {}
    if acc.get("kind") == "labelled" and acc.get("accuracy") is not None:
        ref = fp32_acc.get((r.model, str(acc.get("dataset"))))
        text = f"accuracy {acc['accuracy']:.1%} (n={acc.get('n')})"
        if ref is None:
            return None, text + ", no fp32 accuracy on the same images to compare with"
        return max(0.0, ref - acc["accuracy"]), text
    if acc.get("kind") == "agreement" and acc.get("top1_agreement") is not None:
        return 1 - acc["top1_agreement"], f"top-1 agreement with fp32 {acc['top1_agreement']:.0%} (n={acc.get('n')})"
    vs = (r.parity or {}).get("vs_eager") or {}
    if vs.get("top1_agreement") is not None:
        sqnr = f", SQNR {vs['sqnr_db']:.0f} dB" if vs.get("sqnr_db") is not None else ""
        n = vs.get("n")
        # one flipped sample of n moves the drop by 1/n: say so when that is coarser than a budget would be
        step = f", one sample = {1 / n:.1%}" if isinstance(n, int) and n > 0 else ""
        return 1 - vs["top1_agreement"], f"export parity: top-1 {vs['top1_agreement']:.0%} (n={n}{step}){sqnr}"
    if r.variant == BASELINE_VARIANT and r.status == Status.OK:
        return 0.0, "fp32 (the reference)"
    return None, "no accuracy or agreement measured"


def _fp32_accuracy(runs: list[RunResult]) -> dict[tuple[str, str], float]:
    best: dict[tuple[str, str], float] = {}
    for r in runs:
        acc = r.accuracy or {}
        if r.variant == BASELINE_VARIANT and acc.get("kind") == "labelled" and acc.get("accuracy") is not None:
            key = (r.model, str(acc.get("dataset")))
            best[key] = max(best.get(key, 0.0), acc["accuracy"])
    return best


def _candidate(r: RunResult, fp32_acc, where: str, lat: tuple[float | None, float | None, float | None],
               budget: float) -> Candidate:
    drop, qtext = _quality(r, fp32_acc)
    excluded = None
    if r.status == Status.UNSUPPORTED:
        excluded = f"unsupported on {r.target}" + (f": {r.error.message}" if r.error else "")
    elif r.status not in _MEASURED:
        excluded = f"failed ({r.status.value}" + (f", {r.error.stage}: {r.error.message})" if r.error else ")")
    elif r.status == Status.PARITY_FAILED:
        excluded = "too inaccurate: its export failed the parity check against eager"
    elif lat[0] is None:
        excluded = "no latency measured"
    elif drop is None:
        excluded = f"accuracy unknown ({qtext})"
    elif drop > budget + 1e-12:
        excluded = f"too inaccurate: {drop:.1%} drop > {budget:.1%} budget ({qtext})"
    size = r.artifact.size_bytes if r.artifact else None
    return Candidate(r.model, r.format, r.variant, where, r.run_id, *lat, size, drop, qtext, excluded,
                     asked_delegate(r))


def _ms(x: float) -> str:
    return f"{x:.3g} ms" if x < 100 else f"{x:.0f} ms"


def _mb(x: int | None) -> str:
    return "?" if x is None else f"{x / MB:.2f} MB"


def _decide(model: str, where: str, projected: bool, cands: list[Candidate], budget: float) -> Recommendation:
    ok = [c for c in cands if c.excluded is None]
    fastest = min(ok, key=lambda c: c.p50_ms) if ok else None
    sized = [c for c in ok if c.size_bytes is not None]
    smallest = min(sized, key=lambda c: c.size_bytes) if sized else None
    losers = []
    for c in cands:
        if c is fastest or c is smallest:
            continue
        if c.excluded:
            losers.append((c, c.excluded))
            continue
        why = f"slower: {_ms(c.p50_ms)} vs {_ms(fastest.p50_ms)} ({c.p50_ms / fastest.p50_ms:.2f}×)"
        if c.low_ms is not None and fastest.high_ms is not None and c.low_ms <= fastest.high_ms:
            why += ", within the interval: a tie"
        if smallest is not None and c.size_bytes is not None:
            why += f"; larger: {_mb(c.size_bytes)} vs {_mb(smallest.size_bytes)}"
        losers.append((c, why))
    return Recommendation(model, where, projected, budget, fastest, smallest, tuple(losers),
                          _sentence(model, where, projected, fastest, smallest, cands, budget))


def _sentence(model, where, projected, fastest, smallest, cands, budget) -> str:
    place = f"the {where.removeprefix('tier ')} tier (projected)" if projected else where
    if fastest is None:
        reasons = "; ".join(f"{c.label}: {c.excluded}" for c in cands) or "nothing measured"
        return f"{model} on {place}: nothing to ship within a {budget:.1%} accuracy drop — {reasons}."
    base = next((c for c in cands if c.format == fastest.format and c.variant == BASELINE_VARIANT
                 and c.p50_ms), None)
    speed = (f", {base.p50_ms / fastest.p50_ms:.2f}× the speed of {base.label}"
             if base is not None and base is not fastest else "")
    text = (f"{model} on {place}: ship {fastest.label} — the fastest within a {budget:.1%} accuracy drop "
            f"({_ms(fastest.p50_ms)}{speed}; {fastest.quality})")
    if smallest is not None and smallest is not fastest:
        text += (f"; if size matters most, {smallest.label} is the smallest ({_mb(smallest.size_bytes)} "
                 f"vs {_mb(fastest.size_bytes)}, {_ms(smallest.p50_ms)})")
    elif smallest is fastest:
        text += f"; it is also the smallest ({_mb(fastest.size_bytes)})"
    out = [c for c in cands if c.excluded]
    if out:
        text += f". Out: " + "; ".join(f"{c.label} ({c.excluded.split(':')[0]})" for c in out)
    return text + "."


def _median_ms(cands: list[Candidate]) -> float:
    xs = sorted(c.p50_ms for c in cands if c.p50_ms is not None)
    return xs[len(xs) // 2] if xs else 0.0


def recommend(results: Iterable[RunResult], projections: Iterable[Projection] = (), *, max_drop: float = 0.01,
              tier: str | None = None, target: str | None = None, model: str | None = None) -> list[Recommendation]:
    """One :class:`Recommendation` per model × measured target, and per model × projected tier.

    ``max_drop``: allowed accuracy drop as a fraction (0.01 = 1 point). ``tier``: only projections
    onto that profile or tier name, and no measured targets; ``target``: only that target."""
    runs = select(results, model=model, target=target)
    fp32_acc = _fp32_accuracy(runs)
    out: list[Recommendation] = []
    if tier is None:
        groups: dict[tuple[str, str], list[RunResult]] = {}
        for r in runs:
            groups.setdefault((r.model, r.target), []).append(r)
        for (m, where), rs in groups.items():
            cands = [_candidate(r, fp32_acc, where, (r.latency.p50_ms, r.latency.median_ci_low_ms,
                                                     r.latency.median_ci_high_ms) if r.latency else (None,) * 3,
                                max_drop) for r in rs]
            out.append(_decide(m, where, False, cands, max_drop))
    by_run = {r.run_id: r for r in runs}
    latest: dict[tuple[str, str], Projection] = {}
    for p in sorted(projections, key=lambda p: p.created_at):
        if p.run_id in by_run and p.threads == PROJECTED_THREADS and (tier is None or tier in (p.tier, p.profile)):
            latest[(p.run_id, p.profile)] = p
    tiers: dict[tuple[str, str], list[Candidate]] = {}
    for (run_id, profile), p in latest.items():
        r = by_run[run_id]
        tiers.setdefault((r.model, profile), []).append(
            _candidate(r, fp32_acc, f"tier {profile}", (p.point_ms, p.low_ms, p.high_ms), max_drop))
    # slowest device first (low before mid before high), whatever the profiles are called
    for (m, profile), cands in sorted(tiers.items(), key=lambda kv: (kv[0][0], -_median_ms(kv[1]), kv[0][1])):
        cands.sort(key=lambda c: (c.format, c.variant))
        out.append(_decide(m, f"tier {profile}", True, cands, max_drop))
    return out


def table(recs: list[Recommendation]) -> list[dict[str, Any]]:
    """One row per model × place × artifact: role (fastest / smallest / both / —), numbers, why."""
    rows = []
    for rec in recs:
        cands = [c for c in (rec.fastest, rec.smallest) if c is not None]
        cands = list(dict.fromkeys(cands)) + [c for c, _ in rec.losers]
        why = {id(c): w for c, w in rec.losers}
        for c in cands:
            role = " + ".join(n for n, x in (("fastest", rec.fastest), ("smallest", rec.smallest)) if x is c)
            rows.append({"model": rec.model, "where": rec.where, "projected": rec.projected,
                         "format": c.format, "variant": c.variant, "role": role or "—",
                         "p50_ms": c.p50_ms, "size_mb": c.size_bytes / MB if c.size_bytes is not None else None,
                         "drop": c.drop, "quality": c.quality, "why": why.get(id(c), "recommended"),
                         "run_id": c.run_id})
    return rows
