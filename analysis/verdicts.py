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

Each verdict also carries the p-value of its "replicates" test on the two-sided
scale (p < alpha exactly when the interval clears the rule) and, within its
study, the Holm-adjusted p over every claim but the gate. A study whose protocol
(:mod:`attnxfer_core.experiments.protocol`) registers Holm replicates a claim
only when its adjusted p is below alpha; a protocol with looks decides at the
nominal level its alpha-spending rule gives the look (:mod:`analysis.sequential`),
and only at a registered look. A matched-accuracy claim counts only seeds whose
checkpoints are matched within its tolerance, and is uninformative with fewer
than two. A study without a protocol is decided as it was registered (alpha
0.05, one look, no correction); its Holm-adjusted p is shown all the same.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import pandas as pd

from analysis.sequential import nominal_confidence
from analysis.stats import Interval, equivalence, gap_share, gap_share_p, holm, p_above, paired_difference
from analysis.study_data import StudyData
from attnxfer_core.experiments.claims import (
    GATE,
    PRIMARY,
    Claim,
    Equivalence,
    GainDifference,
    GapShare,
    MatchedShift,
    Superiority,
    describe,
    paper_says,
)
from attnxfer_core.experiments.protocol import HOLM, NOMINAL
from attnxfer_core.experiments.scales import EMBEDDED, check_scale


class VerdictWord(str, enum.Enum):
    """What a claim's data say. A str: it compares, serialises and prints as its words."""

    REPLICATES = "replicates"
    DOES_NOT = "does not replicate"
    INCONCLUSIVE = "inconclusive"  # the interval straddles the rule's threshold (or there is none)
    UNINFORMATIVE = "uninformative"  # the gate failed, the seeds are no registered look, or no matched pair
    NO_DATA = "no data"  # the runs are missing

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


REPLICATES, DOES_NOT, INCONCLUSIVE = VerdictWord.REPLICATES, VerdictWord.DOES_NOT, VerdictWord.INCONCLUSIVE
UNINFORMATIVE, NO_DATA = VerdictWord.UNINFORMATIVE, VerdictWord.NO_DATA
VERDICT_WORDS = tuple(VerdictWord)


@dataclass
class Verdict:
    study: str
    claim: str
    verdict: VerdictWord
    evidence: str
    kind: str = ""
    paper: Optional[float] = None  # the paper's value of the claimed quantity, where known
    interval: Optional[Interval] = None
    role: str = ""
    # the rule's "replicates" test: two-sided scale for intervals, TOST's p for equivalence; either way p < alpha
    # exactly when the rule's interval clears it (nan: no test possible)
    p: float = float("nan")
    p_adjusted: float = float("nan")  # Holm over the study's claims but the gate (the gate: its own p)
    alpha: float = 0.05  # the level this verdict was decided at (a look's nominal level under alpha spending)
    corrected: bool = False  # whether the verdict itself honours p_adjusted (a protocol registering Holm)
    threshold: Optional[float] = None  # the margin / threshold the interval is held to
    paper_says: str = "—"  # the paper's value or direction with its table or figure (claims.paper_says)
    seeds: int = 0  # seeds the claim's data cover (paired; a matched claim: seeds its analysis compared)


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


def _margin_text(margin: float, claim) -> str:
    if getattr(claim, "paper_fraction", None) is not None and claim.paper is not None:
        return f"; threshold {margin:g} ({claim.paper_fraction:g} of the paper's {claim.paper:g})"
    return f"; margin {margin:g}" if margin else ""


