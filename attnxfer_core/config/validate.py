"""Field-by-field checks of a :class:`RunConfig`, run before anything is built or written."""
from __future__ import annotations

import math

import torch

from attnxfer_core.config.pretraining import pretrain_run, pretrained_sources
from attnxfer_core.config.schema import Objective, RunConfig, TeacherSource
from attnxfer_core.errors import ConfigError
from attnxfer_core.modes import Mode, spec_of

DEVICES = ("auto", "cpu", "cuda")


def _check(condition: bool, field: str, message: str) -> None:
    if not condition:
        raise ConfigError(field, message)


def _finite(value: float, field: str) -> None:
    _check(isinstance(value, (int, float)) and math.isfinite(value), field, f"must be a finite number, got {value!r}")


def validate_config(cfg: RunConfig, prefix: str = "", world: int = 1) -> None:
    """Raise :class:`ConfigError` naming the first field that cannot work.

    ``world``: the processes that will share each batch (torch.distributed ranks).
    """
    p = prefix
    o = cfg.optim
    _check(o.epochs >= 1, f"{p}optim.epochs", f"must be >= 1, got {o.epochs}")
    _check(o.batch_size >= 1, f"{p}optim.batch_size", f"must be >= 1, got {o.batch_size}")
    _check(o.batch_size % world == 0, f"{p}optim.batch_size", f"{o.batch_size} is not divisible by {world} processes")
    if o.micro_batch is not None:
        share = o.batch_size // world
        _check(o.micro_batch >= 1, f"{p}optim.micro_batch", f"must be >= 1 or none, got {o.micro_batch}")
        _check(share % o.micro_batch == 0, f"{p}optim.micro_batch",
               f"{o.micro_batch} does not divide a process's {share} images of optim.batch_size {o.batch_size}")
    for name in ("blr", "min_lr", "weight_decay", "warmup_epochs", "layer_decay", "beta1", "beta2"):
        _finite(getattr(o, name), f"{p}optim.{name}")
    _check(o.blr > 0, f"{p}optim.blr", f"must be > 0, got {o.blr}")
    if o.lr is not None:
        _finite(o.lr, f"{p}optim.lr")
        _check(o.lr > 0, f"{p}optim.lr", f"must be > 0, got {o.lr}")
    _check(o.min_lr >= 0, f"{p}optim.min_lr", f"must be >= 0, got {o.min_lr}")
    _check(o.weight_decay >= 0, f"{p}optim.weight_decay", f"must be >= 0, got {o.weight_decay}")
    _check(0 <= o.warmup_epochs <= o.epochs, f"{p}optim.warmup_epochs",
           f"must be in [0, epochs], got {o.warmup_epochs}")
    _check(0 < o.layer_decay <= 1, f"{p}optim.layer_decay", f"must be in (0, 1], got {o.layer_decay}")
    _check(0 <= o.beta1 < 1 and 0 <= o.beta2 < 1, f"{p}optim.beta2", "betas must be in [0, 1)")
    if o.clip_grad is not None:
        _check(o.clip_grad > 0, f"{p}optim.clip_grad", f"must be > 0 or none, got {o.clip_grad}")
    if o.ema_decay is not None:
        _check(0 < o.ema_decay < 1, f"{p}optim.ema_decay", f"must be in (0, 1) or none, got {o.ema_decay}")

    a = cfg.augment
    _check(a.crop_padding >= 0, f"{p}augment.crop_padding", f"must be >= 0, got {a.crop_padding}")
    _check(a.mixup >= 0 and a.cutmix >= 0, f"{p}augment.mixup", "mixup and cutmix alphas must be >= 0")
    _check(0 <= a.mixup_prob <= 1, f"{p}augment.mixup_prob", f"must be in [0, 1], got {a.mixup_prob}")
    _check(0 <= a.label_smoothing < 1, f"{p}augment.label_smoothing", f"must be in [0, 1), got {a.label_smoothing}")
    _check(0 <= a.random_erasing <= 1, f"{p}augment.random_erasing", f"must be in [0, 1], got {a.random_erasing}")
    if a.mixup > 0 or a.cutmix > 0:
        _check(o.batch_size % 2 == 0, f"{p}optim.batch_size", "must be even when mixup/cutmix is on")

    _check(cfg.eval_every >= 1, f"{p}eval_every", f"must be >= 1, got {cfg.eval_every}")
    _check(cfg.log_every >= 1, f"{p}log_every", f"must be >= 1, got {cfg.log_every}")
    _check(cfg.data.eval_batch_size >= 1, f"{p}data.eval_batch_size", "must be >= 1")
    _check(0 < cfg.mae.mask_ratio < 1, f"{p}mae.mask_ratio", f"must be in (0, 1), got {cfg.mae.mask_ratio}")

    t = cfg.transfer
    _finite(t.weight, f"{p}transfer.weight")
    _check(t.weight >= 0, f"{p}transfer.weight", f"must be >= 0, got {t.weight}")
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
    _check(e.device in DEVICES, f"{p}exec.device", f"unknown device {e.device!r}; choose one of: {', '.join(DEVICES)}")
    if e.device == "cuda":
        _check(torch.cuda.is_available(), f"{p}exec.device", "cuda requested but no GPU is visible")
    if e.threads is not None:
        _check(e.threads >= 1, f"{p}exec.threads", f"must be >= 1, got {e.threads}")
    _check(e.checkpoint_every_steps >= 0, f"{p}exec.checkpoint_every_steps", "must be >= 0")
    if e.wandb:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise ConfigError(f"{p}exec.wandb", "needs the wandb package: pip install wandb") from None

    for name, source in pretrained_sources(cfg):
        validate_config(pretrain_run(source, cfg.exec), prefix=f"{p}{name}.pretrain:", world=world)
