"""The study contract: everything particular to one experiment, declared in one file.

A study is one small Python file under ``studies/`` defining ``STUDY``: its sweep
points and how each becomes a run (at each scale), its seeds, the evaluation sets
and cross-run analyses it needs, the figures it draws and the paper's claims it
tests. It expands, at a scale, into planned runs with stable ids (the run id is
a hash of the canonical config), dependencies (a student needs its teacher's
pretraining run) and the paper's reference numbers. Expansion is cheap and
writes nothing; :mod:`attnxfer_core.experiments.validation` checks every name a
study uses, and every run, before anything trains.

Every planned run carries its sweep-point values, and always a ``method`` value
(the transfer mode), so tools that compare methods read one key in every study.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from attnxfer_core.config import RunConfig, canonical_text, parse_override, run_id, set_fields
from attnxfer_core.config.pretraining import dependency_runs
from attnxfer_core.errors import ConfigError
from attnxfer_core.experiments.claims import Claim
from attnxfer_core.experiments.figures import FigureSpec
from attnxfer_core.experiments.protocol import Protocol
from attnxfer_core.experiments.resources import Resources
from attnxfer_core.experiments.scales import EMBEDDED, PAPER, Scale, check_scale, default_resources

Point = dict[str, Any]
METHOD = "method"  # the sweep-point key of the transfer mode, in every study


@dataclass(frozen=True)
class Reference:
    """A number the paper reports for this study; ``value=None`` means the paper's value is unknown to us."""

    label: str
    value: Optional[float]
    note: str = ""


def product(**axes: Sequence[Any]) -> list[Point]:
    """Every combination of the axes (a grid)."""
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(axes[n] for n in names))]


def zipped(**axes: Sequence[Any]) -> list[Point]:
    """Axes walked together (all the same length)."""
    lengths = {len(v) for v in axes.values()}
    if len(lengths) > 1:
        raise ValueError(f"zipped axes differ in length: { {k: len(v) for k, v in axes.items()} }")
    names = list(axes)
    return [dict(zip(names, combo)) for combo in zip(*(axes[n] for n in names))]


def with_values(base: RunConfig, values: Mapping[str, Any]) -> RunConfig:
    """``base`` with dotted fields set (values parsed by field type, like CLI overrides); ``base`` is unchanged."""
    return set_fields(base, dict(values))


@dataclass(frozen=True)
class EnsembleSpec:
    """An ensemble evaluated from saved logits: members named by sweep-point values and seed."""

    name: str
    members: tuple[tuple[tuple[tuple[str, Any], ...], int], ...]  # ((point items), seed offset)

    @staticmethod
    def of(name: str, *members: tuple[Point, int]) -> "EnsembleSpec":
        return EnsembleSpec(name, tuple((tuple(sorted(p.items())), seed) for p, seed in members))


@dataclass
class PlannedEnsemble:
    name: str
    member_ids: tuple[str, ...]  # runs whose saved logits are averaged (they must finish first)


@dataclass
class PlannedRun:
    run_id: str
    config: RunConfig
    values: Point  # the study's varied values for this run, with its method ({} for shared dependencies)
    seed: int
    deps: tuple[str, ...]  # run ids that must finish first
    resources: Resources
    role: str = "run"  # "run", or "dependency" for shared runs such as teacher pretraining

    @property
    def label(self) -> str:
        """``method=copy, k=2`` (or the role of a shared dependency)."""
        return ", ".join(f"{k}={v}" for k, v in self.values.items()) or self.role


ClaimsDecl = Union[Sequence[Claim], Callable[[Scale], Sequence[Claim]]]


