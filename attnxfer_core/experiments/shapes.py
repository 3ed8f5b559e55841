"""Checking a run's model shapes without data, weights or network (meta device).

Used to validate whole studies up front: a paper-scale study can be checked on
a laptop that has neither ImageNet nor the teacher's checkpoint. Architectures
are built once per distinct shape and reused across the runs of a study.
"""
from __future__ import annotations

import json
from typing import Optional

import torch

from attnxfer_core.attention.walk import check_supported
from attnxfer_core.config import ModelConfig, RunConfig, TeacherConfig, TeacherSource, to_dict
from attnxfer_core.data import dataset_entry
from attnxfer_core.errors import ConfigError, UserError
from attnxfer_core.models import hub
from attnxfer_core.models.factory import create_vit
from attnxfer_core.models.weights import OPTIONAL_PREFIXES, check_compatible
from attnxfer_core.modes import spec_of
from attnxfer_core.transfer.plan import build_plan


class ShapeChecker:
    """Raises the shape errors ``prepare`` would raise, building each architecture once."""

    def __init__(self) -> None:
        self._models: dict[str, object] = {}  # key -> model, or the UserError building it raised
        self._verdicts: dict[str, Optional[str]] = {}

    def _meta(self, key: str, build) -> torch.nn.Module:
        if key not in self._models:
            try:
                with torch.device("meta"):
                    self._models[key] = build()
            except UserError as exc:
                self._models[key] = exc
        found = self._models[key]
        if isinstance(found, UserError):
            raise found
        return found

    def student(self, cfg: ModelConfig, shape: dict) -> torch.nn.Module:
        key = json.dumps(["student", to_dict(cfg), shape], sort_keys=True)
        return self._meta(key, lambda: create_vit(cfg, field="student", skip_init=True, **shape))

    def source(self, t: TeacherConfig, shape: dict, field: str) -> torch.nn.Module:
        """The architecture a weights source would produce (no weights are read)."""
        if t.source is TeacherSource.FILE and not t.path:
            raise ConfigError(f"{field}.path", f"{field}.source=file needs a checkpoint path")
        if t.source is TeacherSource.TIMM:
            key = json.dumps([field, "timm", t.name, t.model.img_size, shape], sort_keys=True)
            return self._meta(key, lambda: _timm_architecture(t, shape, field))
        key = json.dumps([field, to_dict(t.model), shape], sort_keys=True)
        return self._meta(key, lambda: create_vit(t.model, field=f"{field}.model", skip_init=True, **shape))

    def check(self, cfg: RunConfig) -> None:
        entry = dataset_entry(cfg.data)
        img = entry.image_size or cfg.student.img_size or 224
        shape = dict(num_classes=entry.num_classes or 1000, img_size=img, in_chans=entry.in_chans)
        sources = [[to_dict(s.model), s.source.value, s.name, bool(s.path)] for s in (cfg.teacher, cfg.init)]
        key = json.dumps([to_dict(cfg.student), sources, to_dict(cfg.transfer), shape], sort_keys=True)
        if key not in self._verdicts:
            try:
                self._check(cfg, shape)
                self._verdicts[key] = None
            except UserError as exc:
                self._verdicts[key] = str(exc)
        if self._verdicts[key] is not None:
            raise UserError(self._verdicts[key])

    def _check(self, cfg: RunConfig, shape: dict) -> None:
        student = self.student(cfg.student, shape)
        spec = spec_of(cfg.transfer.mode)
        if cfg.init.source is not TeacherSource.NONE and not spec.init_from_teacher:
            _check_start(student, self.source(cfg.init, shape, "init"), "init")
        if not spec.needs_teacher:
            return
        teacher = self.source(cfg.teacher, shape, "teacher")
        if spec.transfers:
            build_plan(cfg.transfer, student, teacher)
        if spec.init_from_teacher:
            _check_start(student, teacher, "teacher (fine-tuning starts from it)")


def _timm_architecture(t: TeacherConfig, shape: dict, field: str) -> torch.nn.Module:
    model = hub.create(t.name, pretrained=False, num_classes=shape["num_classes"], img_size=t.model.img_size,
                       field=f"{field}.name", weight_init="skip")
    check_supported(model, f"{field}.name")
    return model


def _check_start(student: torch.nn.Module, weights: torch.nn.Module, origin: str) -> None:
    state = {k: v for k, v in weights.state_dict().items() if not k.startswith(OPTIONAL_PREFIXES)}
    check_compatible(student.state_dict(), state, origin)
