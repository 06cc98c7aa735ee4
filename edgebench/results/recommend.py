"""``edgebench recommend``: what to ship, per model and per place it runs.

For each model and each measured target (and each device tier a projection exists for), among the
artifacts measured there: the **fastest** within the accuracy budget, the **smallest** within it,
and for every other artifact the reason it loses — slower, larger, too inaccurate, unsupported or
failed there.

Quality, in the order the store has it:
1. accuracy on a labelled folder (``run --dataset``): the drop is the best fp32 accuracy of the
   same model (same dataset) minus this artifact's accuracy;
2. top-1 agreement with the fp32 eager model measured at run time (``run --dataset`` on a flat
   folder): the drop is ``1 − agreement``;
3. the export's parity check against eager, only on the held-out parity inputs where eager is
   *decided* (its softmax top-1 ≥ 0.5, :data:`edgebench.exporters.parity.DECIDED_MIN_PROB`), and
   only with at least :data:`MIN_DECIDED` of them: drop ``1 − agreement``, quoted with its n. A flip
   on an undecided input is a near-tie of the top-2 logits, not an accuracy loss. The calibration
   inputs (in-sample: the ranges were fitted on them) never show a drop is small; their decided
   agreement below 90 % shows the ranges are wrong, and then it is the drop. A manifest written
   before that split (no ``n_decided``) keeps the all-inputs agreement.
When parity exists but eager is decided on fewer than :data:`MIN_DECIDED` held-out inputs, the drop
is *unknown*: the candidate
is not rejected for it, but it is never called "within budget" either — its row and the sentence
say "accuracy drop unknown …; measure with run --dataset DIR", and the sentence also names the
fastest artifact whose drop is known to be within budget. An fp32 artifact that passed parity is
the reference (drop 0). An artifact with no quality number at all cannot be shown to be within
budget, so it is never recommended (its reason says so). The budget is an absolute drop (0.01 =
one point of top-1).

Latency is the measured median (p50) on a target, or the projection's point estimate for a tier
(``all-big`` threads); a tie is called when the runner-up's interval overlaps the winner's.

Speed-up (the sentence): the recommended artifact's latency against the **fastest fp32 artifact of
the same model at the same place** (any format, any delegate) — "N× the fastest fp32 (its label)";
when the fp32 of the recommendation's own format and delegate is a different artifact, its ratio
follows too ("M× <format> fp32 via <delegate>"). Each artifact is named by its format, variant,
what tells it apart from same-named ones (:func:`edgebench.results.compare.labels`: folder tail,
input shape, sha) and the delegate it ran on (:func:`edgebench.results.compare.delegate_of`); the
recommended one also by its file path and short sha256.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from edgebench.results.compare import BASELINE_VARIANT, artifact_key, asked_delegate, delegate_of, labels, select
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
    delegate: str | None = None  # the delegate / execution provider it ran on (compare.delegate_of)
    unknown: str | None = None  # why its drop cannot be judged (not a rejection); None when judged
    ident: str = ""  # what tells it apart from same-named artifacts (folder tail, shape, sha), or ""
    path: str | None = None  # the artifact file
    sha256: str | None = None
    asked: bool = True  # whether the run asked for its delegate (False: the runtime's default)

    @property
    def name(self) -> str:
        """``format variant`` plus, when another artifact shares that name, what tells it apart."""
        return f"{self.format} {self.variant}" + (f" ({self.ident})" if self.ident else "")

    @property
    def label(self) -> str:
        via = f" via {self.delegate}" if self.delegate else ""
        return f"{self.name}{via}"

    @property
    def delegate_text(self) -> str:
        """The delegate, ``(default)`` when the run did not ask for it, ``—`` when nothing says."""
        if not self.delegate:
            return "—"
        return self.delegate + ("" if self.asked else " (default)")

    @property
    def short_reason(self) -> str:
        """The excluded reason's head (``failed``, ``too inaccurate`` …), balanced parentheses."""
        return (self.excluded or "").split(":")[0].split(" (")[0]


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


UNKNOWN = "accuracy drop unknown: eager undecided on all parity inputs; measure with run --dataset DIR"
# held-out parity inputs on which eager is decided that it takes to call a drop known: below it one
# flip moves the drop by over 20 points. The calibration inputs never establish a drop on their own
# (the ranges were fitted on them: in-sample); they only lower it, or show ranges that are wrong.
MIN_DECIDED = 5
CALIBRATION_FLOOR = 0.9  # edgebench.exporters.parity.INT8_MIN_TOP1: below it the ranges are wrong


def _unknown(vs: dict) -> str:
    k = vs.get("n_decided") or 0
    if not k:
        return UNKNOWN
    return (f"accuracy drop unknown: eager decided on only {k} of {vs.get('n')} held-out parity inputs "
            f"(< {MIN_DECIDED}); measure with run --dataset DIR")


def _step(n: Any) -> str:
    # one flipped sample of n moves the drop by 1/n: say so when that is coarser than a budget would be
    return f", one sample = {1 / n:.1%}" if isinstance(n, int) and n > 0 else ""


