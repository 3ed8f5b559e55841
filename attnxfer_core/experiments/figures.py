"""The figures and tables a study asks for, declared beside the study as data.

Each spec names the kind of picture and the sweep-point keys it reads; the
analysis layer renders it from collected tables (``analysis.figures``). Keeping
specs as data lets every key be checked before anything trains, and keeps the
figure code free of per-study special cases.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Union

from attnxfer_core.experiments.claims import Selector

Keys = Union[str, tuple[str, ...]]  # one sweep-point key, or several joined into one label


def _keys(value: Optional[Keys]) -> set[str]:
    if value is None:
        return set()
    return {value} if isinstance(value, str) else set(value)


def _each(filters: Mapping[str, Sequence[object]]) -> tuple[Selector, ...]:
    """One selector per value a filter lists, so every value is checked against the study's points."""
    return tuple({key: value} for key, values in filters.items() for value in values)


@dataclass(frozen=True, kw_only=True)
class FigureSpec:
    title: str = ""
    stem: str = ""  # file stem; "" means the study's name

    needs_analysis: Optional[str] = None  # the study analysis this figure reads, if any

    def stem_for(self, study: str) -> str:
        return self.stem or study

    def keys(self) -> set[str]:
        """Sweep-point keys the figure reads (checked against the study's points)."""
        return set()

    def selectors(self) -> tuple[Selector, ...]:
        """Groups of runs the figure names (checked against the study's points)."""
        return ()


@dataclass(frozen=True, kw_only=True)
class MethodBars(FigureSpec):
    """Fig 1 / Table 1 layout: top-1 per method with 95% CI, the paper's numbers, the share of the gap recovered."""

    key: str = "method"
    low: str = "scratch"  # the gap's lower end
    high: str = "finetune"  # the gap's upper end

    def keys(self) -> set[str]:
        return {self.key}

    def selectors(self) -> tuple[Selector, ...]:
        return ({self.key: self.low}, {self.key: self.high})


@dataclass(frozen=True, kw_only=True)
class LearningCurves(FigureSpec):
    """Per-epoch curves on the held-out split, one line per ``key`` value: top-1, and the
    attention-distillation loss of each transferred layer (did distillation converge?)."""

    key: str = "method"
    where: Mapping[str, Sequence[object]] = field(default_factory=dict)  # keep runs whose key is one of these

    def stem_for(self, study: str) -> str:
        return self.stem or f"{study}_curves"

    def keys(self) -> set[str]:
        return {self.key} | set(self.where)

    def selectors(self) -> tuple[Selector, ...]:
        return _each(self.where)


@dataclass(frozen=True, kw_only=True)
class SweepLines(FigureSpec):
    """top-1 (95% CI) against a swept value, one line per ``hue``, with optional reference lines."""

    x: str
    hue: Keys
    xlabel: str = ""
    logx: bool = False
    where: Mapping[str, Sequence[object]] = field(default_factory=dict)  # keep runs whose key is one of these
    exclude: Mapping[str, Sequence[object]] = field(default_factory=dict)  # drop runs whose key is one of these
    references: Mapping[str, Selector] = field(default_factory=dict)  # label -> runs averaged into a dashed line

    def keys(self) -> set[str]:
        return {self.x} | _keys(self.hue) | set(self.where) | set(self.exclude)

    def selectors(self) -> tuple[Selector, ...]:
        return tuple(self.references.values()) + _each(self.where) + _each(self.exclude)


@dataclass(frozen=True, kw_only=True)
class GroupedBars(FigureSpec):
    """top-1 bars grouped by ``x`` and coloured by ``hue`` (95% CI); optionally the paper's value per ``x``."""

    x: str
    hue: Optional[str] = None
    where: Mapping[str, Sequence[object]] = field(default_factory=dict)
    paper_column: bool = False  # add the study reference whose label equals the x value

    def keys(self) -> set[str]:
        return {self.x} | _keys(self.hue) | set(self.where)

    def selectors(self) -> tuple[Selector, ...]:
        return _each(self.where)


@dataclass(frozen=True, kw_only=True)
class EnsembleBars(FigureSpec):
    """Ensemble top-1 over replicates beside its members' mean (from the ``ensembles`` analysis)."""

    needs_analysis: Optional[str] = "ensembles"


@dataclass(frozen=True, kw_only=True)
class CorruptionHeatmap(FigureSpec):
    """top-1 per corruption (mean over severities and seeds), one row per ``key`` value."""

    key: str = "method"

    def stem_for(self, study: str) -> str:
        return self.stem or f"{study}_corruptions"

    def keys(self) -> set[str]:
        return {self.key}


@dataclass(frozen=True, kw_only=True)
class MatchedTable(FigureSpec):
    """Table 4 protocol: each method against fine-tuning at matched clean accuracy (``matched`` analysis)."""

    needs_analysis: Optional[str] = "matched"

    def stem_for(self, study: str) -> str:
        return self.stem or f"{study}_matched"


@dataclass(frozen=True, kw_only=True)
class SimilarityLines(FigureSpec):
    """Per-layer JSD to the reference models, one line per method (``similarity`` analysis)."""

    needs_analysis: Optional[str] = "similarity"


@dataclass(frozen=True, kw_only=True)
class AttentionMapsPicture(FigureSpec):
    """The class-token attention picture of the ``attention_maps`` analysis."""

    needs_analysis: Optional[str] = "attention_maps"

    def stem_for(self, study: str) -> str:
        return self.stem or f"{study}_attention_maps"