def superiority(study: str, claim: Superiority, data: StudyData, alpha: float = 0.05) -> Verdict:
    a, b = data.per_seed(claim.better, claim.metric), data.per_seed(claim.worse, claim.metric)
    diff = paired_difference(a, b, confidence=1 - alpha)
    if diff is None:
        return Verdict(study, claim.text, NO_DATA, f"needs finished runs of {describe(claim.better)} and "
                       f"{describe(claim.worse)}", claim.kind, claim.paper, threshold=claim.threshold)
    evidence = f"{describe(claim.better)} - {describe(claim.worse)} = {diff.text()} {unit(claim.metric)}"
    evidence += _margin_text(claim.threshold, claim)
    return Verdict(study, claim.text, _side(diff, claim.threshold), evidence, claim.kind, claim.paper, diff,
                   p=p_above(a, b, claim.threshold), threshold=claim.threshold)


def equivalent(study: str, claim: Equivalence, data: StudyData, alpha: float = 0.05) -> Verdict:
    a, b = data.per_seed(claim.a, claim.metric), data.per_seed(claim.b, claim.metric)
    test = equivalence(a, b, claim.margin, alpha=alpha)
    if test is None or not test.difference.paired or test.difference.n < 2:
        return Verdict(study, claim.text, NO_DATA if test is None else INCONCLUSIVE,
                       f"needs >= 2 paired seeds of {describe(claim.a)} and {describe(claim.b)}",
                       claim.kind, claim.paper, threshold=claim.margin)
    wide = paired_difference(a, b, confidence=1 - alpha)
    assert wide is not None
    if test.p_value < alpha:
        verdict = REPLICATES
    elif wide.low > claim.margin or wide.high < -claim.margin:
        verdict = DOES_NOT
    else:
        verdict = INCONCLUSIVE
    evidence = (f"{describe(claim.a)} - {describe(claim.b)} = {test.difference.text()} {unit(claim.metric)}; "
                f"margin ±{claim.margin:g}, TOST p = {test.p_value:.3f}")
    return Verdict(study, claim.text, verdict, evidence, claim.kind, claim.paper, test.difference,
                   p=test.p_value, threshold=claim.margin)


def share(study: str, claim: GapShare, data: StudyData, alpha: float = 0.05) -> Verdict:
    m, lo, hi = (data.per_seed(s, claim.metric) for s in (claim.method, claim.low, claim.high))
    interval = gap_share(m, lo, hi, confidence=1 - alpha)
    if interval is None:
        return Verdict(study, claim.text, NO_DATA, f"needs runs of {describe(claim.method)}, {describe(claim.low)} and "
                       f"{describe(claim.high)} on common seeds, with a gap", claim.kind, claim.paper,
                       threshold=claim.threshold)
    evidence = (f"share of the {describe(claim.low)} -> {describe(claim.high)} gap recovered by "
                f"{describe(claim.method)}: {interval.text(scale=100, digits=1, unit='%')}; "
                f"threshold {100 * claim.threshold:g}%")
    return Verdict(study, claim.text, _side(interval, claim.threshold), evidence, claim.kind, claim.paper, interval,
                   p=gap_share_p(m, lo, hi, claim.threshold), threshold=claim.threshold)


def gain_difference(study: str, claim: GainDifference, data: StudyData, alpha: float = 0.05) -> Verdict:
    a, b, c, d = (data.per_seed(s, claim.metric) for s in claim.selectors())
    gain, other = (a - b).dropna(), (c - d).dropna()  # each gain paired by seed, then the two
    diff = paired_difference(gain, other, confidence=1 - alpha)
    if diff is None:
        return Verdict(study, claim.text, NO_DATA, "needs runs of " + "; ".join(describe(s) for s in claim.selectors())
                       + " on common seeds", claim.kind, claim.paper, threshold=claim.threshold)
    evidence = (f"({describe(claim.gain)} - {describe(claim.over)}) - ({describe(claim.than)} - "
                f"{describe(claim.than_over)}) = {diff.text()} {unit(claim.metric)}")
    if not diff.paired or diff.n < 2:
        return Verdict(study, claim.text, INCONCLUSIVE, evidence + " (needs >= 2 seeds with all four runs)",
                       claim.kind, claim.paper, diff, threshold=claim.threshold)
    evidence += _margin_text(claim.threshold, claim)
    return Verdict(study, claim.text, _side(diff, claim.threshold), evidence, claim.kind, claim.paper, diff,
                   p=p_above(gain, other, claim.threshold), threshold=claim.threshold)


