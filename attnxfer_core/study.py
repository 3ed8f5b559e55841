"""Declarative studies: a base config per scale, sweep points, seeds, resources.

A study is one small Python file under ``studies/`` defining ``STUDY``. It
expands, at a scale, into planned runs with stable ids (the run id is a hash of
the canonical config), dependencies (a student needs its teacher's pretraining
run) and the paper's reference numbers. Expansion is cheap and writes nothing.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Optional, Sequence

from .config import RunConfig, TeacherSource, canonical_text, run_id, set_field, set_fields
from .errors import ConfigError, UserError
from .modes import spec_of

Scale = Literal["embedded", "paper"]
SCALES: tuple[Scale, ...] = ("embedded", "paper")
Point = dict[str, Any]


@dataclass(frozen=True)
class Resources:
    """What one run asks of the cluster at paper scale (SLURM)."""

    gpus_per_node: int = 8  # GPUs per node
    nodes: int = 1
    cpus_per_gpu: int = 10
    mem_gb: int = 480  # per node
    hours: float = 72.0  # wall-clock limit of one job (runs longer than this requeue)

    @property
    def gpus(self) -> int:
        return self.gpus_per_node * self.nodes


EMBEDDED_RESOURCES = Resources(gpus_per_node=0, nodes=1, cpus_per_gpu=2, mem_gb=8, hours=1.0)


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
    """An ensemble evaluated from saved logits: members named by sweep point and seed."""

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
    values: Point  # the study's varied values for this run ({} for shared dependencies)
    seed: int
    deps: tuple[str, ...]  # run ids that must finish first
    resources: Resources
    role: str = "run"  # "run", or "dependency" for shared runs such as teacher pretraining


@dataclass
class Study:
    """One experiment of the paper (or one of yours), at both scales.

    ``points(scale)`` lists the sweep points (dicts, see :func:`product` and
    :func:`zipped`); ``build(scale, point)`` turns one into a RunConfig. Seeds
    are applied by the framework.
    """

    name: str
    paper: str  # which figure / table this regenerates
    description: str
    points: Callable[[Scale], list[Point]]
    build: Callable[[Scale, Point], RunConfig]
    seeds: Mapping[str, int] = field(default_factory=lambda: {"embedded": 3, "paper": 1})
    resources: Optional[Callable[[RunConfig], Resources]] = None  # paper scale; default by architecture
    references: tuple[Reference, ...] = ()
    # Evaluation sets every run gets right after training (see attnxfer_core.evals.sets), and
    # cross-run analyses once the runs are done: "ensembles", "matched", "similarity", "attention_maps".
    evaluations: tuple[str, ...] = ("clean",)
    analyses: tuple[str, ...] = ()
    ensembles: Callable[[Scale, int], list[EnsembleSpec]] = field(default=lambda scale, seeds: [])

    def expand(self, scale: Scale, seeds: Optional[int] = None, overrides: Sequence[str] = ()) -> list[PlannedRun]:
        """Every run of the study at ``scale`` (dependencies first, shared runs once).

        ``overrides`` (``key=value``) apply to every run, e.g. ``exec.runs_root=...`` or ``data.root=...``.
        """
        if scale not in SCALES:
            raise ConfigError("scale", f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
        n_seeds = self.seeds.get(scale, 1) if seeds is None else seeds
        if n_seeds < 1:
            raise ConfigError("seeds", f"must be >= 1, got {n_seeds}")
        planned: dict[str, PlannedRun] = {}
        parsed = [_split_override(o) for o in overrides]
        dep_memo: dict[str, tuple[str, ...]] = {}
        for point in self.points(scale):
            base = self.build(scale, point)
            for key, value in parsed:
                base = set_field(base, key, value)
            deps = self._dependencies(scale, base, planned, dep_memo)  # seeds share their dependencies
            for seed in range(n_seeds):
                cfg = dataclasses.replace(base, seed=base.seed + seed)
                rid = run_id(cfg)
                if rid in planned:
                    continue  # two points that describe the same run are one run
                planned[rid] = PlannedRun(rid, cfg, dict(point), seed, deps, self._resources(scale, cfg))
        ordered = [r for r in planned.values() if r.role == "dependency"] + [r for r in planned.values() if r.role == "run"]
        return ordered

    def _dependencies(self, scale: Scale, cfg: RunConfig, planned: dict[str, PlannedRun],
                      memo: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        key = "|".join([canonical_text(cfg.teacher), canonical_text(cfg.init), cfg.transfer.mode.value, canonical_text(cfg.exec)])
        if key not in memo:
            ids = []
            for dep in dependency_runs(cfg):
                dep_id = run_id(dep)
                ids.append(dep_id)
                if dep_id not in planned:
                    planned[dep_id] = PlannedRun(dep_id, dep, {}, dep.seed, (), self._resources(scale, dep), "dependency")
            memo[key] = tuple(ids)
        return memo[key]

    def expand_ensembles(self, scale: Scale, runs: Sequence[PlannedRun], seeds: Optional[int] = None) -> list[PlannedEnsemble]:
        """The study's ensembles with the run ids of their members (which must be in ``runs``)."""
        n_seeds = self.seeds.get(scale, 1) if seeds is None else seeds
        index = {(tuple(sorted(r.values.items())), r.seed): r.run_id for r in runs if r.role == "run"}
        result = []
        seen: set[tuple[str, frozenset]] = set()
        for spec in self.ensembles(scale, n_seeds):
            ids = []
            for point, seed in spec.members:
                if (point, seed) not in index:
                    raise ConfigError(f"study {self.name}", f"ensemble {spec.name} names a run the study lacks: {dict(point)} seed {seed}")
                ids.append(index[(point, seed)])
            key = (spec.name, frozenset(ids))
            if key not in seen:  # e.g. the pairs (0, 1) and (1, 0) of two seeds
                seen.add(key)
                result.append(PlannedEnsemble(spec.name, tuple(ids)))
        return result

    def _resources(self, scale: Scale, cfg: RunConfig) -> Resources:
        if scale == "embedded":
            return EMBEDDED_RESOURCES
        if self.resources is not None:
            return self.resources(cfg)
        from .scales import paper_resources

        return paper_resources(cfg)


