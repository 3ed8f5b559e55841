"""Roughly what a run costs, before it runs (``attnxfer plan`` shows it per run and in total).

Cost estimates are deliberately simple and stated as such: FLOPs of a ViT
(forward = 2 * depth * tokens * (12 d^2 + 2 tokens d); training = 3x forward;
a transfer step adds one teacher forward), divided by an assumed sustained
throughput: 50 GFLOP/s for the embedded scale on two CPU cores (measured order of
magnitude on this project's machines), 100 TFLOP/s per GPU at paper scale.
"""
from __future__ import annotations

import functools
import json

import torch

from attnxfer_core.config import ModelConfig, Objective, RunConfig, to_dict
from attnxfer_core.data import dataset_entry
from attnxfer_core.experiments.scales import EMBEDDED, check_scale
from attnxfer_core.models.factory import create_vit
from attnxfer_core.modes import Kind, spec_of

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
    return total / (CPU_FLOPS if check_scale(scale) == EMBEDDED else GPU_FLOPS)


def format_cost(seconds: float, scale: str) -> str:
    """CPU-minutes at embedded scale, GPU-hours at paper scale."""
    if scale == EMBEDDED:
        return f"{seconds / 60:.1f} CPU-min"
    return f"{seconds / 3600:.0f} GPU-h"
