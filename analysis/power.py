"""How many seeds each claim needs, sized from a pilot's (or an earlier run's) paired spread, before running.

A claim is decided by one test on a per-seed contrast (:mod:`analysis.verdicts`):
superiority and a difference of gains on the paired difference against the
threshold, a gap share on the Fieller contrast (M - L) - threshold (H - L)
against zero, a matched-shift claim on its matched seeds' gaps, equivalence by
two one-sided tests. Power here is the chance that the rule *decides* (the
interval clears the threshold on the side the pilot's estimate lies), if the
true contrast equals the pilot's estimate and its sd the pilot's sd: from the
noncentral t for one-sided rules, and by integrating over the sample sd for TOST.

A pilot of three seeds knows its sd poorly, so each claim is sized twice: at the
pilot's sd and at the upper end of its one-sided 80% interval (chi-square); a
protocol chooses its looks from the two and says why. Claims in a Holm family are sized at alpha / m
(Bonferroni, the strictest step of Holm's), the gate at alpha; a protocol with
looks sizes the other claims at its last look's nominal level.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pandas as pd
from scipy import integrate, stats

from analysis.sequential import nominal_confidence
from analysis.study_data import StudyData
from attnxfer_core.experiments.claims import (
    GATE,
    Claim,
    Equivalence,
    GainDifference,
    GapShare,
    MatchedShift,
    Superiority,
)
from attnxfer_core.experiments.protocol import HOLM, NOMINAL
from attnxfer_core.experiments.scales import EMBEDDED, check_scale


def one_sided_power(effect: float, sd: float, n: int, alpha: float) -> float:
    """Power of the paired t rule at two-sided level ``alpha`` to put its interval on the side of ``effect``
    (the true mean minus the threshold) with ``n`` seeds and per-seed sd ``sd``."""
    if n < 2:
        return 0.0
    if sd == 0:
        return 1.0 if effect != 0 else 0.0
    df = n - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(critical, df, abs(effect) / sd * math.sqrt(n)))


def tost_power(difference: float, sd: float, n: int, margin: float, alpha: float) -> float:
    """Power of two one-sided paired t tests at ``alpha`` each (the (1 - 2 alpha) interval inside ±margin).

    Given the sample sd s, the interval lies inside exactly when the mean falls in
    (-margin + t s / sqrt(n), margin - t s / sqrt(n)); the mean is normal and (n - 1) s^2 / sd^2 is
    chi-square, so the power is one integral over s.
    """
    if n < 2:
        return 0.0
    if sd == 0:
        return 1.0 if abs(difference) < margin else 0.0
    df = n - 1
    t = stats.t.ppf(1 - alpha, df)
    se = sd / math.sqrt(n)

    def inside(u: float) -> float:  # u: the chi-square draw
        s = sd * math.sqrt(u / df)
        half = margin - t * s / math.sqrt(n)
        if half <= 0:
            return 0.0
        p = stats.norm.cdf((half - difference) / se) - stats.norm.cdf((-half - difference) / se)
        return float(p * stats.chi2.pdf(u, df))

    upper = df * (margin * math.sqrt(n) / (t * sd)) ** 2  # beyond it the interval cannot fit inside
    value, _ = integrate.quad(inside, 0.0, upper, limit=200)
    return float(min(1.0, max(0.0, value)))


def seeds_needed(power_at: Callable[[int], float], target: float = 0.8, most: int = 100) -> Optional[int]:
    """The fewest seeds (2 ... ``most``) with power at least ``target``; None when even ``most`` fall short."""
    for n in range(2, most + 1):
        if power_at(n) >= target:
            return n
    return None


def sd_upper(sd: float, n: int, confidence: float = 0.8) -> float:
    """Upper end of the one-sided ``confidence`` interval of a normal sd estimated from ``n`` values."""
    if n < 2:
        return float("nan")
    df = n - 1
    return float(sd * math.sqrt(df / stats.chi2.ppf(1 - confidence, df)))


@dataclass(frozen=True)
class Contrast:
    """The per-seed values a claim's rule tests, and what it tests them against."""

    values: np.ndarray
    threshold: float  # the rule: mean(values) > threshold, or |mean(values)| < threshold (equivalence)
    equivalence: bool = False


def _paired(a: pd.Series, b: pd.Series) -> np.ndarray:
    common = a.index.intersection(b.index).sort_values()
    return (a[common] - b[common]).astype(float).to_numpy()


def contrast(claim: Claim, data: StudyData) -> Optional[Contrast]:
    """The claim's tested contrast on ``data`` (None when fewer than two seeds have it)."""
    per_seed = lambda s: data.per_seed(s, claim.metric)  # noqa: E731
    if isinstance(claim, Superiority):
        c = Contrast(_paired(per_seed(claim.better), per_seed(claim.worse)), claim.threshold)
    elif isinstance(claim, GainDifference):
        a, b, c_, d = (per_seed(s) for s in claim.selectors())
        c = Contrast(_paired((a - b).dropna(), (c_ - d).dropna()), claim.threshold)
    elif isinstance(claim, Equivalence):
        c = Contrast(_paired(per_seed(claim.a), per_seed(claim.b)), claim.margin, equivalence=True)
    elif isinstance(claim, GapShare):
        m, lo, hi = (per_seed(s) for s in (claim.method, claim.low, claim.high))
        common = m.index.intersection(lo.index).intersection(hi.index).sort_values()
        gain, gap = (m[common] - lo[common]).to_numpy(float), (hi[common] - lo[common]).to_numpy(float)
        c = Contrast(gain - claim.threshold * gap, 0.0)
    elif isinstance(claim, MatchedShift):
        _, _, kept = data.matched_within(claim.method, claim.reference, claim.family, claim.tolerance)
        c = Contrast(kept.to_numpy(float), 0.0)
    else:
        raise TypeError(f"no power rule for {type(claim).__name__}")
    return c if len(c.values) >= 2 else None


