"""The "does it replicate?" panel: each claim a study declares, decided from our intervals.

Claims are declared in the study files (:mod:`attnxfer_core.experiments.claims`);
this module decides them from the collected per-seed numbers with
:mod:`analysis.stats`, one rule per kind:

- superiority: the 95% interval of the paired difference lies above the margin
  (replicates), below it (does not replicate), or straddles it (inconclusive);
- equivalence: the 90% interval of the paired difference lies inside ±margin
  (TOST at 5%: replicates), the 95% interval lies wholly outside it (does not),
  or neither (inconclusive);
- share of a gap: the Fieller 95% interval of the share lies above the
  threshold (replicates), below it (does not), or straddles it or is unbounded
  (inconclusive);
- difference of gains: as superiority, on the paired difference of two paired gains.

One seed gives no interval: such a verdict is inconclusive, and says so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import pandas as pd

from analysis.stats import Interval, equivalence, gap_share, paired_difference
from analysis.study_data import StudyData
from attnxfer_core.experiments.claims import (
    GATE,
    Claim,
    Equivalence,
    GainDifference,
    GapShare,
    MatchedShift,
    Superiority,
    describe,
)
from attnxfer_core.experiments.scales import EMBEDDED, check_scale

REPLICATES, DOES_NOT, INCONCLUSIVE, NO_DATA = "replicates", "does not replicate", "inconclusive", "no data"
UNINFORMATIVE = "uninformative"  # the study's gate did not replicate: this claim cannot be decided
VERDICT_WORDS = (REPLICATES, DOES_NOT, INCONCLUSIVE, UNINFORMATIVE, NO_DATA)


@dataclass
class Verdict:
    study: str
    claim: str
    verdict: str
    evidence: str
    kind: str = ""
    paper: Optional[float] = None  # the paper's value of the claimed quantity, where known
    interval: Optional[Interval] = None
    role: str = ""


def unit(metric: str) -> str:
    """What a difference in ``metric`` is counted in: accuracy points, or the metric itself (a JSD, an ECE ...)."""
    name = metric.rsplit(":", 1)[-1].split("/", 1)[0]
    return "points" if name.startswith("top") else f"({name})"


def _side(interval: Interval, threshold: float) -> str:
    if math.isnan(interval.low) or math.isnan(interval.high):
        return INCONCLUSIVE
    if interval.low > threshold:
        return REPLICATES
    if interval.high < threshold:
        return DOES_NOT
    return INCONCLUSIVE


def superiority(study: str, claim: Superiority, data: StudyData) -> Verdict:
    a, b = data.per_seed(claim.better, claim.metric), data.per_seed(claim.worse, claim.metric)
    diff = paired_difference(a, b)
    if diff is None:
        return Verdict(study, claim.text, NO_DATA, f"needs finished runs of {describe(claim.better)} and "
                       f"{describe(claim.worse)}", claim.kind, claim.paper)
    evidence = f"{describe(claim.better)} - {describe(claim.worse)} = {diff.text()} {unit(claim.metric)}"
    if claim.margin:
        evidence += f"; margin {claim.margin:g}"
    return Verdict(study, claim.text, _side(diff, claim.margin), evidence, claim.kind, claim.paper, diff)


def equivalent(study: str, claim: Equivalence, data: StudyData) -> Verdict:
    a, b = data.per_seed(claim.a, claim.metric), data.per_seed(claim.b, claim.metric)
    test = equivalence(a, b, claim.margin)
    if test is None or not test.difference.paired or test.difference.n < 2:
        return Verdict(study, claim.text, NO_DATA if test is None else INCONCLUSIVE,
                       f"needs >= 2 paired seeds of {describe(claim.a)} and {describe(claim.b)}",
                       claim.kind, claim.paper)
    wide = paired_difference(a, b)
    assert wide is not None
    if test.p_value < 0.05:
        verdict = REPLICATES
    elif wide.low > claim.margin or wide.high < -claim.margin:
        verdict = DOES_NOT
    else:
        verdict = INCONCLUSIVE
    evidence = (f"{describe(claim.a)} - {describe(claim.b)} = {test.difference.text()} {unit(claim.metric)}; "
                f"margin ±{claim.margin:g}, TOST p = {test.p_value:.3f}")
    return Verdict(study, claim.text, verdict, evidence, claim.kind, claim.paper, test.difference)


def share(study: str, claim: GapShare, data: StudyData) -> Verdict:
    m, lo, hi = (data.per_seed(s, claim.metric) for s in (claim.method, claim.low, claim.high))
    interval = gap_share(m, lo, hi)
    if interval is None:
        return Verdict(study, claim.text, NO_DATA, f"needs runs of {describe(claim.method)}, {describe(claim.low)} and "
                       f"{describe(claim.high)} on common seeds, with a gap", claim.kind, claim.paper)
    evidence = (f"share of the {describe(claim.low)} -> {describe(claim.high)} gap recovered by "
                f"{describe(claim.method)}: {interval.text(scale=100, digits=1, unit='%')}; "
                f"threshold {100 * claim.threshold:g}%")
    return Verdict(study, claim.text, _side(interval, claim.threshold), evidence, claim.kind, claim.paper, interval)


def gain_difference(study: str, claim: GainDifference, data: StudyData) -> Verdict:
    a, b, c, d = (data.per_seed(s, claim.metric) for s in claim.selectors())
    diff = paired_difference((a - b).dropna(), (c - d).dropna())  # each gain paired by seed, then the two
    if diff is None:
        return Verdict(study, claim.text, NO_DATA, "needs runs of " + "; ".join(describe(s) for s in claim.selectors())
                       + " on common seeds", claim.kind, claim.paper)
    evidence = (f"({describe(claim.gain)} - {describe(claim.over)}) - ({describe(claim.than)} - "
                f"{describe(claim.than_over)}) = {diff.text()} {unit(claim.metric)}")
    if not diff.paired or diff.n < 2:
        return Verdict(study, claim.text, INCONCLUSIVE, evidence + " (needs >= 2 seeds with all four runs)",
                       claim.kind, claim.paper, diff)
    if claim.margin:
        evidence += f"; margin {claim.margin:g}"
    return Verdict(study, claim.text, _side(diff, claim.margin), evidence, claim.kind, claim.paper, diff)


def matched_shift(study: str, claim: MatchedShift, data: StudyData) -> Verdict:
    gaps = data.matched_gap(claim.method, claim.reference, claim.family)
    diff = paired_difference(gaps, pd.Series(0.0, index=gaps.index)) if len(gaps) else None
    if diff is None:
        return Verdict(study, claim.text, NO_DATA, f"needs the matched analysis of {claim.method} against "
                       f"{claim.reference} on {claim.family}", claim.kind, claim.paper)
    evidence = (f"{claim.reference} - {claim.method} on {claim.family} at matched clean accuracy = "
                f"{diff.text()} points")
    return Verdict(study, claim.text, _side(diff, 0.0), evidence, claim.kind, claim.paper, diff)


DECIDERS = {Superiority: superiority, Equivalence: equivalent, GapShare: share, GainDifference: gain_difference,
            MatchedShift: matched_shift}


def decide(study: str, claim: Claim, data: StudyData) -> Verdict:
    verdict = DECIDERS[type(claim)](study, claim, data)
    verdict.role = claim.role
    return verdict


def study_verdicts(data: StudyData) -> list[Verdict]:
    """Every claim the study declares (at the scale its tables were collected at), decided.

    When a gate claim does not replicate (for want of data too), the other claims are reported
    as uninformative (their evidence kept): the experiment cannot speak to them.
    """
    scale = check_scale(data.provenance.get("scale", EMBEDDED))
    decided = [decide(data.study.name, claim, data) for claim in data.study.claims_at(scale)]
    failed = [v for v in decided if v.role == GATE and v.verdict != REPLICATES]
    if failed:
        for v in decided:
            if v.role != GATE and v.verdict != NO_DATA:
                v.evidence = f"{v.evidence} (would be: {v.verdict}; gate not passed: {failed[0].claim})"
                v.verdict = UNINFORMATIVE
    return decided


def verdicts(datas: Sequence[StudyData]) -> list[Verdict]:
    return [v for data in datas for v in study_verdicts(data)]
