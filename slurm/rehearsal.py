"""A rehearsal of a study's sweep: every run trained a few steps through the chosen executor, then predicted.

Each distinct run configuration trains ``WARMUP + steps`` steps as one process on
one GPU, at its per-GPU micro-batch, on a synthetic ImageNet-layout folder, with
random teacher weights of the teacher's architecture; its measured step time,
memory and data wait predict the real run's wall time and GPU-hours
(:mod:`attnxfer_core.bench.rehearse`). The report is written as ``rehearsal.json``
(what ``attnxfer plan --rehearsal`` reads).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

from attnxfer_core.bench import rehearse as rh
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.study import PlannedRun, Study
from attnxfer_core.experiments.validation import run_problems
from attnxfer_core.runs.files import atomic_write_json
from attnxfer_core.runs.provenance import environment
from slurm.profiles import ClusterProfile
from slurm.submit import submit_runs


@dataclass
class Rehearsal:
    rows: list[dict]  # one prediction per run of the study
    failures: list[str]  # the last line of each failed rehearsal
    written: list[Path]

    @property
    def ok(self) -> bool:
        return not self.failures and all(r["measured"] for r in self.rows)


def rehearse_study(study: Study, runs: Sequence[PlannedRun], scale: str, steps: int, classes: int, executor: str,
                   profile: ClusterProfile, command: str, out: Optional[str] = None,
                   json_path: Optional[str] = None) -> Rehearsal:
    if not runs:
        raise UserError(f"--where selects no run of {study.name}")
    # a rehearsal is one process on one GPU: a profile's GPU count or node memory must not override that
    profile = replace(profile, gpus_per_run=None, mem_gb=None)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    root = Path(out or Path(runs[0].config.exec.runs_root) / "rehearsals" / f"{study.name}-{scale}-{stamp}")
    if (root / "runs").exists() and any((root / "runs").iterdir()):
        raise UserError(f"--out {root} holds an earlier rehearsal (its runs would resume, not be measured); "
                        "give another --out, or remove it")
    data_root = root / "data"
    trials, measured_by = rh.rehearsals(runs, data_root, root / "runs", steps)
    problems = run_problems(trials)
    if problems:
        raise UserError(f"rehearsal of {study.name}: {len(problems)} invalid run(s): " + "; ".join(problems[:3]))
    per_class = rh.per_class(classes, rh.images_needed(trials, steps))
    print(f"rehearsing {len(runs)} runs of {study.name} ({scale}) as {len(trials)} distinct rehearsals of "
          f"{rh.WARMUP}+{steps} steps; images: {classes} classes x {per_class} in {data_root}")
    rh.make_image_folder(data_root, classes, per_class)
    _, jobs = submit_runs(trials, executor, profile)
    failures = []
    for job in jobs:
        try:
            job.result()
        except Exception as exc:  # a failed rehearsal is reported with its run, not raised
            failures.append(str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__)
    by_id = {t.run_id: t for t in trials}
    rows = [rh.prediction(run, rh.read_timing(by_id[measured_by[run.run_id]]), scale) for run in runs]
    record = {"study": study.name, "scale": scale, "steps": steps, "warmup": rh.WARMUP, "classes": classes,
              "command": command, "rows": rows, "failures": failures, **environment()}
    written = [root / "rehearsal.json", *([Path(json_path)] if json_path else [])]
    for path in written:
        atomic_write_json(path, record)
    return Rehearsal(rows, failures, written)