def _quality(r: RunResult, fp32_acc: dict[tuple[str, str], float]) -> tuple[float | None, str, str | None]:
    """(drop, how it was measured, why it cannot be judged or None); see the module docstring."""
    drop, text = _quality_known(r, fp32_acc)
    if drop is not None or r.variant == BASELINE_VARIANT:
        return drop, text, None
    vs = (r.parity or {}).get("vs_eager") or {}
    if vs.get("top1_agreement") is not None and "n_decided" in vs:
        return None, (f"export parity: top-1 {vs['top1_agreement']:.0%} over all {vs.get('n')} inputs, "
                      f"{vs.get('n_decided') or 0} decided"), _unknown(vs)
    return None, text, None


def _quality_known(r: RunResult, fp32_acc: dict[tuple[str, str], float]) -> tuple[float | None, str]:
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
    sqnr = f", SQNR {vs['sqnr_db']:.0f} dB" if vs.get("sqnr_db") is not None else ""
    if vs.get("top1_agreement") is not None:
        if "n_decided" not in vs:  # a manifest from before the decided split: all inputs, as then
            n = vs.get("n")
            return 1 - vs["top1_agreement"], f"export parity: top-1 {vs['top1_agreement']:.0%} (n={n}{_step(n)}){sqnr}"
        cal = (r.parity or {}).get("vs_eager_on_calibration") or {}
        cal_value, cal_n = cal.get("top1_agreement_decided"), cal.get("n_decided")
        if cal_value is not None and cal_value < CALIBRATION_FLOOR:  # wrong ranges, whatever else says
            return 1 - cal_value, (f"export parity on its calibration inputs: top-1 {cal_value:.0%} where eager "
                                   f"is decided (n={cal_n}): its int8 ranges are wrong{sqnr}")
        if (vs.get("n_decided") or 0) >= MIN_DECIDED and vs.get("top1_agreement_decided") is not None:
            value, n = vs["top1_agreement_decided"], vs["n_decided"]
            return 1 - value, (f"export parity: top-1 {value:.0%} where eager is decided "
                               f"(n={n}{_step(n)}){sqnr}")
    if r.variant == BASELINE_VARIANT and r.status == Status.OK:
        return 0.0, "fp32 (the reference" + (f"; export parity{sqnr.removeprefix(',')})" if sqnr else ")")
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
               budget: float, ident: str = "") -> Candidate:
    drop, qtext, unknown = _quality(r, fp32_acc)
    excluded = None
    if r.status == Status.UNSUPPORTED:
        excluded = f"unsupported on {r.target}" + (f": {r.error.message}" if r.error else "")
    elif r.status not in _MEASURED:
        excluded = f"failed ({r.status.value}" + (f", {r.error.stage}: {r.error.message})" if r.error else ")")
    elif r.status == Status.PARITY_FAILED:
        excluded = "too inaccurate: its export failed the parity check against eager"
    elif lat[0] is None:
        excluded = "no latency measured"
    elif drop is None and unknown is None:
        excluded = f"accuracy unknown ({qtext})"
    elif drop is not None and drop > budget + 1e-12:
        excluded = f"too inaccurate: {drop:.1%} drop > {budget:.1%} budget ({qtext})"
    a = r.artifact
    return Candidate(r.model, r.format, r.variant, where, r.run_id, *lat, a.size_bytes if a else None, drop, qtext,
                     excluded, delegate_of(r), unknown if excluded is None else None, ident,
                     a.path if a else None, a.sha256 if a else None, asked_delegate(r) is not None)


def idents(runs: list[RunResult]) -> dict[str, str]:
    """Per run id, what tells its artifact apart from same-named ones: :func:`compare.labels`'s
    parenthesis (folder tail, input shape, sha) minus the delegate, which is shown on its own; ""
    when nothing needs telling apart."""
    names = labels(runs)
    out = {}
    for r in runs:
        text = names.get(artifact_key(r), r.model)
        extra = text[len(r.model) + 2:-1] if text != r.model else ""
        out[r.run_id] = ", ".join(p for p in extra.split(", ") if p and p != delegate_of(r))
    return out


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
        if c.unknown:
            why += f"; {c.unknown}"
        losers.append((c, why))
    return Recommendation(model, where, projected, budget, fastest, smallest, tuple(losers),
                          _sentence(model, where, projected, fastest, smallest, cands, budget))


def _speedup(fastest: Candidate, cands: list[Candidate]) -> str:
    """``, 2.17× the fastest fp32 (tflite fp32 via xnnpack, 3.27 ms)`` and, when the fp32 of the same
    format and delegate is another artifact, ``; 2.45× onnx fp32 via cpu (3.7 ms)``; "" without fp32."""
    fp32 = [c for c in cands if c.variant == BASELINE_VARIANT and c.p50_ms and c.excluded is None]
    if not fp32 or fastest.variant == BASELINE_VARIANT and fastest is min(fp32, key=lambda c: c.p50_ms):
        return ""
    best = min(fp32, key=lambda c: c.p50_ms)
    text = f", {best.p50_ms / fastest.p50_ms:.2f}× the fastest fp32 ({best.label}, {_ms(best.p50_ms)})"
    same = [c for c in fp32 if c.format == fastest.format and c.delegate == fastest.delegate and c is not fastest]
    if same:
        own = min(same, key=lambda c: c.p50_ms)
        if own is not best:
            text += f"; {own.p50_ms / fastest.p50_ms:.2f}× {own.label} ({_ms(own.p50_ms)})"
    return text


