"""A study's cross-run analyses, once its runs are done: ``attnxfer analyze STUDY``.

Writes under ``<runs_root>/analyses/<study>/``: ``ensembles.json``,
``matched.json`` (fine-tune vs transfer at matched clean accuracy, per seed),
``similarity.json`` (each run's attention vs the pretrained teacher and the
fine-tuned model of its seed) and ``attention_maps.png``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from ..rundir import atomic_write_json
from ..runner import run_dir_of
from ..study import PlannedRun, Study
from .analyses import attention_pictures, attention_similarity, ensemble, matched_accuracy
from .runner import evaluate_run

log = logging.getLogger("attnxfer")


def run_evaluations(study: Study, run_dir: Path) -> None:
    """The evaluation sets a study asks of every run (right after training)."""
    if study.evaluations:
        evaluate_run(run_dir, list(study.evaluations))


def _by(runs: Sequence[PlannedRun], key: str) -> dict[tuple[object, int], PlannedRun]:
    return {(r.values.get(key), r.seed): r for r in runs if r.role == "run" and key in r.values}


def analyze(study: Study, scale: str, runs: Sequence[PlannedRun], seeds: int | None = None) -> Path:
    """Run the study's analyses over finished runs (unfinished ones are skipped with a note)."""
    root = Path(runs[0].config.exec.runs_root) / "analyses" / study.name
    root.mkdir(parents=True, exist_ok=True)
    done = {r.run_id: run_dir_of(r.config).path for r in runs if run_dir_of(r.config).finished}
    missing = [r.run_id for r in runs if r.run_id not in done]
    if missing:
        log.info("analyze %s: %d runs not finished, left out: %s", study.name, len(missing), ", ".join(missing))
    methods = _by(runs, "method")
    if "ensembles" in study.analyses:
        rows = []
        for spec in study.expand_ensembles(scale, runs, seeds):
            if all(m in done for m in spec.member_ids):
                dirs = [done[m] for m in spec.member_ids]
                for d in dirs:
                    evaluate_run(d, ["clean"])
                rows.append({"name": spec.name, "member_ids": list(spec.member_ids), **ensemble(dirs, "clean")})
        atomic_write_json(root / "ensembles.json", rows)
    if "matched" in study.analyses:
        rows = []
        for (method, seed), run in methods.items():
            reference = methods.get(("finetune", seed))
            if method in ("finetune", "scratch") or reference is None:
                continue
            if run.run_id in done and reference.run_id in done:
                pair = matched_accuracy([done[reference.run_id], done[run.run_id]], ["clean_subset", "corruptions"])
                rows.append({"method": method, "seed": seed, "rows": pair})
        atomic_write_json(root / "matched.json", rows)
    if "similarity" in study.analyses:
        rows = []
        teacher = next((r for r in runs if r.role == "dependency" and r.run_id in done), None)
        for (method, seed), run in methods.items():
            finetuned = methods.get(("finetune", seed))
            refs = {}
            if teacher is not None:
                refs["pretrained"] = done[teacher.run_id]
            if finetuned is not None and finetuned.run_id in done and finetuned.run_id != run.run_id:
                refs["finetuned"] = done[finetuned.run_id]
            if run.run_id in done and refs:
                rows.append({"method": method, "seed": seed, "run_id": run.run_id,
                             **attention_similarity(done[run.run_id], refs)})
        atomic_write_json(root / "similarity.json", rows)
    if "attention_maps" in study.analyses:
        chosen = {f"{m}": done[r.run_id] for (m, seed), r in sorted(methods.items(), key=lambda kv: str(kv[0]))
                  if seed == 0 and r.run_id in done}
        if chosen:
            attention_pictures(chosen, root / "attention_maps.png")
    return root