def matched_shift(study: str, claim: MatchedShift, data: StudyData, alpha: float = 0.05) -> Verdict:
    gaps, clean, kept = data.matched_within(claim.method, claim.reference, claim.family, claim.tolerance)
    if not len(gaps):
        return Verdict(study, claim.text, NO_DATA, f"needs the matched analysis of {claim.method} against "
                       f"{claim.reference} on {claim.family}", claim.kind, claim.paper, threshold=0.0)
    match_text = (f"clean top-1 gap at the matched checkpoints {', '.join(f'{g:+.2f}' for g in clean)} "
                  f"(tolerance ±{claim.tolerance:g}): {len(kept)} of {len(gaps)} seeds matched")
    if len(kept) < 2:
        return Verdict(study, claim.text, UNINFORMATIVE, f"not matched: {match_text}; the comparison at equal clean "
                       "accuracy was not achieved", claim.kind, claim.paper, threshold=0.0, seeds=len(gaps))
    zero = pd.Series(0.0, index=kept.index)
    diff = paired_difference(kept, zero, confidence=1 - alpha)
    assert diff is not None
    evidence = (f"{claim.reference} - {claim.method} on {claim.family} at matched clean accuracy = "
                f"{diff.text()} points; {match_text}")
    return Verdict(study, claim.text, _side(diff, 0.0), evidence, claim.kind, claim.paper, diff,
                   p=p_above(kept, zero), threshold=0.0, seeds=len(gaps))  # the look counts seeds analysed


DECIDERS = {Superiority: superiority, Equivalence: equivalent, GapShare: share, GainDifference: gain_difference,
            MatchedShift: matched_shift}


def decide(study: str, claim: Claim, data: StudyData, alpha: float = 0.05) -> Verdict:
    verdict = DECIDERS[type(claim)](study, claim, data, alpha)
    verdict.role = claim.role
    verdict.paper_says = paper_says(claim)
    verdict.alpha = alpha
    if not verdict.seeds and verdict.interval is not None:
        verdict.seeds = verdict.interval.n
    return verdict


def seeds_seen(data: StudyData) -> int:
    """How many seeds the study's collected runs have (the look a verdict is made at)."""
    clean = data.clean
    return int(clean["seed"].nunique()) if not clean.empty and "seed" in clean else 0


def study_alpha(data: StudyData, seeds: int) -> tuple[float, Optional[str]]:
    """The level the study's verdicts are made at, and why none can be made (None when they can).

    A protocol with two or more looks spends its alpha over them: a verdict at a look uses that look's
    nominal level, and seeds that are not a registered look give no verdict at all (the gate excepted from
    the spending, see :func:`study_verdicts`).
    """
    protocol = data.study.protocol
    if protocol is None:
        return 0.05, None
    looks = data.study.looks(check_scale(data.provenance.get("scale", EMBEDDED)))
    if seeds not in looks:
        return protocol.alpha, f"{seeds} seeds is not one of the protocol's looks ({', '.join(map(str, looks))})"
    if len(looks) < 2 or protocol.spending == NOMINAL:
        return protocol.alpha, None
    return 1 - nominal_confidence(seeds, looks, protocol.alpha, protocol.spending), None