def _file(c: Candidate) -> str:
    sha = f", sha256 {c.sha256[:8]}" if c.sha256 else ""
    return f" — file {c.path}{sha}" if c.path else (f" (sha256 {c.sha256[:8]})" if c.sha256 else "")


def _sentence(model, where, projected, fastest, smallest, cands, budget) -> str:
    place = f"the {where.removeprefix('tier ')} tier (projected)" if projected else where
    if fastest is None:
        reasons = "; ".join(f"{c.label}: {c.excluded}" for c in cands) or "nothing measured"
        return f"{model} on {place}: nothing to ship within a {budget:.1%} accuracy drop — {reasons}."
    speed = _speedup(fastest, cands)
    if fastest.unknown:
        text = (f"{model} on {place}: ship {fastest.label}{_file(fastest)} — the fastest, but "
                f"{fastest.unknown} ({_ms(fastest.p50_ms)}{speed}; {fastest.quality})")
        known = [c for c in cands if c.excluded is None and c.unknown is None]
        if known:
            k = min(known, key=lambda c: c.p50_ms)
            text += (f"; the fastest known within a {budget:.1%} accuracy drop is {k.label} "
                     f"({_ms(k.p50_ms)}; {k.quality})")
    else:
        text = (f"{model} on {place}: ship {fastest.label}{_file(fastest)} — the fastest within a {budget:.1%} "
                f"accuracy drop ({_ms(fastest.p50_ms)}{speed}; {fastest.quality})")
    if smallest is not None and smallest is not fastest:
        caveat = ", accuracy drop unknown" if smallest.unknown else ""
        text += (f"; if size matters most, {smallest.label} is the smallest ({_mb(smallest.size_bytes)} "
                 f"vs {_mb(fastest.size_bytes)}, {_ms(smallest.p50_ms)}{caveat})")
    elif smallest is fastest:
        text += f"; it is also the smallest ({_mb(fastest.size_bytes)})"
    out = [c for c in cands if c.excluded]
    if out:
        text += f". Out: " + "; ".join(f"{c.label} ({c.short_reason})" for c in out)
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
    ident = idents(runs)
    out: list[Recommendation] = []
    if tier is None:
        groups: dict[tuple[str, str], list[RunResult]] = {}
        for r in runs:
            groups.setdefault((r.model, r.target), []).append(r)
        for (m, where), rs in groups.items():
            cands = [_candidate(r, fp32_acc, where, (r.latency.p50_ms, r.latency.median_ci_low_ms,
                                                     r.latency.median_ci_high_ms) if r.latency else (None,) * 3,
                                max_drop, ident[r.run_id]) for r in rs]
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
            _candidate(r, fp32_acc, f"tier {profile}", (p.point_ms, p.low_ms, p.high_ms), max_drop, ident[run_id]))
    # slowest device first (low before mid before high), whatever the profiles are called
    for (m, profile), cands in sorted(tiers.items(), key=lambda kv: (kv[0][0], -_median_ms(kv[1]), kv[0][1])):
        cands.sort(key=lambda c: (c.format, c.variant))
        out.append(_decide(m, f"tier {profile}", True, cands, max_drop))
    return out


def table(recs: list[Recommendation]) -> list[dict[str, Any]]:
    """One row per model × place × artifact: role (fastest / smallest / both / —), identity
    (``artifact``: format, variant and what tells it apart; ``delegate``; ``path``; ``sha256``),
    numbers, why. ``drop`` is None when unknown; a recommended row of unknown drop says so in ``why``."""
    rows = []
    for rec in recs:
        cands = [c for c in (rec.fastest, rec.smallest) if c is not None]
        cands = list(dict.fromkeys(cands)) + [c for c, _ in rec.losers]
        why = {id(c): w for c, w in rec.losers}
        for c in cands:
            role = " + ".join(n for n, x in (("fastest", rec.fastest), ("smallest", rec.smallest)) if x is c)
            rows.append({"model": rec.model, "where": rec.where, "projected": rec.projected,
                         "format": c.format, "variant": c.variant, "artifact": c.name, "delegate": c.delegate,
                         "delegate_text": c.delegate_text,
                         "path": c.path, "sha256": c.sha256, "role": role or "—",
                         "p50_ms": c.p50_ms, "size_mb": c.size_bytes / MB if c.size_bytes is not None else None,
                         "drop": c.drop, "quality": c.quality, "why": why.get(id(c), "recommended" + (f" — {c.unknown}" if c.unknown else "")),
                         "run_id": c.run_id})
    return rows
