"""What a study will run and roughly what it costs, as a table: ``attnxfer plan``.

Cost estimates are deliberately simple and stated as such: FLOPs of a ViT
(forward = 2 * depth * tokens * (12 d^2 + 2 tokens d); training = 3x forward;
a transfer step adds one teacher forward), divided by an assumed sustained
throughput: 50 GFLOP/s for the embedded scale on two CPU cores (measured order of
magnitude on this project's machines), 100 TFLOP/s per GPU at paper scale.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Sequence

import torch

from .config import ModelConfig, Objective, RunConfig, to_dict
from .data import dataset_entry
from .models import create_vit
from .modes import Kind, spec_of
from .runner import run_dir_of
from .study import PlannedEnsemble, PlannedRun

CPU_FLOPS = 50e9
GPU_FLOPS = 100e12
# Images per epoch when the dataset's size cannot be known without reading it (ImageNet-1k train/val).
IMAGEFOLDER_TRAIN, IMAGEFOLDER_EVAL = 1_281_167, 50_000
KNOWN_SIZES = {"fashion_mnist": (60000, 10000), "mnist5k": (4000, 1000), "synthetic": (640, 320)}


@functools.lru_cache(maxsize=256)
def _forward_flops(model_json: str, img: int, chans: int) -> float:
    cfg = ModelConfig(**json.loads(model_json))
    with torch.device("meta"):
        model = create_vit(cfg, num_classes=10, img_size=img, in_chans=chans, field="model", skip_init=True)
    d = model.embed_dim
    n = model.patch_embed.num_patches + model.num_prefix_tokens
    depth = len(model.blocks)
    mlp = model.blocks[0].mlp.fc1.out_features / d
    return 2.0 * depth * n * ((4 + 2 * mlp) * d * d + 2 * n * d)


def estimate_seconds(cfg: RunConfig, scale: str) -> float:
    """Rough compute time of one run: CPU seconds (embedded) or GPU seconds summed over GPUs (paper)."""
    entry = dataset_entry(cfg.data)
    img = entry.image_size or cfg.student.img_size or 224
    student = _forward_flops(json.dumps(to_dict(cfg.student), sort_keys=True), img, entry.in_chans)
    spec = spec_of(cfg.transfer.mode)
    teacher = 0.0
    if spec.transfers:
        teacher = _forward_flops(json.dumps(to_dict(cfg.teacher.model), sort_keys=True), img, entry.in_chans)
    train_n, eval_n = KNOWN_SIZES.get(cfg.data.dataset, (IMAGEFOLDER_TRAIN, IMAGEFOLDER_EVAL))
    train_n = min(train_n, cfg.data.train_subset or train_n)
    eval_n = min(eval_n, cfg.data.eval_subset or eval_n)
    if cfg.objective is Objective.MAE:
        student *= 1 - cfg.mae.mask_ratio + 0.1  # the encoder sees the visible patches; small decoder
    per_image = 3 * student + teacher
    n_evals = -(-cfg.optim.epochs // cfg.eval_every)
    eval_flops = n_evals * eval_n * (student + (teacher if spec.kind is Kind.COPY else 0.0))
    total = cfg.optim.epochs * train_n * per_image + eval_flops
    return total / (CPU_FLOPS if scale == "embedded" else GPU_FLOPS)


@dataclass
class PlanRow:
    run: PlannedRun
    done: bool
    seconds: float


def plan_rows(runs: Sequence[PlannedRun], scale: str) -> list[PlanRow]:
    return [PlanRow(r, run_dir_of(r.config).finished, estimate_seconds(r.config, scale)) for r in runs]


def _fmt_cost(seconds: float, scale: str) -> str:
    if scale == "embedded":
        return f"{seconds / 60:.1f} CPU-min"
    return f"{seconds / 3600:.0f} GPU-h"


def format_plan(study_name: str, scale: str, rows: list[PlanRow], ensembles: list[PlannedEnsemble]) -> str:
    lines = [f"study {study_name} at {scale} scale: {len(rows)} runs"]
    head = f"{'run id':<24} {'varied values':<44} {'seed':>4} {'deps':<24} {'resources':<18} {'est. cost':>12} {'state':<7}"
    lines += [head, "-" * len(head)]
    for row in rows:
        r = row.run
        values = ", ".join(f"{k}={v}" for k, v in r.values.items()) or f"({r.role}: {r.config.objective.value} pretraining)"
        res = r.resources
        resources = "2 CPU cores" if scale == "embedded" else f"{res.nodes}x{res.gpus_per_node} GPU, {res.hours:g} h"
        deps = ",".join(d[:12] for d in r.deps) or "-"
        lines.append(
            f"{r.run_id:<24} {values[:44]:<44} {r.seed:>4} {deps[:24]:<24} {resources:<18} "
            f"{_fmt_cost(row.seconds, scale):>12} {'done' if row.done else 'todo':<7}"
        )
    if ensembles:
        lines.append("")
        lines.append(f"ensembles (from saved logits, after their members): {len(ensembles)}")
        for e in ensembles:
            lines.append(f"  {e.name:<22} members {', '.join(e.member_ids)}")
    todo = [row for row in rows if not row.done]
    total = sum(row.seconds for row in todo)
    lines.append("")
    lines.append(f"to run: {len(todo)} of {len(rows)} runs, estimated {_fmt_cost(total, scale)} "
                 f"({'rough: see attnxfer_core/planning.py' if scale == 'embedded' else 'at 100 TFLOP/s per GPU'})")
    return "\n".join(lines)
