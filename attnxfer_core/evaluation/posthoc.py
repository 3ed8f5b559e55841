"""``attnxfer eval``: evaluate a finished run after the fact, on any evaluation sets.

Results go to ``<run>/evals/<tag>/``: ``metrics.json`` (set -> metrics) and the
per-example logits of every set (fp16, with labels), so ensembles and later
analyses need no re-run. ``tag`` is ``final`` or ``epoch_NNN`` for the weights of
an intermediate evaluation. Existing results are kept unless ``force``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import torch

from attnxfer_core.errors import UserError
from attnxfer_core.evaluation.corruptions import BENCHMARK, mce, mce_alexnet, mean_corruption_error, relative_mce
from attnxfer_core.evaluation.sets import resolve_sets, set_names
from attnxfer_core.metrics import classification_metrics, predict
from attnxfer_core.runs.files import atomic_write_json, read_json_record
from attnxfer_core.runs.rundir import FINAL, RunDir, epoch_of
from attnxfer_core.runs.tensors import load_tensors, save_tensors
from attnxfer_core.training.execute import load_finished

log = logging.getLogger("attnxfer")


def read_metrics(run_dir: Path, tag: str = FINAL) -> dict[str, dict]:
    return read_json_record(RunDir(run_dir).eval_metrics_path(tag)) or {}


def load_logits(run_dir: Path, set_name: str, tag: str = FINAL) -> tuple[torch.Tensor, torch.Tensor]:
    """(fp32 logits, labels) saved by an evaluation."""
    path = RunDir(run_dir).logits_path(set_name, tag)
    if not path.exists():
        raise UserError(f"{run_dir} has no saved logits for {set_name} ({tag}); run attnxfer eval first")
    saved = load_tensors(path)
    return saved["logits"].float(), saved["labels"]


def evaluate_run(
    run_dir: Path, families: Sequence[str], tag: str = FINAL, force: bool = False, workers: int = 0,
    batch_size: Optional[int] = None,
) -> dict[str, dict]:
    """Evaluate ``run_dir`` (its final or an intermediate model) on the named set families.

    Batches default to the run's ``data.eval_batch_size``: on CPUs a few hundred images
    keep the activations in cache (1,000 was half as fast as 250 for the embedded ViT).
    """
    rd = RunDir(Path(run_dir))
    cached = read_metrics(rd.path, tag)
    if not force and all(name in cached for name in set_names(list(families))):
        return cached  # nothing to compute: the model is not even loaded (a carried run has none)
    weights = None
    if tag != FINAL:
        epochs = rd.eval_weights()
        epoch = epoch_of(tag)
        if epoch not in epochs:
            raise UserError(f"{run_dir} kept no weights for {tag} (kept: {sorted(epochs)}; set save_eval_weights=true)")
        weights = epochs[epoch]
    prepared = load_finished(rd.path, weights)
    sets = resolve_sets(list(families), prepared.cfg, prepared.source, workers)
    task = prepared.task
    forward = task.forward_fn(task.trained_model())
    results = read_metrics(rd.path, tag)
    rd.lock()
    try:
        for eval_set in sets:
            if eval_set.name in results and not force:
                continue
            batches = eval_set.batches(batch_size or prepared.cfg.data.eval_batch_size)
            logits, labels = predict(forward, batches, prepared.device, class_index=eval_set.class_index)
            metrics = classification_metrics(logits, labels)
            if eval_set.corruption is not None:
                metrics.update(corruption=eval_set.corruption[0], severity=eval_set.corruption[1])
            results[eval_set.name] = metrics
            save_tensors(rd.logits_path(eval_set.name, tag), {"logits": logits.half(), "labels": labels})
        atomic_write_json(rd.eval_metrics_path(tag), results)
    finally:
        rd.unlock()
    return results


def corruption_top1(results: dict[str, dict], names: Sequence[str] = BENCHMARK) -> dict[tuple[str, int], float]:
    return {(m["corruption"], m["severity"]): m["top1"] for m in results.values()
            if "corruption" in m and m["corruption"] in names}


def corruption_summary(results: dict[str, dict], baseline: Optional[dict[str, dict]] = None,
                       imagenet_c: bool = False) -> dict[str, float]:
    """Mean corruption accuracy and error, per-corruption accuracy, and mCE.

    ``mce`` is normalised by ``baseline``'s errors when one is given, else, on ImageNet-C
    (``imagenet_c``: paper scale), by AlexNet's as published; ``mce_alexnet`` is the published one
    whenever the sets are ImageNet-C's. Relative mCE needs a baseline with its clean subset.
    """
    top1 = corruption_top1(results)
    if not top1:
        return {}
    summary: dict[str, float] = {"mean_corruption_top1": sum(top1.values()) / len(top1),
                                 "mean_corruption_error": mean_corruption_error(top1)}
    if imagenet_c:
        summary["mce_alexnet"] = mce_alexnet(top1)
        if baseline is None:
            summary["mce"] = summary["mce_alexnet"]
    for name in sorted({n for n, _ in top1}):
        accs = [a for (n, _), a in top1.items() if n == name]
        summary[f"top1/{name}"] = sum(accs) / len(accs)
    if baseline is not None:
        base = corruption_top1(baseline)
        names = [n for n in BENCHMARK if any(k[0] == n for k in top1) and any(k[0] == n for k in base)]
        summary["mce"] = mce(top1, base, names)
        if "clean_subset" in results and "clean_subset" in baseline:
            summary["relative_mce"] = relative_mce(top1, results["clean_subset"]["top1"], base,
                                                   baseline["clean_subset"]["top1"], names)
    return summary
