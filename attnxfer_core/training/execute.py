"""One run from config to summary: check everything, then train into the run dir.

:func:`prepare` builds data, models, teacher and plan without touching the disk,
so every input error surfaces before a run directory exists. :func:`execute`
then creates (or resumes) the run directory and trains.
"""
from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from attnxfer_core.config import (
    Objective,
    RunConfig,
    TeacherConfig,
    canonical_json,
    from_dict,
    run_id,
    set_fields,
    to_dict,
)
from attnxfer_core.config.pretraining import pretrain_run, pretrained_sources
from attnxfer_core.config.validate import validate_config
from attnxfer_core.data import DataSource, build_source
from attnxfer_core.data.source import derive_seed
from attnxfer_core.errors import UserError, failure_line
from attnxfer_core.models.export import export_timm
from attnxfer_core.models.factory import create_vit, shape_kwargs
from attnxfer_core.models.sources import build_from_source, build_teacher
from attnxfer_core.models.weights import OPTIONAL_PREFIXES, load_weights, read_state_dict
from attnxfer_core.modes import spec_of
from attnxfer_core.runs.carried import carried_root, weights_of
from attnxfer_core.runs.carried import restore as restore_carried
from attnxfer_core.runs.contention import ContentionMeter
from attnxfer_core.runs.provenance import environment
from attnxfer_core.runs.rundir import TIMM_EXPORT, WEIGHTS, RunDir, run_dir_of
from attnxfer_core.runs.shipped import find as find_shipped
from attnxfer_core.runs.shipped import install as install_shipped
from attnxfer_core.runs.summary import RunSummary
from attnxfer_core.runs.tensors import save_tensors
from attnxfer_core.training.distributed import DistContext, barrier, from_environment
from attnxfer_core.training.objectives import ClassificationTask, MAETask, Task
from attnxfer_core.training.trainer import StopRequested, Trainer
from attnxfer_core.transfer.plan import build_plan

log = logging.getLogger("attnxfer")


@dataclass
class PreparedRun:
    cfg: RunConfig
    run_id: str
    run_dir: RunDir
    source: DataSource
    task: Task
    device: torch.device
    # Models whose weights come from the suite's own pretraining runs, filled in
    # by execute() once those runs exist: (source config, model, field name).
    pending: list[tuple[TeacherConfig, nn.Module, str]] = field(default_factory=list)
    init_model: Optional[nn.Module] = None  # where the student's starting weights come from
    dependency_seconds: float = 0.0  # spent training those pretraining runs (not this run's set-up)


@dataclass
class RunResult:
    run_dir: Path
    summary: dict  # empty when the run stopped before finishing
    cached: bool = False  # the run had already finished; nothing was trained
    stopped_at: Optional[int] = None  # global step of a resumable early stop
    setup_seconds: Optional[float] = None  # this attempt's set-up before training (None: nothing was trained)

    @property
    def finished(self) -> bool:
        return self.stopped_at is None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def prepare(cfg: RunConfig) -> PreparedRun:
    """Validate and build everything a run needs; writes nothing."""
    validate_config(cfg, world=from_environment().world)
    if cfg.exec.threads:
        torch.set_num_threads(cfg.exec.threads)
    device = resolve_device(cfg.exec.device)
    source = build_source(cfg.data, cfg.augment, image_size=cfg.student.img_size or 224, workers=cfg.exec.data_workers)
    shape = dict(num_classes=source.num_classes, img_size=source.image_size, in_chans=source.in_chans)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        student = create_vit(cfg.student, field="student", **shape)
    if cfg.objective is Objective.MAE:
        with torch.random.fork_rng(devices=[]):  # the decoder's initialisation, from the run's seed alone
            torch.manual_seed(derive_seed(cfg.seed, 0xDEC0DE))
            task = MAETask(student, cfg.mae, cfg.seed)
        return PreparedRun(cfg, run_id(cfg), run_dir_of(cfg), source, task, device)
    spec = spec_of(cfg.transfer.mode)
    teacher = build_teacher(cfg, **shape) if spec.needs_teacher else None
    plan = build_plan(cfg.transfer, student, teacher) if spec.transfers else None
    if plan is not None:
        plan = replace(plan, sdpa=uses_sdpa(cfg.exec.attention, device))
    init_model = teacher if spec.init_from_teacher else build_from_source(cfg.init, shape, "init")
    if init_model is not None:
        init_from(student, init_model, "teacher" if spec.init_from_teacher else "init")
    models = {"teacher": teacher, "init": init_model}
    pending = [(source_cfg, models[name], name) for name, source_cfg in pretrained_sources(cfg)]
    task = ClassificationTask(student, teacher, plan, cfg.augment, source.num_classes)
    return PreparedRun(cfg, run_id(cfg), run_dir_of(cfg), source, task, device, pending, init_model)


