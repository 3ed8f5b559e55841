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


def pretrain_run(source: TeacherConfig, exec_cfg: ExecConfig) -> RunConfig:
    """The run that pretrains the weights ``source`` describes (MAE or supervised)."""
    p = source.pretrain
    objective = Objective.MAE if p.method is PretrainMethod.MAE else Objective.CLASSIFY
    exec_copy = from_dict(ExecConfig, {**to_dict(exec_cfg), "run_dir": "", "stop_after_steps": None, "force": False})
    return RunConfig(
        objective=objective,
        seed=p.seed,
        precision=p.precision,
        data=p.data,
        augment=p.augment,
        student=source.model,
        teacher=TeacherConfig(),
        transfer=TransferConfig(),
        optim=p.optim,
        mae=p.mae,
        exec=exec_copy,
    )


def pretrain_config(cfg: RunConfig) -> RunConfig:
    """The run that pretrains ``cfg``'s teacher."""
    return pretrain_run(cfg.teacher, cfg.exec)


def ensure_pretrained(source: TeacherConfig, exec_cfg: ExecConfig, progress: Optional[bool] = None):
    """Return the finished pretraining run for ``source``, training it first if needed."""
    from .runner import execute, run_dir_of

    pcfg = pretrain_run(source, exec_cfg)
    rd = run_dir_of(pcfg)
    if rd.finished:
        log.info("reusing cached %s pretraining run %s", source.pretrain.method.value, rd.path)
    else:
        log.info("pretraining (%s) into %s", source.pretrain.method.value, rd.path)
    return execute(pcfg, progress)
