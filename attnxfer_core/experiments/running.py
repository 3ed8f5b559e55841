"""Training a study's runs in this process, then its evaluations and analyses (``attnxfer run``, ``analyze``).

Several ``attnxfer run`` processes on one machine share a study's runs: a run
another process is training (or whose teacher it is training) is passed over, not
waited for, and each run's lock decides who trains it. The process that ends with
nothing left unfinished elsewhere evaluates and analyses; otherwise ``attnxfer
analyze`` does, later. Progress lines go to stderr.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from attnxfer_core.errors import RunLockedError
from attnxfer_core.experiments.analyses import analyze as analyze_study
from attnxfer_core.experiments.analyses import run_evaluations
from attnxfer_core.experiments.study import PlannedRun, Study
from attnxfer_core.runs.rundir import run_dir_of
from attnxfer_core.training.execute import execute


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def evaluate_and_analyze(study: Study, scale: str, seeds: Optional[int], runs: Sequence[PlannedRun],
                         evaluate: Sequence[PlannedRun]) -> Optional[Path]:
    """The study's evaluations of every finished run in ``evaluate``, then its analyses over
    ``runs``; returns where the analyses went (None: the study has none)."""
    for run in evaluate:
        if run.role == "run" and run_dir_of(run.config).finished:
            run_evaluations(study, run_dir_of(run.config).path)
    return analyze_study(study, scale, runs, seeds) if study.analyses else None


def train_runs(todo: Sequence[PlannedRun], progress: Optional[bool]) -> list[PlannedRun]:
    """Train each run (dependencies are trained by the runs that need them); returns those passed over."""
    elsewhere = []
    for i, planned in enumerate(todo, 1):
        _say(f"[{i}/{len(todo)}] {planned.run_id} ({planned.label}, seed {planned.seed})")
        try:
            result = execute(planned.config, progress=progress)
        except RunLockedError as exc:
            elsewhere.append(planned)
            itself = exc.path == run_dir_of(planned.config).path
            _say(f"    passed over: another process is training {'it' if itself else f'a run it needs ({exc})'}")
            continue
        final = result.summary.get("final", {})
        _say(f"    {', '.join(f'{k} {v:.3f}' for k, v in final.items() if k in ('top1', 'recon_loss'))}")
    return elsewhere


def run_study(study: Study, runs: Sequence[PlannedRun], chosen: Sequence[PlannedRun], scale: str,
              seeds: Optional[int], progress: Optional[bool], train_only: bool = False) -> Optional[Path]:
    """Train ``chosen``'s unfinished runs, then (unless ``train_only``, or runs are still training elsewhere)
    evaluate them and analyse the study; returns where the analyses went."""
    todo = [r for r in chosen if not run_dir_of(r.config).finished]
    _say(f"study {study.name}: {len(chosen)} runs selected, {len(todo)} to train")
    elsewhere = train_runs(todo, progress)
    if train_only:
        return None
    unfinished = [r for r in elsewhere if not run_dir_of(r.config).finished]
    if unfinished:  # whoever finishes the last of them analyzes (or `attnxfer analyze` later)
        _say(f"{len(unfinished)} runs are still being trained by other processes: run `attnxfer analyze "
             f"{study.name}` once they finish")
        return None
    return evaluate_and_analyze(study, scale, seeds, runs, chosen)