def uses_sdpa(attention: str, device: torch.device) -> bool:
    """``exec.attention`` resolved on ``device``: fused kernels on CUDA unless told, maps on the CPU unless told."""
    return attention == "sdpa" or (attention == "auto" and device.type == "cuda")


def init_from(student: nn.Module, weights: nn.Module, origin: str) -> None:
    """A student's start from other weights (fine-tuning, or ``init``), with a fresh classifier head."""
    state = {k: v for k, v in weights.state_dict().items() if not k.startswith(OPTIONAL_PREFIXES)}
    load_weights(student, state, origin)


def _load_pretrained(prepared: PreparedRun, progress: Optional[bool]) -> dict:
    """Make sure the suite-pretrained weights exist (training those runs first if needed) and load them."""
    info: dict = {}
    for source_cfg, model, field_name in prepared.pending:
        pretraining = pretrain_run(source_cfg, prepared.cfg.exec)
        done = run_dir_of(pretraining).finished
        log.info("%s %s pretraining run %s", "reusing cached" if done else "running",
                 source_cfg.pretrain.method.value, run_dir_of(pretraining).path)
        started = time.perf_counter()
        result = execute(pretraining, progress)
        if not result.cached:
            prepared.dependency_seconds += time.perf_counter() - started
        load_weights(model, read_state_dict(weights_of(result.run_dir)), f"pretrained {field_name} {result.run_dir}")
        info[field_name] = {"run_id": result.run_dir.name, "cached": result.cached,
                            "final": result.summary.get("final", {})}
    if prepared.pending and prepared.init_model is not None:
        task = prepared.task
        assert isinstance(task, ClassificationTask)
        init_from(task.student, prepared.init_model, "init")
    return info


def stored_config(run_dir: Path) -> RunConfig:
    """The config a run directory was trained with, pointed at where the directory is now."""
    rd = RunDir(run_dir)
    data = rd.config()
    if data is None:
        raise UserError(f"{run_dir} is not a run directory (no config.json)")
    cfg = from_dict(RunConfig, data["config"])
    return set_fields(cfg, {"exec.run_dir": str(rd.path), "exec.runs_root": str(rd.path.parent)})


def load_finished(run_dir: Path, weights: Optional[Path] = None, progress: Optional[bool] = None) -> PreparedRun:
    """A finished run ready for inference: its data, its trained student and, if it has one, its teacher."""
    rd = RunDir(run_dir)
    if not rd.finished:
        raise UserError(f"{run_dir} has not finished (no summary.json)")
    cfg = stored_config(rd.path)
    prepared = prepare(cfg)
    _load_pretrained(prepared, progress)
    model = prepared.task.trained_model()
    state = read_state_dict(weights or weights_of(rd.path))
    if cfg.objective is Objective.MAE:
        model.encoder.load_state_dict(state)
    else:
        model.load_state_dict(state)
    model.to(prepared.device).eval()
    teacher = prepared.task.teacher
    if teacher is not None:
        teacher.to(prepared.device)
    return prepared


