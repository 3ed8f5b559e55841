"""Optimizer, learning-rate schedule and the row-wise weight decay copy modes need."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from timm.optim import param_groups_layer_decay, param_groups_weight_decay
from torch import Tensor, nn

from attnxfer_core.config import LayerDecayGroups, OptimConfig


@dataclass
class RowDecay:
    """Decoupled weight decay on some rows of a parameter only.

    AdamW decays whole tensors, but copy modes leave some rows of the fused qkv
    weight unused (the student's own q and k). Those rows get a zero gradient,
    so Adam never moves them; this keeps decay from shrinking them either.
    The parameter sits in a no-decay group and :meth:`apply` decays the other
    rows by exactly what AdamW would, just before ``optimizer.step()``.
    """

    param: nn.Parameter
    decay_rows: Tensor  # bool over dim 0: rows that are decayed
    optimizer: torch.optim.Optimizer
    group_index: int  # looked up at each step: load_state_dict replaces the group dicts
    weight_decay: float

    def apply(self) -> None:
        factor = 1.0 - self.optimizer.param_groups[self.group_index]["lr"] * self.weight_decay
        with torch.no_grad():
            self.param[self.decay_rows] *= factor


def build_optimizer(
    model: nn.Module, cfg: OptimConfig, frozen_rows: list[tuple[nn.Parameter, Tensor]]
) -> tuple[torch.optim.Optimizer, list[RowDecay]]:
    """AdamW with layer-wise lr decay and no decay on norms, biases, pos-embed and tokens."""
    skip = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    if cfg.layer_decay < 1.0 and hasattr(model, "group_matcher"):
        groups = param_groups_layer_decay(model, cfg.weight_decay, no_weight_decay_list=skip,
                                          layer_decay=cfg.layer_decay)
        if cfg.layer_decay_groups is LayerDecayGroups.RELEASED:  # one group fewer: the last block joins the head
            groups = [{**g, "lr_scale": min(1.0, g["lr_scale"] / cfg.layer_decay)} for g in groups]
    else:
        groups = param_groups_weight_decay(model, cfg.weight_decay, no_weight_decay_list=skip)
        for g in groups:
            g["lr_scale"] = 1.0
    groups = [dict(g) for g in groups]
    partial: list[tuple[nn.Parameter, Tensor]] = []
    frozen = {id(p): rows for p, rows in frozen_rows}
    final_groups: list[dict] = []
    for g in groups:
        keep, moved = [], []
        for p in g["params"]:
            (moved if id(p) in frozen and g["weight_decay"] > 0 else keep).append(p)
        if keep:
            final_groups.append({**g, "params": keep})
        for p in moved:
            final_groups.append({**g, "params": [p], "weight_decay": 0.0, "row_decay": g["weight_decay"]})
            partial.append((p, frozen[id(p)]))
    optimizer = torch.optim.AdamW(
        [{k: v for k, v in g.items() if k != "row_decay"} for g in final_groups],
        lr=cfg.resolved_lr(),
        betas=(cfg.beta1, cfg.beta2),
        weight_decay=cfg.weight_decay,
    )
    row_decays = []
    for index, (group, spec) in enumerate(zip(optimizer.param_groups, final_groups)):
        if "row_decay" in spec:
            (param,) = group["params"]
            row_decays.append(RowDecay(param, ~frozen[id(param)].to(param.device), optimizer, index, spec["row_decay"]))
    return optimizer, row_decays


def lr_at(step: int, total_steps: int, warmup_steps: int, cfg: OptimConfig) -> float:
    """Per-iteration linear warmup from 0, then half-cosine down to ``min_lr``."""
    peak = cfg.resolved_lr()
    if warmup_steps > 0 and step < warmup_steps:
        return peak * step / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return cfg.min_lr + (peak - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
