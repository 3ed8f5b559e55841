"""Teachers pretrained by the suite: a pretraining run is a run like any other.

Its config is derived from ``teacher.pretrain`` and ``teacher.model`` only, so
every student naming the same teacher recipe shares one cached run directory.
"""
from __future__ import annotations

import logging
from typing import Optional

from .config import (
    ExecConfig,
    Objective,
    PretrainMethod,
    RunConfig,
    TeacherConfig,
    TransferConfig,
    from_dict,
    to_dict,
)

log = logging.getLogger("attnxfer")


def pretrain_config(cfg: RunConfig) -> RunConfig:
    """The run that pretrains ``cfg``'s teacher (MAE or supervised)."""
    p = cfg.teacher.pretrain
    objective = Objective.MAE if p.method is PretrainMethod.MAE else Objective.CLASSIFY
    exec_cfg = from_dict(ExecConfig, {**to_dict(cfg.exec), "run_dir": "", "stop_after_steps": None, "force": False})
    return RunConfig(
        objective=objective,
        seed=p.seed,
        precision=p.precision,
        data=p.data,
        augment=p.augment,
        student=cfg.teacher.model,
        teacher=TeacherConfig(),
        transfer=TransferConfig(),
        optim=p.optim,
        mae=p.mae,
        exec=exec_cfg,
    )


def ensure_pretrained(cfg: RunConfig, progress: Optional[bool] = None):
    """Return the finished pretraining run of ``cfg``'s teacher, training it first if needed."""
    from .runner import execute, run_dir_of

    pcfg = pretrain_config(cfg)
    rd = run_dir_of(pcfg)
    if rd.finished:
        log.info("teacher: reusing cached %s pretraining run %s", cfg.teacher.pretrain.method.value, rd.path)
    else:
        log.info("teacher: pretraining (%s) into %s", cfg.teacher.pretrain.method.value, rd.path)
    return execute(pcfg, progress)
