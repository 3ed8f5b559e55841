"""Checks of a whole :class:`RunConfig`, run before anything is built or written.

Each field's own valid values are declared beside it in the schema and enforced by
:func:`attnxfer_core.config.bounds.check_bounds`; this module adds the rules between fields
(a batch split over processes, warm-up within the epochs, what a mode needs). Shapes (layer and
head indices against a model, teacher against student) are checked by building the models on the
meta device (:mod:`attnxfer_core.experiments.shapes`).
"""
from __future__ import annotations

import torch

from attnxfer_core.config.bounds import check_bounds
from attnxfer_core.config.pretraining import pretrain_run, pretrained_sources
from attnxfer_core.config.schema import Objective, RunConfig, TeacherSource
from attnxfer_core.errors import ConfigError
from attnxfer_core.modes import Mode, spec_of


def _check(condition: bool, field: str, message: str) -> None:
    if not condition:
        raise ConfigError(field, message)


def validate_config(cfg: RunConfig, prefix: str = "", world: int = 1) -> None:
    """Raise :class:`ConfigError` naming the first field that cannot work.

    ``world``: the processes that will share each batch (torch.distributed ranks).
    """
    p = prefix
    check_bounds(cfg, p)
    o = cfg.optim
    _check(o.batch_size % world == 0, f"{p}optim.batch_size", f"{o.batch_size} is not divisible by {world} processes")
    if o.micro_batch is not None:
        share = o.batch_size // world
        _check(share % o.micro_batch == 0, f"{p}optim.micro_batch",
               f"{o.micro_batch} does not divide a process's {share} images of optim.batch_size {o.batch_size}")
    _check(o.warmup_epochs <= o.epochs, f"{p}optim.warmup_epochs",
           f"must be in [0, epochs], got {o.warmup_epochs}")
    a = cfg.augment
    if a.mixup > 0 or a.cutmix > 0:
        _check(o.batch_size % 2 == 0, f"{p}optim.batch_size", "must be even when mixup/cutmix is on")

    t = cfg.transfer
    spec = spec_of(t.mode)
    if cfg.objective is Objective.MAE:
        _check(t.mode is Mode.SCRATCH, f"{p}transfer.mode", "MAE pretraining trains from scratch; use mode=scratch")
    if spec.needs_teacher:
        _check(
            cfg.teacher.source is not TeacherSource.NONE,
            f"{p}teacher.source",
            f"mode {t.mode.value} needs a teacher (timm, file, random or pretrain)",
        )

    e = cfg.exec
    if e.device == "cuda":
        _check(torch.cuda.is_available(), f"{p}exec.device", "cuda requested but no GPU is visible")
    if e.wandb:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise ConfigError(f"{p}exec.wandb", "needs the wandb package: pip install wandb") from None

    for name, source in pretrained_sources(cfg):
        validate_config(pretrain_run(source, cfg.exec), prefix=f"{p}{name}.pretrain:", world=world)
