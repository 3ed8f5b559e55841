"""Weights sources: from ``teacher.source`` (or ``init.source``) to a timm ViT.

Sources: timm pretrained names (registry, ``hf-hub:`` or ``local-dir:``; see
:mod:`attnxfer_core.models.hub`), local
checkpoint files (timm state dicts, safetensors, MAE ``{'model': ...}``), a
random-init control, and teachers pretrained by the suite itself (a cached run of
its own, see :mod:`attnxfer_core.config.pretraining`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch
from timm.models.vision_transformer import VisionTransformer

from attnxfer_core.attention.walk import check_supported
from attnxfer_core.config import RunConfig, TeacherConfig, TeacherSource
from attnxfer_core.errors import ConfigError
from attnxfer_core.models import hub
from attnxfer_core.models.factory import create_vit
from attnxfer_core.models.weights import load_weights, read_state_dict


def _from_timm(cfg: TeacherConfig, shape: dict, field: str) -> VisionTransformer:
    model = hub.create(cfg.name, pretrained=True, num_classes=shape["num_classes"], img_size=cfg.model.img_size,
                       field=f"{field}.name")
    check_supported(model, f"{field}.name")
    return model


def _architecture(cfg: TeacherConfig, shape: dict, field: str) -> VisionTransformer:
    return create_vit(cfg.model, field=f"{field}.model", **shape)


def _from_file(cfg: TeacherConfig, shape: dict, field: str) -> VisionTransformer:
    if not cfg.path:
        raise ConfigError(f"{field}.path", f"{field}.source=file needs a checkpoint path")
    model = _architecture(cfg, shape, field)
    load_weights(model, read_state_dict(Path(cfg.path)), f"{field}.path {cfg.path}")
    return model


def _random(cfg: TeacherConfig, shape: dict, field: str) -> VisionTransformer:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.init_seed)
        return _architecture(cfg, shape, field)


WeightsBuilder = Callable[[TeacherConfig, dict, str], VisionTransformer]

SOURCES: dict[TeacherSource, WeightsBuilder] = {
    TeacherSource.TIMM: _from_timm,
    TeacherSource.FILE: _from_file,
    TeacherSource.RANDOM: _random,
    # The suite's own pretraining is a run of its own: the architecture is built
    # here (so shapes are checked before anything runs); the runner then loads the
    # weights of the cached pretraining run (see attnxfer_core.config.pretraining and training.execute).
    TeacherSource.PRETRAIN: _architecture,
}


def build_from_source(source: TeacherConfig, shape: dict, field: str) -> Optional[VisionTransformer]:
    """A ViT with the weights ``source`` names (None for source=none); ``field`` prefixes errors."""
    if source.source is TeacherSource.NONE:
        return None
    return SOURCES[source.source](source, shape, field)


def build_teacher(cfg: RunConfig, num_classes: int, img_size: int, in_chans: int) -> Optional[VisionTransformer]:
    """The frozen teacher a run needs, or None for sources that have none."""
    shape = dict(num_classes=num_classes, img_size=img_size, in_chans=in_chans)
    teacher = build_from_source(cfg.teacher, shape, "teacher")
    if teacher is not None:
        teacher.eval().requires_grad_(False)
    return teacher