@dataclass
class Study:
    """One experiment of the paper (or one of yours), at both scales.

    ``points(scale)`` lists the sweep points (dicts, see :func:`product` and
    :func:`zipped`); ``build(scale, point)`` turns one into a RunConfig. Seeds
    are applied by the framework. ``claims`` may depend on the scale (a callable).
    """

    name: str
    paper: str  # which figure / table this regenerates
    description: str
    points: Callable[[Scale], list[Point]]
    build: Callable[[Scale, Point], RunConfig]
    # Seeds per scale; by default 3 at embedded scale, or a protocol's first look, and 1 at paper scale.
    seeds: Optional[Mapping[str, int]] = None
    resources: Optional[Callable[[RunConfig], Resources]] = None  # paper scale; default by architecture
    references: tuple[Reference, ...] = ()
    # Evaluation sets every run gets right after training (attnxfer_core.evaluation.sets.FAMILIES), and
    # cross-run analyses once the runs are done (attnxfer_core.experiments.analyses.ANALYSES).
    evaluations: tuple[str, ...] = ("clean",)
    analyses: tuple[str, ...] = ()
    ensembles: Callable[[Scale, int], list[EnsembleSpec]] = field(default=lambda scale, seeds: [])
    figures: tuple[FigureSpec, ...] = ()
    claims: ClaimsDecl = ()
    # How the claims are decided (alpha, multiplicity, looks, what was public): None for a study registered
    # before protocols existed, decided as it was registered (attnxfer_core.experiments.protocol).
    protocol: Optional[Protocol] = None

    def __post_init__(self) -> None:
        if self.seeds is None:
            looks = self.protocol.looks if self.protocol is not None else ()
            self.seeds = {EMBEDDED: looks[0] if looks else 3, PAPER: 1}

    def looks(self, scale: Scale) -> tuple[int, ...]:
        """The seed counts at which verdicts may be made: the protocol's looks, else the study's one seed count."""
        registered = self.protocol.looks if self.protocol is not None else ()
        return registered or (self.seeds.get(scale, 1),)

    def claims_at(self, scale: Scale) -> tuple[Claim, ...]:
        return tuple(self.claims(scale) if callable(self.claims) else self.claims)

    def reference(self, label: str) -> Optional[float]:
        """The paper's number labelled ``label`` (None when unknown or not listed)."""
        return next((r.value for r in self.references if r.label == label), None)

    def point_keys(self, scale: Scale) -> set[str]:
        return {k for p in self.points(scale) for k in p} | {METHOD}

    def expand(self, scale: str, seeds: Optional[int] = None, overrides: Sequence[str] = ()) -> list[PlannedRun]:
        """Every run of the study at ``scale`` (dependencies first, shared runs once).

        ``overrides`` (``key=value``) apply to every run, e.g. ``exec.runs_root=...`` or ``data.root=...``.
        """
        scale = check_scale(scale)
        n_seeds = self.seeds.get(scale, 1) if seeds is None else seeds
        if n_seeds < 1:
            raise ConfigError("seeds", f"must be >= 1, got {n_seeds}")
        planned: dict[str, PlannedRun] = {}
        changes = dict(parse_override(o) for o in overrides)
        dep_memo: dict[str, tuple[str, ...]] = {}
        for point in self.points(scale):
            base = self.build(scale, point)
            if changes:
                base = set_fields(base, changes)
            values = {**point, METHOD: point.get(METHOD, base.transfer.mode.value)}
            deps = self._dependencies(scale, base, planned, dep_memo)  # seeds share their dependencies
            for seed in range(n_seeds):
                cfg = dataclasses.replace(base, seed=base.seed + seed)
                rid = run_id(cfg)
                if rid in planned:
                    continue  # two points that describe the same run are one run
                planned[rid] = PlannedRun(rid, cfg, dict(values), seed, deps, self._resources(scale, cfg))
        return ([r for r in planned.values() if r.role == "dependency"]
                + [r for r in planned.values() if r.role == "run"])

    def _dependencies(self, scale: Scale, cfg: RunConfig, planned: dict[str, PlannedRun],
                      memo: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        key = "|".join([canonical_text(cfg.teacher), canonical_text(cfg.init), cfg.transfer.mode.value,
                        canonical_text(cfg.exec)])
        if key not in memo:
            ids = []
            for dep in dependency_runs(cfg):
                dep_id = run_id(dep)
                ids.append(dep_id)
                if dep_id not in planned:
                    planned[dep_id] = PlannedRun(dep_id, dep, {}, dep.seed, (), self._resources(scale, dep),
                                                 "dependency")
            memo[key] = tuple(ids)
        return memo[key]

    def expand_ensembles(self, scale: str, runs: Sequence[PlannedRun],
                         seeds: Optional[int] = None) -> list[PlannedEnsemble]:
        """The study's ensembles with the run ids of their members (which must be in ``runs``)."""
        scale = check_scale(scale)
        n_seeds = self.seeds.get(scale, 1) if seeds is None else seeds
        students = [r for r in runs if r.role == "run"]
        result = []
        seen: set[tuple[str, frozenset]] = set()
        for spec in self.ensembles(scale, n_seeds):
            ids = []
            for items, seed in spec.members:
                found = [r for r in students
                         if r.seed == seed and all(str(r.values.get(k)) == str(v) for k, v in items)]
                if len(found) != 1:
                    raise ConfigError(f"study {self.name}", f"ensemble {spec.name} names {len(found)} runs, not one: "
                                      f"{dict(items)} seed {seed}")
                ids.append(found[0].run_id)
            key = (spec.name, frozenset(ids))
            if key not in seen:  # e.g. the pairs (0, 1) and (1, 0) of two seeds
                seen.add(key)
                result.append(PlannedEnsemble(spec.name, tuple(ids)))
        return result

    def _resources(self, scale: Scale, cfg: RunConfig) -> Resources:
        if scale == PAPER and self.resources is not None:
            return self.resources(cfg)
        return default_resources(scale, cfg)


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def same_value(value: Any, wanted: Any) -> bool:
    """The one rule for selecting runs by a varied value (``--where``, claims, figures): numbers compare as
    numbers, so 4, 4.0 and "4" are one value (a whole number comes back as a float from a table column with
    gaps, and as text from the command line); anything else compares as text."""
    a, b = _number(value), _number(wanted)
    if a is not None and b is not None:
        return a == b
    return str(value) == str(wanted)


def select_runs(runs: Sequence[PlannedRun], where: Sequence[str]) -> list[PlannedRun]:
    """Runs whose varied values match every ``key=value`` filter, plus the dependencies they need.

    A key given twice matches either value (``--where method=copy --where method=distill``); a key
    no run has is an error, not an empty selection.
    """
    wanted: dict[str, set[str]] = {}
    for item in where:
        key, value = parse_override(item)
        wanted.setdefault(key, set()).add(value)
    keys = {k for r in runs if r.role == "run" for k in r.values}
    unknown = sorted(set(wanted) - keys)
    if unknown:
        raise ConfigError("--where", f"unknown point key {unknown[0]!r}; the study's keys: {', '.join(sorted(keys))}")
    chosen = [r for r in runs if r.role == "run"
              and all(any(same_value(r.values.get(k), w) for w in v) for k, v in wanted.items())]
    needed = {d for r in chosen for d in r.deps}
    return [r for r in runs if r.run_id in needed] + chosen
