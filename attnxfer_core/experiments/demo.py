"""The demo's runs: the ``main`` study trained (or reused) end to end at embedded scale, or its preview.

``attnxfer demo`` trains what this module plans and hands the rows to
:mod:`analysis.demo_report`, which summarises and writes them. The preview divides
every run's schedule by :data:`PREVIEW_FACTOR` (distillation and scratch 5 epochs,
copy 2, fine-tuning 1): minutes on two cores, and never the result.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from attnxfer_core.config import Objective, RunConfig
from attnxfer_core.experiments.scales import EMBEDDED
from attnxfer_core.experiments.study import METHOD, Study, with_values
from attnxfer_core.experiments.validation import validate_runs
from attnxfer_core.runs.rundir import run_dir_of
from attnxfer_core.runs.summary import RunSummary
from attnxfer_core.training.execute import execute

STUDY = "main"  # the study the demo runs


@dataclass
class DemoRow:
    method: str
    seed: int
    top1: float
    train_seconds: Optional[float]  # as the run recorded it, whether trained now or found finished
    run_dir: Path
    device: str = ""  # where the run was trained (its summary)


def _teacher_kind(pretraining: RunConfig) -> str:
    return "mae" if pretraining.objective is Objective.MAE else "supervised"


def run_demo(study: Study, seeds: int, overrides: Sequence[str] = (), progress: Optional[bool] = None
             ) -> tuple[list[DemoRow], dict]:
    """Train (or reuse) every run of the study; returns the rows and facts about the teacher."""
    started = time.perf_counter()
    runs = study.expand(EMBEDDED, seeds=seeds, overrides=list(overrides))
    validate_runs(study, runs, EMBEDDED)
    teacher = next(r for r in runs if r.role == "dependency")
    teacher_dir = run_dir_of(teacher.config)
    print(f"teacher: {_teacher_kind(teacher.config)} in {teacher_dir.path}", file=sys.stderr, flush=True)
    finished_before = teacher_dir.finished and not teacher.config.exec.force
    teacher_result = execute(teacher.config, progress=progress)
    # where it came from, read from what happened (execute decides; the demo does not predict it)
    origin = ("reused" if finished_before else "installed" if teacher_result.cached and
              "installed" in teacher_result.summary else "pretrained")
    print(f"teacher: {origin}", file=sys.stderr, flush=True)
    rows: list[DemoRow] = []
    for run in runs:
        if run.role != "run":
            continue
        result = execute(run.config, progress=progress)
        summary = RunSummary.from_dict(result.summary)
        seconds, top1 = summary.train_seconds, summary.final["top1"]
        method = str(run.values[METHOD])
        print(f"  seed {run.seed} {method:<9} top-1 {top1:6.2f}%  "
              f"{'cached' if result.cached else f'{seconds:.0f} s'}", file=sys.stderr, flush=True)
        rows.append(DemoRow(method, run.seed, top1, seconds, result.run_dir, summary.device))
    info = {
        "run_dir": str(teacher_dir.path),
        "origin": origin,
        "method": _teacher_kind(teacher.config),
        "pretrain_seconds": teacher_result.summary.get("wall_seconds_this_attempt") if origin == "pretrained" else None,
        "final": teacher_result.summary.get("final", {}),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    return rows, info


PREVIEW_FACTOR = 4  # the preview divides every run's schedule by this


def preview(study: Study) -> Study:
    """``study`` with every run's schedule divided by :data:`PREVIEW_FACTOR` (warm-up in proportion).

    The preview registers nothing: its claims are decided at nominal alpha on whatever seeds it ran, with no
    looks, so that a newcomer sees the rules work (the registered runs are ``--full``'s)."""
    def build(scale, point):
        cfg = study.build(scale, point)
        epochs = max(1, cfg.optim.epochs // PREVIEW_FACTOR)
        return with_values(cfg, {"optim.epochs": epochs,
                                 "optim.warmup_epochs": cfg.optim.warmup_epochs * epochs / cfg.optim.epochs})

    return dataclasses.replace(study, name=f"{study.name}_preview", build=build, protocol=None,
                               description=f"{study.description} (the demo's preview: schedules / {PREVIEW_FACTOR})")
