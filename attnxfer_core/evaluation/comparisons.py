"""Comparisons across finished runs: ensembles, matched clean accuracy, attention similarity and pictures."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import torch

from attnxfer_core.errors import UserError
from attnxfer_core.evaluation.pictures import attention_figure, query_attention
from attnxfer_core.evaluation.posthoc import evaluate_run, load_logits
from attnxfer_core.evaluation.similarity import effective_maps, summarize
from attnxfer_core.metrics import classification_metrics
from attnxfer_core.runs.files import atomic_write_json
from attnxfer_core.runs.rundir import FINAL, RunDir, eval_tag
from attnxfer_core.training.execute import PreparedRun, load_finished
from attnxfer_core.transfer.model import AttentionTransferModel


def ensemble(run_dirs: Sequence[Path], set_name: str = "clean", tag: str = FINAL) -> dict:
    """Average of the members' softmax probabilities, from saved logits; members' own metrics beside it."""
    if len(run_dirs) < 1:
        raise UserError("an ensemble needs at least one run")
    probs, labels, members = None, None, {}
    for run in run_dirs:
        logits, y = load_logits(run, set_name, tag)
        if labels is not None and not torch.equal(labels, y):
            raise UserError(f"{run} was evaluated on other {set_name} examples than the other members")
        labels = y
        members[str(run)] = classification_metrics(logits, y)
        p = logits.softmax(dim=1)
        probs = p if probs is None else probs + p
    probs = probs / len(run_dirs)
    metrics = classification_metrics(probs.clamp_min(1e-12).log(), labels)
    return {"ensemble": metrics, "members": members, "set": set_name}


def accuracy_curve(run_dir: Path) -> list[tuple[int, float]]:
    """(epoch, clean top-1) of every evaluation during training."""
    return [(r["epoch"], r["top1"]) for r in RunDir(run_dir).metrics() if r.get("kind") == "eval"]


def matched_accuracy(run_dirs: Sequence[Path], families: Sequence[str], target: Optional[float] = None) -> list[dict]:
    """The paper's Table 4 protocol: compare runs at equal clean accuracy.

    For each run, the kept intermediate weights whose clean top-1 is closest to
    ``target`` (default: the lowest final clean top-1 among the runs) are
    evaluated on ``families``; returns one row per run.
    """
    curves = {Path(r): accuracy_curve(r) for r in run_dirs}
    finals = [c[-1][1] for c in curves.values() if c]
    if len(finals) != len(curves):
        raise UserError("every run needs clean evaluations during training")
    target = min(finals) if target is None else target
    rows = []
    for run, curve in curves.items():
        kept = RunDir(run).eval_weights()
        candidates = [(e, a) for e, a in curve if e in kept]
        if not candidates:
            raise UserError(f"{run} kept no intermediate weights (train with save_eval_weights=true)")
        epoch, clean = min(candidates, key=lambda ea: (abs(ea[1] - target), -ea[0]))
        tag = eval_tag(epoch)
        results = evaluate_run(run, families, tag=tag)
        rows.append({"run": str(run), "epoch": epoch, "clean_top1": clean, "target": target, "tag": tag,
                     "sets": {k: v["top1"] for k, v in results.items()}})
    return rows


def _maps_model(prepared: PreparedRun) -> torch.nn.Module:
    task = prepared.task
    module = getattr(task, "module", None)
    if isinstance(module, AttentionTransferModel):
        return module
    model = task.trained_model()
    return getattr(model, "encoder", model)  # an MAE run: its encoder


def _fixed_batch(prepared: PreparedRun, n: int) -> torch.Tensor:
    images, _ = next(iter(prepared.source.eval_batches(n)))
    return images[:n].to(prepared.device)


def attention_similarity(run_dir: Path, references: dict[str, Path], n_images: int = 64) -> dict:
    """JSD per layer to each reference run's maps, entropy and distance; saved as evals/final/similarity.json."""
    prepared = load_finished(run_dir)
    images = _fixed_batch(prepared, n_images)
    model = _maps_model(prepared)
    maps = effective_maps(model, images)
    ref_maps = {name: effective_maps(_maps_model(load_finished(path)), images) for name, path in references.items()}
    student = prepared.task.trained_model()
    student = getattr(student, "encoder", student)
    grid = student.patch_embed.grid_size
    patch = student.patch_embed.patch_size[0]
    result = {"references": {k: str(v) for k, v in references.items()}, "n_images": len(images),
              "layers": summarize(maps, ref_maps, grid, patch, student.num_prefix_tokens)}
    atomic_write_json(RunDir(run_dir).similarity_path(), result)
    return result


def attention_pictures(run_dirs: dict[str, Path], path: Path, layers: Optional[Sequence[int]] = None,
                       image_index: int = 0) -> Path:
    """One image, the class token's attention at chosen layers, one row per run (method)."""
    per_method, image = {}, None
    for label, run in run_dirs.items():
        prepared = load_finished(run)
        images = _fixed_batch(prepared, image_index + 1)
        maps = effective_maps(_maps_model(prepared), images)
        student = prepared.task.trained_model()
        depth = len(student.blocks)
        chosen = list(layers) if layers is not None else sorted({0, depth // 2, depth - 1})
        per_method[label] = query_attention(maps, image_index, 0, student.num_prefix_tokens,
                                            student.patch_embed.grid_size)
        image = images[image_index].cpu()
    return attention_figure(image, per_method, chosen, path, title="class-token attention")