def study_verdicts(data: StudyData) -> list[Verdict]:
    """Every claim the study declares (at the scale its tables were collected at), decided.

    Holm's correction runs over every claim but the gate; a protocol registering it demotes a claim whose
    adjusted p is not below alpha from *replicates* to *inconclusive*. The gate is a precondition, not one
    of the claims: it is decided at the protocol's alpha at every look (it spends none). When a gate claim does not
    replicate (for want of data too), the other claims are reported as uninformative (their evidence
    kept): the experiment cannot speak to them.
    """
    scale = check_scale(data.provenance.get("scale", EMBEDDED))
    seeds = seeds_seen(data)
    alpha, no_look = study_alpha(data, seeds)
    gate_alpha = data.study.protocol.alpha if data.study.protocol is not None else 0.05  # spends nothing
    decided = [decide(data.study.name, claim, data, gate_alpha if claim.role == GATE else alpha)
               for claim in data.study.claims_at(scale)]
    family = [v for v in decided if v.role != GATE]
    for v, adjusted in zip(family, holm([v.p for v in family])):
        v.p_adjusted = adjusted
    protocol = data.study.protocol
    for v in decided:
        if v.role == GATE:
            v.p_adjusted = v.p
        v.corrected = protocol is not None and protocol.multiplicity == HOLM
        if v.corrected and v.role != GATE and v.verdict == REPLICATES and not v.p_adjusted < alpha:
            v.evidence += f" (would be: {REPLICATES}; Holm-adjusted p = {v.p_adjusted:.3f} is not below {alpha:.3g})"
            v.verdict = INCONCLUSIVE
        if no_look is not None and v.verdict != NO_DATA:
            v.evidence += f" (would be: {v.verdict}; {no_look})"
            v.verdict = UNINFORMATIVE
        elif protocol is not None and v.verdict != NO_DATA and v.seeds != seeds:
            v.evidence += (f" (would be: {v.verdict}; its runs cover {v.seeds} seeds, not the look's "
                           f"{seeds}: a look is decided once all its runs are done)")
            v.verdict = UNINFORMATIVE
    failed = [v for v in decided if v.role == GATE and v.verdict != REPLICATES]
    if failed:
        for v in decided:
            if v.role != GATE and v.verdict not in (NO_DATA, UNINFORMATIVE):
                v.evidence = f"{v.evidence} (would be: {v.verdict}; gate not passed: {failed[0].claim})"
                v.verdict = UNINFORMATIVE
    return decided


def next_look(data: StudyData, decided: Sequence[Verdict]) -> Optional[str]:
    """What the protocol's extension rule says after these verdicts: the command of the next registered look,
    or why the study stops (None for a study without looks). The next look runs unless the gate does not
    replicate (or has not replicated, where the protocol says ``extend_needs_gate``) or every primary claim
    (every claim, when none is primary) is decided."""
    protocol = data.study.protocol
    if protocol is None or len(protocol.looks) < 2:
        return None
    seeds = seeds_seen(data)
    if seeds not in protocol.looks:
        return f"{seeds} seeds is not a registered look ({', '.join(map(str, protocol.looks))}): finish the look"
    later = [n for n in protocol.looks if n > seeds]
    if not later:
        return f"final look ({seeds} seeds): the study is done"
    if any(v.role == GATE and v.verdict == DOES_NOT for v in decided):
        return "stop: the gate does not replicate"
    if protocol.extend_needs_gate and not all(v.verdict == REPLICATES for v in decided if v.role == GATE):
        return "stop: the gate has not replicated, and the protocol extends only once it has"
    endpoints = [v for v in decided if v.role == PRIMARY] or [v for v in decided if v.role != GATE]
    if endpoints and all(v.verdict in (REPLICATES, DOES_NOT) for v in endpoints):
        return f"stop at {seeds} seeds: every primary claim is decided"
    name, n = data.study.name, later[0]
    return f"next registered look: attnxfer run {name} --seeds {n}, then attnxfer collect {name} --seeds {n}"


def p_text(v: Verdict) -> str:
    """``p 0.012, Holm 0.048`` (what the CLI and the dashboard print beside a verdict)."""
    if math.isnan(v.p):
        return "p —"
    if v.role == GATE:
        return f"p {v.p:.3g} (gate: not corrected)"
    return f"p {v.p:.3g}, Holm {v.p_adjusted:.3g}" + ("" if v.corrected else " (not registered)")


def verdicts(datas: Sequence[StudyData]) -> list[Verdict]:
    return [v for data in datas for v in study_verdicts(data)]