def _split_override(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise ConfigError(item, "override must look like key=value")
    key, value = item.split("=", 1)
    return key.strip(), value


def dependency_runs(cfg: RunConfig) -> list[RunConfig]:
    """Runs that must finish before ``cfg`` can start: the suite's own pretraining of its teacher / init."""
    from .pretrain import pretrain_run

    spec = spec_of(cfg.transfer.mode)
    deps = []
    if spec.needs_teacher and cfg.teacher.source is TeacherSource.PRETRAIN:
        deps.append(pretrain_run(cfg.teacher, cfg.exec))
    if not spec.init_from_teacher and cfg.init.source is TeacherSource.PRETRAIN:
        deps.append(pretrain_run(cfg.init, cfg.exec))
    return deps


def select_runs(runs: Sequence[PlannedRun], where: Sequence[str]) -> list[PlannedRun]:
    """Runs whose varied values match every ``key=value`` filter, plus the dependencies they need."""
    filters = [_split_override(w) for w in where]
    chosen = [r for r in runs if r.role == "run" and all(str(r.values.get(k)) == v for k, v in filters)]
    needed = {d for r in chosen for d in r.deps}
    return [r for r in runs if r.run_id in needed] + chosen


class StudyInvalid(UserError):
    """A study with invalid runs is refused as a whole; the message lists every problem."""


def validate_runs(study: Study, runs: Sequence[PlannedRun]) -> None:
    """Check every run before anything starts (config fields and model/teacher shapes).

    Shapes are checked on the meta device from architecture alone, so this needs
    neither data nor weights nor network; identical shape questions are asked once.
    """
    from .shapes import ShapeChecker
    from .validate import validate_config

    problems = []
    checker = ShapeChecker()
    for run in runs:
        try:
            validate_config(run.config)
            checker.check(run.config)
        except UserError as exc:
            label = ", ".join(f"{k}={v}" for k, v in run.values.items()) or run.role
            problems.append(f"{run.run_id} ({label}, seed {run.seed}): {exc}")
    if problems:
        listing = "; ".join(problems)
        raise StudyInvalid(f"study {study.name} has {len(problems)} invalid run(s), nothing was started: {listing}")