@dataclass(frozen=True)
class PowerRow:
    """One claim's seed requirement."""

    claim: str
    role: str
    kind: str
    pilot_seeds: int
    estimate: float  # the pilot's mean contrast (nan without pilot data)
    sd: float  # the pilot's per-seed sd of the contrast
    threshold: float
    outcome: str  # which decision the seeds are sized for: "replicates" or "does not replicate"
    alpha: float  # the level the claim is sized at
    seeds: Optional[int]  # at the pilot's sd (None: more than `most`)
    seeds_conservative: Optional[int]  # at the upper end of the sd's 80% interval
    note: str = ""


def claim_power(claim: Claim, data: StudyData, alpha: float, target: float = 0.8, most: int = 100,
                sd_confidence: float = 0.8) -> PowerRow:
    """Seeds the claim needs for ``target`` power at ``alpha``, sized on ``data``."""
    c = contrast(claim, data)
    if c is None:
        return PowerRow(claim.text, claim.role, claim.kind, 0, float("nan"), float("nan"), float("nan"), "",
                        alpha, None, None, "no pilot data: fewer than two seeds have this contrast")
    n, mean, sd = len(c.values), float(c.values.mean()), float(c.values.std(ddof=1))
    upper = sd_upper(sd, n, sd_confidence)
    if c.equivalence and abs(mean) < c.threshold:
        outcome = "replicates"
        fn = lambda s: lambda k: tost_power(mean, s, k, c.threshold, alpha)  # noqa: E731
    else:
        effect = abs(mean) - c.threshold if c.equivalence else mean - c.threshold
        outcome = "replicates" if effect > 0 and not c.equivalence else "does not replicate"
        fn = lambda s: lambda k: one_sided_power(effect, s, k, alpha)  # noqa: E731
    note = "" if mean != c.threshold else "the pilot sits on the threshold: no number of seeds decides it"
    if isinstance(claim, GapShare):
        note = "sized on the Fieller contrast; the gap itself must also be clearly above zero"
    return PowerRow(claim.text, claim.role, claim.kind, n, mean, sd, c.threshold, outcome, alpha,
                    seeds_needed(fn(sd), target, most), seeds_needed(fn(upper), target, most), note)


def sizing_alpha(data: StudyData, claim: Claim, family: int) -> float:
    """The level a claim of the study is sized at: the protocol's alpha (its last look's nominal level under
    alpha spending), divided by the Holm family's size for every claim but the gate."""
    protocol = data.study.protocol
    alpha = 0.05 if protocol is None else protocol.alpha
    if claim.role == GATE:  # a precondition: decided at alpha at every look
        return alpha
    if protocol is not None and len(protocol.looks) >= 2 and protocol.spending != NOMINAL:
        alpha = 1 - nominal_confidence(protocol.looks[-1], protocol.looks, protocol.alpha, protocol.spending)
    # studies registered before the rules (no protocol, or main's hand-written one): sized as the rules ask now
    holm = protocol is None or protocol.hand_written or protocol.multiplicity == HOLM
    if holm and family > 1:
        alpha /= family
    return alpha


def study_power(data: StudyData, target: float = 0.8, most: int = 100, sd_confidence: float = 0.8) -> list[PowerRow]:
    """Every claim of the study (at the scale its tables were collected at), sized."""
    scale = check_scale(data.provenance.get("scale", EMBEDDED))
    claims = data.study.claims_at(scale)
    family = sum(1 for c in claims if c.role != GATE)
    return [claim_power(c, data, sizing_alpha(data, c, family), target, most, sd_confidence) for c in claims]


def format_power(rows: list[PowerRow], target: float, most: int) -> str:
    """The table ``attnxfer power`` prints."""
    def seeds(n: Optional[int]) -> str:
        return f">{most}" if n is None else str(n)

    lines = [f"seeds for {100 * target:g}% power to decide each claim (true contrast = the pilot's estimate)",
             "| claim | role | pilot seeds | estimate | sd | threshold | sized for | alpha | seeds (pilot sd) "
             "| seeds (sd 80% upper) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r.pilot_seeds:
            lines.append(f"| {r.claim} | {r.role} | 0 | — | — | — | — | {r.alpha:.3g} | — | — |")
            continue
        lines.append(f"| {r.claim} | {r.role} | {r.pilot_seeds} | {r.estimate:.3f} | {r.sd:.3f} | {r.threshold:g} "
                     f"| {r.outcome} | {r.alpha:.3g} | {seeds(r.seeds)} | {seeds(r.seeds_conservative)} |")
    notes = [f"- {r.claim}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))
