"""The two scales every study runs at, and what study files ask of them.

``embedded``: Fashion-MNIST from Debian, a small ViT, minutes on two CPU cores.
``paper``: ImageNet-layout data and the paper's ViT-L/16 recipes, on GPUs through
SLURM. :data:`SCALES` is the one list of scale names; the command line, study
expansion and planning all read it.
"""
from __future__ import annotations

import typing
from typing import Literal, Optional

from attnxfer_core.config import RunConfig
from attnxfer_core.errors import ConfigError
from attnxfer_core.experiments.presets import BUDGETS, embedded, paper
from attnxfer_core.experiments.resources import EMBEDDED_RESOURCES, Resources, paper_resources
from attnxfer_core.modes import Mode

Scale = Literal["embedded", "paper"]
SCALES: tuple[Scale, ...] = typing.get_args(Scale)
EMBEDDED, PAPER = SCALES


def check_scale(scale: str) -> Scale:
    if scale not in SCALES:
        raise ConfigError("scale", f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
    return typing.cast(Scale, scale)


def base_run(scale: str, mode: Mode, seed: int = 0, budget: str = "full") -> RunConfig:
    """The scale's standard run for ``mode``: the embedded preset at ``budget`` (see
    :class:`~attnxfer_core.experiments.presets.Budget`), or the paper recipe (one budget: the paper's)."""
    if budget not in BUDGETS:
        raise ConfigError("budget", f"unknown budget {budget!r}; choose one of: {', '.join(BUDGETS)}")
    return embedded(mode, seed, BUDGETS[budget]) if check_scale(scale) == EMBEDDED else paper(mode, seed)


def default_resources(scale: str, cfg: RunConfig) -> Resources:
    """Two CPU cores at embedded scale; GPU nodes by student architecture at paper scale."""
    return EMBEDDED_RESOURCES if check_scale(scale) == EMBEDDED else paper_resources(cfg)


def depth_of(scale: str) -> int:
    cfg = base_run(scale, Mode.SCRATCH)
    depth: Optional[int] = cfg.student.depth
    return depth if depth is not None else 24  # the paper's ViT-L


def heads_of(scale: str) -> int:
    cfg = base_run(scale, Mode.SCRATCH)
    return cfg.student.num_heads if cfg.student.num_heads is not None else 16
