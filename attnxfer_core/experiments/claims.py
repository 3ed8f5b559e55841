"""The paper's claims a study tests, declared beside the study, with the rule that decides each.

A claim compares groups of runs named by their sweep-point values (a
:data:`Selector` such as ``{"method": "copy"}``), per seed, on the clean test
set's top-1. These kinds cover the paper's statements and ours:

- :class:`Superiority`: A beats B (by more than ``margin`` points).
- :class:`Equivalence`: A and B agree within ``margin`` points.
- :class:`GapShare`: a method recovers a share of the gap between two others
  (scratch -> fine-tune), compared with ``threshold``.
- :class:`GainDifference`: one gain (A over B) exceeds another (C over D), e.g. a
  matched student gains more from its teacher over its own scratch baseline than a
  standard student does over its own.
- :class:`MatchedShift`: at equal clean accuracy (within a registered
  tolerance), a reference model keeps more accuracy under a shift than a method
  does (Table 4's protocol).

Where the paper gives an effect size, a superiority claim can be held to it
(``paper_fraction``: A beats B by more than that fraction of the paper's
difference), so an interval that excludes the paper's value cannot read as a
mere "inconclusive" about a positive sign.

A selector may name one of the study's ensembles instead (``{"ensemble":
"distill+finetune"}``, seeded by its first member), and ``metric`` may name a
value of the similarity analysis (``similarity:jsd_matched/pretrained``, averaged
over layers) instead of a clean-set metric.

Each claim names its ``source``: the table, figure or appendix section where the
paper states what the claim tests, with the number in ``paper`` where the paper
gives one and only the direction otherwise (:func:`paper_says` renders it);
``None`` where the paper states nothing (our gates' thresholds, claims beyond
the paper). A ``paper`` value without a source is refused at validation.

Each claim has a role: a ``gate`` that must hold for the experiment to be
informative (fine-tuning must clearly beat scratch before "transfer recovers the
gap" means anything), ``primary`` endpoints, and ``secondary`` ones.

Claims are data: the statistics that decide them live in the analysis layer
(``analysis.verdicts``), one implementation for the dashboard, figures and demo.
Every key and value a claim names is checked against the study's points before
anything trains (:mod:`attnxfer_core.experiments.validation`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Optional

Selector = Mapping[str, Any]  # sweep-point key -> value; a run matches when all are equal (as text)
ENSEMBLE = "ensemble"  # a selector key naming one of the study's ensembles instead of runs
SIMILARITY = "similarity:"  # a metric prefix: a per-layer value of the similarity analysis


def describe(selector: Selector) -> str:
    """``method=copy, side=last`` (how a selector reads in a verdict)."""
    return ", ".join(f"{k}={v}" for k, v in selector.items())


GATE, PRIMARY, SECONDARY = "gate", "primary", "secondary"


def paper_margin(margin: float, paper: Optional[float], paper_fraction: Optional[float]) -> float:
    """The threshold a difference must clear: ``paper_fraction`` of the paper's value where registered, else
    ``margin``. The fraction is checked against ``paper`` when the study is validated."""
    if paper_fraction is None or paper is None:
        return margin
    return paper_fraction * paper


@dataclass(frozen=True, kw_only=True)
class Claim:
    text: str  # the claim as the paper makes it, in a sentence
    metric: str = "top1"  # compared on the clean test set, per seed
    # A pre-registered protocol names its endpoints: the gate (when it does not replicate, the experiment
    # cannot speak to the others: they are "uninformative"), the primary endpoints, and the rest.
    role: str = SECONDARY
    # where the paper states what this claim tests ("Table 2", "appendix (feature distillation)"): with the number
    # in ``paper`` where it gives one, its direction alone otherwise; None: the paper states nothing about it
    source: Optional[str] = None

    kind: ClassVar[str] = ""

    def selectors(self) -> tuple[Selector, ...]:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Superiority(Claim):
    """``better`` beats ``worse``: replicates when the 95% interval of the paired difference lies above the
    threshold: ``margin``, or ``paper_fraction`` x ``paper`` where a fraction is registered."""

    better: Selector
    worse: Selector
    margin: float = 0.0  # points
    paper: Optional[float] = None  # the paper's difference (points), where known
    paper_fraction: Optional[float] = None  # the difference must exceed this share of the paper's (needs paper)

    kind: ClassVar[str] = "superiority"

    @property
    def threshold(self) -> float:
        return paper_margin(self.margin, self.paper, self.paper_fraction)

    def selectors(self) -> tuple[Selector, ...]:
        return (self.better, self.worse)


@dataclass(frozen=True, kw_only=True)
class Equivalence(Claim):
    """``a`` matches ``b``: replicates when the 90% interval of a - b lies inside ±``margin`` (two one-sided tests)."""

    a: Selector
    b: Selector
    margin: float  # points
    paper: Optional[float] = None  # the paper's difference a - b (points), where known

    kind: ClassVar[str] = "equivalence"

    def selectors(self) -> tuple[Selector, ...]:
        return (self.a, self.b)


@dataclass(frozen=True, kw_only=True)
class GapShare(Claim):
    """``method`` recovers a share of the ``low`` -> ``high`` gap: (method - low) / (high - low).

    The share is a ratio of paired mean differences with a Fieller 95% interval.
    It replicates when the interval lies above ``threshold``.
    """

    method: Selector
    low: Selector  # e.g. scratch
    high: Selector  # e.g. fine-tune
    threshold: float  # a share, e.g. 0.5 for "most of the gap"
    paper: Optional[float] = None  # the paper's share, where known

    kind: ClassVar[str] = "share of a gap"

    def selectors(self) -> tuple[Selector, ...]:
        return (self.method, self.low, self.high)


@dataclass(frozen=True, kw_only=True)
class GainDifference(Claim):
    """(``gain`` - ``over``) exceeds (``than`` - ``than_over``) by more than ``margin``, paired by seed.

    Replicates when the 95% interval of the paired difference of the two gains lies above ``margin``.
    """

    gain: Selector
    over: Selector
    than: Selector
    than_over: Selector
    margin: float = 0.0  # points
    paper: Optional[float] = None
    paper_fraction: Optional[float] = None  # as for Superiority

    kind: ClassVar[str] = "difference of gains"

    @property
    def threshold(self) -> float:
        return paper_margin(self.margin, self.paper, self.paper_fraction)

    def selectors(self) -> tuple[Selector, ...]:
        return (self.gain, self.over, self.than, self.than_over)


@dataclass(frozen=True, kw_only=True)
class MatchedShift(Claim):
    """At matched clean accuracy, ``reference`` beats ``method`` on the shifted ``family`` (paired by seed).

    Decided on the ``matched`` analysis: replicates when the 95% interval of reference - method lies above 0.
    A seed counts only when its pair of checkpoints is matched: their clean (validation) top-1 differ by at
    most ``tolerance`` points. With fewer than two matched seeds the claim is *uninformative*: the
    comparison the paper makes was not achieved, whatever the shifted sets say.
    """

    method: str  # a method value, e.g. "distill"
    reference: str = "finetune"
    family: str = "corruptions"
    tolerance: float = 1.0  # points of clean top-1 within which two checkpoints count as matched
    paper: Optional[float] = None

    kind: ClassVar[str] = "robustness at matched accuracy"

    def selectors(self) -> tuple[Selector, ...]:
        return ({"method": self.method}, {"method": self.reference})


GATE_MARGIN = 2.0  # points: the main protocol's "clearly beats", used by every study's gate


def gate(text: str, better: Selector, worse: Selector, margin: float = GATE_MARGIN,
         paper: Optional[float] = None, source: Optional[str] = None) -> Superiority:
    """A study's gate: ``better`` beats ``worse`` by more than ``margin`` points, or nothing else is decided
    (an ablation of a transfer that does not clearly beat scratch cannot say what the transfer needs).
    ``paper``/``source``: the paper's value of the same contrast, where it states one (never a threshold)."""
    return Superiority(text=f"Gate: {text} (by more than {margin:g} points)", better=better, worse=worse,
                       margin=margin, role=GATE, paper=paper, source=source)


TABLE1 = "Table 1"
# Table 1 (ViT-L, MAE): fine-tuning and distillation 85.7, scratch 83.0: the contrast most studies' gates restate
PAPER_OVER_SCRATCH = 2.7


def paper_says(claim: Claim) -> str:
    """What the paper states about the quantity a claim tests, with where: ``2.7, Table 1``, ``77.8%, Table 1``,
    ``> 0, Table 2`` where it gives only the direction the claim takes, ``—`` where it states nothing."""
    if claim.source is None:
        return "—"
    value = getattr(claim, "paper", None)
    if value is None:
        said = {Equivalence: "≈ 0", GapShare: "> 0%"}.get(type(claim), "> 0")
    elif isinstance(claim, GapShare):
        said = f"{100 * value:.3g}%"
    else:
        said = f"{value:g}"
    return f"{said}, {claim.source}"
