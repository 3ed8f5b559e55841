"""``attnxfer eval``: evaluate a finished run after the fact, on any evaluation sets.

Results go to ``<run>/evals/<tag>/``: ``metrics.json`` (set -> metrics) and the
per-example logits of every set (fp16, with labels), so ensembles and later
analyses need no re-run. ``tag`` is ``final`` or ``epoch_NNN`` for the weights of
an intermediate evaluation. Existing results are kept unless ``force``.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional, Sequence

import torch

from ..errors import UserError
from ..evaluate import classification_metrics
from ..rundir import EVALS, RunDir, atomic_write_json, load_tensors, save_tensors
from ..runner import load_finished
from .corruptions import BENCHMARK, mce, relative_mce
from .sets import resolve_sets

log = logging.getLogger("attnxfer")


def eval_dir(run_dir: Path, tag: str) -> Path:
    return Path(run_dir) / EVALS / tag


def read_metrics(run_dir: Path, tag: str = "final") -> dict[str, dict]:
    path = eval_dir(run_dir, tag) / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_logits(run_dir: Path, set_name: str, tag: str = "final") -> tuple[torch.Tensor, torch.Tensor]:
    """(fp32 logits, labels) saved by an evaluation."""
    path = eval_dir(run_dir, tag) / f"{set_name}.pt"
    if not path.exists():
        raise UserError(f"{run_dir} has no saved logits for {set_name} ({tag}); run attnxfer eval first")
    saved = load_tensors(path)
    return saved["logits"].float(), saved["labels"]


@torch.inference_mode()
def _predict(forward, batches, device, class_index) -> tuple[torch.Tensor, torch.Tensor]:
    logits, labels = [], []
    for images, targets in batches:
        out = forward(images.to(device)).float()
        if class_index is not None:
            out = out[:, class_index.to(out.device)]
        logits.append(out.cpu())
        labels.append(targets)
    return torch.cat(logits), torch.cat(labels)


def evaluate_run(
    run_dir: Path, families: Sequence[str], tag: str = "final", force: bool = False, workers: int = 0,
    batch_size: Optional[int] = None,
) -> dict[str, dict]:
    """Evaluate ``run_dir`` (its final or an intermediate model) on the named set families.

    Batches default to the run's ``data.eval_batch_size``: on CPUs a few hundred images
    keep the activations in cache (1,000 was half as fast as 250 for the embedded ViT).
    """
    rd = RunDir(Path(run_dir))
    weights = None
    if tag != "final":
        epochs = rd.eval_weights()
        epoch = int(tag.split("_")[-1]) if tag.startswith("epoch_") and tag.split("_")[-1].isdigit() else None
        if epoch not in epochs:
            raise UserError(f"{run_dir} kept no weights for {tag} (kept: {sorted(epochs)}; set save_eval_weights=true)")
        weights = epochs[epoch]
    prepared = load_finished(rd.path, weights)
    sets = resolve_sets(list(families), prepared.cfg, prepared.source, workers)
    task = prepared.task
    forward = task.forward_fn(task.trained_model())
    out_dir = eval_dir(rd.path, tag)
    results = read_metrics(rd.path, tag)
    rd.lock()
    try:
        for eval_set in sets:
            if eval_set.name in results and not force:
                continue
            batches = eval_set.batches(batch_size or prepared.cfg.data.eval_batch_size)
            logits, labels = _predict(forward, batches, prepared.device, eval_set.class_index)
            metrics = classification_metrics(logits, labels)
            if eval_set.corruption is not None:
                metrics.update(corruption=eval_set.corruption[0], severity=eval_set.corruption[1])
            results[eval_set.name] = metrics
            save_tensors(out_dir / f"{eval_set.name}.pt", {"logits": logits.half(), "labels": labels})
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out_dir / "metrics.json", results)
    finally:
        rd.unlock()
    return results


def corruption_top1(results: dict[str, dict], names: Sequence[str] = BENCHMARK) -> dict[tuple[str, int], float]:
    return {(m["corruption"], m["severity"]): m["top1"] for m in results.values()
            if "corruption" in m and m["corruption"] in names}


def corruption_summary(results: dict[str, dict], baseline: Optional[dict[str, dict]] = None) -> dict[str, float]:
    """Mean corruption accuracy, per-corruption accuracy, and (with a baseline) mCE and relative mCE."""
    top1 = corruption_top1(results)
    if not top1:
        return {}
    summary: dict[str, float] = {"mean_corruption_top1": sum(top1.values()) / len(top1)}
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
