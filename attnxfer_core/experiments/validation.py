"""Checking a whole study before anything trains: every name it uses, then every run.

Names: the evaluation sets and analyses it asks for, and the sweep-point keys and
values its claims and figures read, must exist. Runs: each config's fields, and
model and teacher shapes on the meta device (no data, weights or network needed).
A study with problems is refused as a whole, every problem listed on one line.
"""
from __future__ import annotations

from typing import Optional, Sequence

from attnxfer_core.config.validate import validate_config
from attnxfer_core.errors import UserError
from attnxfer_core.evaluation.sets import FAMILIES
from attnxfer_core.experiments.analyses import ANALYSES
from attnxfer_core.experiments.claims import ENSEMBLE, SIMILARITY, GainDifference, MatchedShift, Superiority, describe
from attnxfer_core.experiments.scales import Scale, check_scale
from attnxfer_core.experiments.shapes import ShapeChecker
from attnxfer_core.experiments.study import METHOD, PlannedRun, Study


class StudyInvalid(UserError):
    """A study with invalid runs or names is refused as a whole; the message lists every problem."""


def name_problems(study: Study, scale: Scale) -> list[str]:
    """Names the study uses that do not exist (at ``scale``)."""
    problems = []
    unknown = [e for e in study.evaluations if e not in FAMILIES]
    if unknown:
        problems.append(f"evaluations: unknown set(s) {', '.join(unknown)} (known: {', '.join(FAMILIES)})")
    unknown = [a for a in study.analyses if a not in ANALYSES]
    if unknown:
        problems.append(f"analyses: unknown analysis {', '.join(unknown)} (known: {', '.join(ANALYSES)})")
    points = study.points(scale)
    keys = study.point_keys(scale)
    seen: dict[str, set[str]] = {k: {str(p[k]) for p in points if k in p} for k in keys}
    seen[METHOD] = {str(p.get(METHOD) or study.build(scale, p).transfer.mode.value) for p in points}

    def check(where: str, used: set[str], selectors) -> None:
        for key in sorted(used - keys):
            problems.append(f"{where}: unknown point key {key!r} (the study's keys: {', '.join(sorted(keys))})")
        for selector in selectors:
            for key, value in selector.items():
                if key in keys and str(value) not in seen[key]:
                    problems.append(f"{where}: no point has {describe({key: value})}")

    ensembles = {spec.name for spec in study.ensembles(scale, max(2, study.seeds.get(scale, 1)))}
    for claim in study.claims_at(scale):
        where = f"claim {claim.text!r}"
        named = [s for s in claim.selectors() if ENSEMBLE in s]
        for selector in named:
            if str(selector[ENSEMBLE]) not in ensembles:
                problems.append(f"{where}: no ensemble named {selector[ENSEMBLE]!r} (the study's: "
                                f"{', '.join(sorted(ensembles)) or 'none'})")
        plain = [s for s in claim.selectors() if ENSEMBLE not in s]
        check(where, {k for s in plain for k in s}, plain)
        if claim.metric.startswith(SIMILARITY) and "similarity" not in study.analyses:
            problems.append(f"{where}: metric {claim.metric!r} needs the 'similarity' analysis in analyses")
        if isinstance(claim, (Superiority, GainDifference)) and claim.paper_fraction is not None:
            if claim.paper is None:
                problems.append(f"{where}: paper_fraction needs the paper's value (paper=...)")
            elif not claim.paper > 0:
                problems.append(f"{where}: paper_fraction needs a positive paper value, got {claim.paper}")
            elif not 0 < claim.paper_fraction <= 1:
                problems.append(f"{where}: paper_fraction must be in (0, 1], got {claim.paper_fraction}")
            if claim.margin:
                problems.append(f"{where}: give margin or paper_fraction, not both (the fraction sets the margin)")
        if getattr(claim, "paper", None) is not None and claim.source is None:
            problems.append(f"{where}: paper={claim.paper:g} needs its source (the table or figure that states it)")
        if isinstance(claim, MatchedShift):
            if not claim.tolerance > 0:
                problems.append(f"{where}: tolerance must be > 0 points, got {claim.tolerance}")
            if "matched" not in study.analyses:
                problems.append(f"{where}: needs the 'matched' analysis in analyses")
            if claim.family not in study.evaluations:
                problems.append(f"{where}: needs the {claim.family!r} evaluation in evaluations")
    if study.protocol is not None:
        problems += study.protocol.problems()
    for spec in study.figures:
        check(f"figure {type(spec).__name__} {spec.stem_for(study.name)!r}", spec.keys(), spec.selectors())
        if spec.needs_analysis and spec.needs_analysis not in study.analyses:
            problems.append(f"figure {type(spec).__name__} needs the {spec.needs_analysis!r} analysis, "
                            f"which the study does not list in analyses")
    return problems


def run_problems(runs: Sequence[PlannedRun]) -> list[str]:
    """Config and shape errors of each run (identical shape questions are asked once)."""
    problems = []
    checker = ShapeChecker()
    for run in runs:
        try:
            validate_config(run.config, world=max(1, run.resources.gpus))  # the processes it will run on
            checker.check(run.config)
            method = run.values.get(METHOD)
            if run.role == "run" and method is not None and str(method) != run.config.transfer.mode.value:
                raise UserError(f"point says method={method} but the run's transfer.mode is "
                                f"{run.config.transfer.mode.value}")
        except UserError as exc:
            problems.append(f"{run.run_id} ({run.label}, seed {run.seed}): {exc}")
    return problems


def validate_runs(study: Study, runs: Sequence[PlannedRun], scale: Optional[str] = None) -> None:
    """Refuse ``study`` (nothing starts) if any run, or with ``scale`` any name it uses, is invalid."""
    problems = name_problems(study, check_scale(scale)) if scale is not None else []
    count = len(problems)
    problems += run_problems(runs)
    if problems:
        what = f"{len(problems) - count} invalid run(s)" if not count else f"{len(problems)} problem(s)"
        raise StudyInvalid(f"study {study.name} has {what}, nothing was started: {'; '.join(problems)}")