def execute(cfg: RunConfig, progress: Optional[bool] = None) -> RunResult:
    """Run ``cfg`` to completion, resuming from its checkpoint; a finished run is returned as is."""
    rd = run_dir_of(cfg)
    if not rd.finished and not cfg.exec.force and rd.config() is None:
        shipped = find_shipped(cfg)
        if shipped is not None:  # the repository carries this run's result: install it instead of training
            log.info("installing shipped run %s from %s", rd.path.name, shipped.weights)
            install_shipped(shipped, cfg, rd)
        elif restore_carried(cfg):  # the repository carries its records from another machine
            log.info("restored carried run %s from %s", rd.path.name, carried_root(cfg))
    if rd.finished and not cfg.exec.force:
        stored = rd.config()
        if stored is not None and stored.get("canonical") != canonical_json(cfg):
            raise UserError(f"{rd.path} holds a different finished run; choose another exec.run_dir")
        return RunResult(rd.path, rd.summary(), cached=True)
    setup_started = time.perf_counter()
    prepared = prepare(cfg)
    stored = rd.config()
    if stored is not None and stored.get("canonical") != canonical_json(cfg):
        raise UserError(f"{rd.path} holds a run with a different config; choose another exec.run_dir")
    pretrained = _load_pretrained(prepared, progress)
    ctx = from_environment()
    if not ctx.is_main:  # other ranks compute; rank 0 owns the run directory
        barrier(ctx)
        return _train(prepared, pretrained, progress, ctx, setup_started)
    rd.create()
    rd.lock()
    try:
        if rd.finished and not cfg.exec.force and not ctx.enabled:  # another process finished it meanwhile
            return RunResult(rd.path, rd.summary(), cached=True)
        if cfg.exec.force:
            rd.clear_results()
        rd.clear_failure()
        rd.write_config({"run_id": prepared.run_id, "config": to_dict(cfg), "canonical": canonical_json(cfg)})
        barrier(ctx)
        try:
            return _train(prepared, pretrained, progress, ctx, setup_started)
        except Exception as exc:  # recorded for `attnxfer status`, then raised on
            rd.write_failure(failure_line(exc), at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
            raise
    finally:
        rd.unlock()


def _train(prepared: PreparedRun, pretrained: dict, progress: Optional[bool], ctx: DistContext,
           setup_started: float) -> RunResult:
    cfg, rd, task = prepared.cfg, prepared.run_dir, prepared.task
    device = prepared.device
    if device.type == "cuda" and ctx.enabled:
        device = torch.device("cuda", ctx.local_rank)
    task.trained_model().to(device)
    teacher = task.teacher
    if teacher is not None:
        teacher.to(device)
    trainer = Trainer(cfg, task, prepared.source, rd, device, ctx)
    resumed = trainer.resume()
    changed = trainer.record_threads(torch.get_num_threads())
    if changed and ctx.is_main:
        log.warning("%s", changed)
    if resumed:
        log.info("resuming %s at step %d", rd.path.name, trainer.pos.global_step)
    first_step = trainer.pos.global_step
    started = time.perf_counter()
    contention = ContentionMeter()  # whatever else ran beside this attempt, for reading its wall time
    setup = started - setup_started - prepared.dependency_seconds
    try:
        evals = trainer.fit(progress=progress)
    except StopRequested:
        log.info("stopped %s at step %d; run the same command again to resume", rd.path.name, trainer.pos.global_step)
        return RunResult(rd.path, {}, stopped_at=trainer.pos.global_step, setup_seconds=setup)
    if not ctx.is_main:
        return RunResult(rd.path, {}, setup_seconds=setup)
    final = trainer.final_weights()
    save_tensors(rd.path / WEIGHTS, task.export(final))
    export_timm(task.timm_model(final), rd.path / TIMM_EXPORT, arch=cfg.student.arch,
                model_args=shape_kwargs(cfg.student, prepared.source.image_size, prepared.source.in_chans),
                preprocessing=prepared.source.preprocessing(), tag=f"attnxfer-{prepared.run_id}")
    images = trainer.total_steps * cfg.optim.batch_size
    summary = RunSummary(
        run_id=prepared.run_id,
        objective=cfg.objective.value,
        mode=cfg.transfer.mode.value,
        seed=cfg.seed,
        epochs=cfg.optim.epochs,
        steps=trainer.total_steps,
        train_seconds=round(trainer.pos.elapsed, 3),
        images_per_second=round(images / trainer.pos.elapsed, 2) if trainer.pos.elapsed > 0 else None,
        wall_seconds_this_attempt=round(time.perf_counter() - started, 3),
        attempt_from_step=first_step,  # 0 unless this attempt resumed: then its wall time is part of the run's
        # this attempt's set-up before training: data, models, teacher (not training a pretraining run it needed)
        setup_seconds=round(setup, 3),
        final=_final(evals, "test") or _final(evals, "eval"),  # the test set's numbers
        final_split=next((r.get("split", "test") for r in reversed(evals)), "test"),  # "val" only for pilots
        val=_final(evals, "eval") if any(r.get("kind") == "test" for r in evals) else {},
        teacher={"source": cfg.teacher.source.value, **pretrained.get("teacher", {})},
        init={"source": cfg.init.source.value, **pretrained.get("init", {})},
        device=str(device),
        # how map transfer ran in this attempt ("maps", "sdpa"; both when some passes needed the maps)
        attention_paths=sorted(task.transfer_model.paths_used) if task.transfer_model is not None else [],
        world_size=ctx.world,
        threads=list(trainer.pos.threads),
        finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        # cpu_seconds (this attempt's own), others_cpu_share (0-1: CPU time others took); code and library versions
        extra={**contention.fields(), **environment()},
    ).to_dict()
    rd.write_summary(summary)
    return RunResult(rd.path, summary, setup_seconds=setup)


def _final(records: list[dict], kind: str) -> dict:
    """The last evaluation record of ``kind``, without its bookkeeping keys ({} when there is none)."""
    found = [r for r in records if r.get("kind") == kind]
    return {k: v for k, v in found[-1].items() if k not in ("kind", "split")} if found else {}
