"""Helpers study files share: a base run for a mode at either scale, and mode lookups."""
from __future__ import annotations

from typing import Optional

from .config import RunConfig
from .modes import MODE_SPECS, Kind, Mode, Target
from .presets import embedded, paper
from .study import Resources

# Paper-scale resources by student architecture (one 8-GPU node per ViT-B, two per ViT-L, four per ViT-H).
PAPER_RESOURCES = {
    "vit_base_patch16_224": Resources(gpus_per_node=8, nodes=1, hours=48),
    "vit_large_patch16_224": Resources(gpus_per_node=8, nodes=2, hours=48),
    "vit_huge_patch14_224": Resources(gpus_per_node=8, nodes=4, hours=48),
}


def paper_resources(cfg: RunConfig) -> Resources:
    return PAPER_RESOURCES.get(cfg.student.arch, Resources(gpus_per_node=8, nodes=2, hours=48))


def base_run(scale: str, mode: Mode, seed: int = 0) -> RunConfig:
    """The scale's standard run for ``mode`` (embedded preset, or the paper recipe)."""
    return embedded(mode, seed) if scale == "embedded" else paper(mode, seed)


def mode_for(kind: Kind, target: Target) -> Mode:
    """The mode that transfers ``target`` by ``kind`` (e.g. copy + q -> copy_q)."""
    for mode, spec in MODE_SPECS.items():
        if spec.kind is kind and spec.target is target:
            return mode
    raise KeyError((kind, target))


def depth_of(scale: str) -> int:
    cfg = base_run(scale, Mode.SCRATCH)
    depth: Optional[int] = cfg.student.depth
    return depth if depth is not None else 24  # the paper's ViT-L


def heads_of(scale: str) -> int:
    cfg = base_run(scale, Mode.SCRATCH)
    return cfg.student.num_heads if cfg.student.num_heads is not None else 16
