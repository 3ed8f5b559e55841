"""Teachers pretrained by the suite: the run that pretrains one is a run like any other.

Its config is derived from ``teacher.pretrain`` and ``teacher.model`` only, so
every student naming the same teacher recipe shares one cached run directory.
This module only derives that config; executing it is the trainer's business
(:func:`attnxfer_core.training.execute.execute`).
"""
from __future__ import annotations

from attnxfer_core.config.codec import from_dict, to_dict
from attnxfer_core.config.schema import (
    ExecConfig,
    Objective,
    PretrainMethod,
    RunConfig,
    TeacherConfig,
    TeacherSource,
    TransferConfig,
)
from attnxfer_core.modes import spec_of


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


def pretrained_sources(cfg: RunConfig) -> list[tuple[str, TeacherConfig]]:
    """(field, source) of each weights source of ``cfg`` that the suite pretrains itself.

    The teacher when the mode uses one; the student's own initialisation unless
    fine-tuning (which starts from the teacher and ignores ``init``).
    """
    spec = spec_of(cfg.transfer.mode)
    found = []
    if spec.needs_teacher and cfg.teacher.source is TeacherSource.PRETRAIN:
        found.append(("teacher", cfg.teacher))
    if not spec.init_from_teacher and cfg.init.source is TeacherSource.PRETRAIN:
        found.append(("init", cfg.init))
    return found


def dependency_runs(cfg: RunConfig) -> list[RunConfig]:
    """Runs that must finish before ``cfg`` can start: the suite's own pretraining of its teacher / init."""
    return [pretrain_run(source, cfg.exec) for _, source in pretrained_sources(cfg)]
