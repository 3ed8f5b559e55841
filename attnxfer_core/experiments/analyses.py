"""A study's cross-run analyses, by name: ``attnxfer analyze STUDY`` (and ``run``, after training).

A study lists the analyses it needs in ``Study.analyses``; each name is a key of
:data:`ANALYSES` (checked before anything trains). Results are written under
``<runs_root>/analyses/<study>/``: ``ensembles.json``, ``matched.json``
(each transfer method against fine-tuning at matched clean accuracy, per seed),
``similarity.json`` (each run's attention against the pretrained teacher and the
fine-tuned model of its seed) and ``attention_maps.png``. Runs are paired by
their ``method`` point value and seed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from attnxfer_core.evaluation.comparisons import attention_pictures, attention_similarity, ensemble, matched_accuracy
from attnxfer_core.evaluation.posthoc import evaluate_run
from attnxfer_core.experiments.scales import Scale
from attnxfer_core.experiments.study import METHOD, PlannedRun, Study
from attnxfer_core.modes import Mode
from attnxfer_core.runs.files import atomic_write_json
from attnxfer_core.runs.rundir import ANALYSIS_FILES, analyses_dir, run_dir_of

log = logging.getLogger("attnxfer")
FINETUNE, SCRATCH = Mode.FINETUNE.value, Mode.SCRATCH.value  # the reference model, and the one it is not


@dataclass
class AnalysisInput:
    study: Study
    scale: Scale
    runs: Sequence[PlannedRun]
    seeds: Optional[int]
    done: dict[str, Path]  # run id -> directory, finished runs only
    out: Path  # <runs_root>/analyses/<study>

    def by_method(self) -> dict[tuple[str, int], PlannedRun]:
        """(method, seed) -> run, for the study's own runs (the first run of each pair)."""
        table: dict[tuple[str, int], PlannedRun] = {}
        for r in self.runs:
            if r.role == "run":
                table.setdefault((str(r.values[METHOD]), r.seed), r)
        return table


def _ensembles(a: AnalysisInput) -> None:
    rows = []
    for spec in a.study.expand_ensembles(a.scale, a.runs, a.seeds):
        if all(m in a.done for m in spec.member_ids):
            dirs = [a.done[m] for m in spec.member_ids]
            for d in dirs:
                evaluate_run(d, ["clean"])
            rows.append({"name": spec.name, "member_ids": list(spec.member_ids), **ensemble(dirs, "clean")})
    atomic_write_json(a.out / ANALYSIS_FILES["ensembles"], rows)


def _matched(a: AnalysisInput) -> None:
    rows = []
    methods = a.by_method()
    for (method, seed), run in methods.items():
        reference = methods.get((FINETUNE, seed))
        if method in (FINETUNE, SCRATCH) or reference is None:
            continue
        if run.run_id in a.done and reference.run_id in a.done:
            pair = matched_accuracy([a.done[reference.run_id], a.done[run.run_id]], ["clean_subset", "corruptions"])
            rows.append({"method": method, "reference": FINETUNE, "seed": seed, "rows": pair})
    atomic_write_json(a.out / ANALYSIS_FILES["matched"], rows)


def _similarity(a: AnalysisInput) -> None:
    rows = []
    methods = a.by_method()
    teacher = next((r for r in a.runs if r.role == "dependency" and r.run_id in a.done), None)
    for (method, seed), run in methods.items():
        finetuned = methods.get((FINETUNE, seed))
        refs = {}
        if teacher is not None:
            refs["pretrained"] = a.done[teacher.run_id]
        if finetuned is not None and finetuned.run_id in a.done and finetuned.run_id != run.run_id:
            refs["finetuned"] = a.done[finetuned.run_id]
        if run.run_id in a.done and refs:
            rows.append({"method": method, "seed": seed, "run_id": run.run_id,
                         **attention_similarity(a.done[run.run_id], refs)})
    atomic_write_json(a.out / ANALYSIS_FILES["similarity"], rows)


def _attention_maps(a: AnalysisInput) -> None:
    chosen = {m: a.done[r.run_id] for (m, seed), r in sorted(a.by_method().items(), key=lambda kv: str(kv[0]))
              if seed == 0 and r.run_id in a.done}
    if chosen:
        attention_pictures(chosen, a.out / ANALYSIS_FILES["attention_maps"])


ANALYSES: dict[str, Callable[[AnalysisInput], None]] = {
    "ensembles": _ensembles,
    "matched": _matched,
    "similarity": _similarity,
    "attention_maps": _attention_maps,
}


def run_evaluations(study: Study, run_dir: Path) -> None:
    """The evaluation sets a study asks of every run (right after training)."""
    if study.evaluations:
        evaluate_run(run_dir, list(study.evaluations))


def analyze(study: Study, scale: Scale, runs: Sequence[PlannedRun], seeds: Optional[int] = None) -> Path:
    """Run the study's analyses over finished runs (unfinished ones are left out, with a note)."""
    out = analyses_dir(Path(runs[0].config.exec.runs_root), study.name)
    out.mkdir(parents=True, exist_ok=True)
    done = {r.run_id: run_dir_of(r.config).path for r in runs if run_dir_of(r.config).finished}
    missing = [r.run_id for r in runs if r.run_id not in done]
    if missing:
        log.info("analyze %s: %d runs not finished, left out: %s", study.name, len(missing), ", ".join(missing))
    data = AnalysisInput(study, scale, runs, seeds, done, out)
    for name in study.analyses:
        ANALYSES[name](data)
    return out
