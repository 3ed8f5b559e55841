"""The training loop shared by every objective.

Resumable to the bit on the CPU: every source of randomness in a step (batch
order, augmentation, mixup, drop path) is derived from (seed, step), and the
checkpoint holds model, optimizer and EMA state plus how many metric records
had been written, so a resumed run writes exactly what an uninterrupted one does.
"""
from __future__ import annotations

import math
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
from timm.utils import ModelEmaV3
from torch import Tensor, nn

from attnxfer_core.config import Precision, RunConfig, run_id
from attnxfer_core.data.source import TEST, VAL, DataSource, derive_seed
from attnxfer_core.errors import UserError
from attnxfer_core.modes import Kind
from attnxfer_core.runs.rundir import CHECKPOINT, RunDir
from attnxfer_core.runs.tensors import load_tensors, save_tensors
from attnxfer_core.training.distributed import SINGLE, DistContext, all_mean
from attnxfer_core.training.objectives import Task
from attnxfer_core.training.optim import build_optimizer, lr_at, set_lr
from attnxfer_core.training.signals import STOP
from attnxfer_core.training.timing import StepTimer
from attnxfer_core.training.trackers import trackers_for


class TrainingDiverged(UserError):
    """A loss term became NaN or infinite; the last good checkpoint is kept."""

    def __init__(self, step: int, term: str, value: float) -> None:
        self.step, self.term = step, term
        super().__init__(f"loss term '{term}' became {value} at step {step}; last good checkpoint kept")


class StopRequested(Exception):
    """Training stopped on request (``exec.stop_after_steps``, or a signal) after checkpointing."""


@dataclass
class Position:
    epoch: int = 0  # current epoch
    step_in_epoch: int = 0  # steps of ``epoch`` already done
    global_step: int = 0
    metrics_count: int = 0  # metric records written so far
    elapsed: float = 0.0  # training seconds accumulated over all attempts
    pending: dict = field(default_factory=dict)  # loss sums since the last train record
    pending_steps: int = 0
    # torch's intra-op thread counts that trained the run, each change of count in order (empty: a checkpoint
    # written before they were recorded). On the CPU they change round-off, so they are part of the result.
    threads: list = field(default_factory=list)


# Position fields a checkpoint may lack, from before they existed: resuming it must still work.
POSITION_ADDED = frozenset({"threads"})


def autocast_factory(precision: Precision, device: torch.device) -> Callable[[], object]:
    if precision is Precision.BF16:
        return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext


def seed_step(seed: int, step: int, ctx: DistContext = SINGLE) -> None:
    """All global RNGs (torch, CUDA, numpy for timm's mixup) as a function of (seed, step[, rank])."""
    value = derive_seed(seed, step, 0x57E9) if not ctx.enabled else derive_seed(seed, step, 0x57E9, ctx.rank)
    torch.manual_seed(value)
    np.random.seed(value % 2**32)


class Trainer:
    """Trains ``task`` into ``run_dir``; with several ranks, only rank 0 writes."""

    def __init__(
        self, cfg: RunConfig, task: Task, source: DataSource, run_dir: RunDir, device: torch.device,
        ctx: DistContext = SINGLE,
    ) -> None:
        self.cfg = cfg
        self.task = task
        self.source = source
        self.run_dir = run_dir
        self.device = device
        self.ctx = ctx
        self.model = task.trained_model()
        if ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel

            plan = task.plan
            copies = plan is not None and plan.spec.kind is Kind.COPY  # copied layers leave q/k norms unused
            task.module = DistributedDataParallel(
                task.module, device_ids=[ctx.local_rank] if device.type == "cuda" else None,
                find_unused_parameters=copies,
            )
        if cfg.exec.compile:  # the module that runs the forward; weights, checkpoints and EMA stay the plain model's
            task.module = torch.compile(task.module)
        self.optimizer, self.row_decays = build_optimizer(self.model, cfg.optim, task.frozen_rows())
        self.ema = ModelEmaV3(self.model, decay=cfg.optim.ema_decay) if cfg.optim.ema_decay else None
        self.autocast = autocast_factory(cfg.precision, device)
        # images per forward/backward on this process, and passes per optimizer step (validated in execute)
        self.micro, self.accum = cfg.optim.split(ctx.world)
        self.steps_per_epoch = source.steps_per_epoch(cfg.optim.batch_size)
        if self.steps_per_epoch < 1:
            raise UserError(f"optim.batch_size {cfg.optim.batch_size} exceeds the {source.train_size} training images")
        self.total_steps = cfg.optim.epochs * self.steps_per_epoch
        self.warmup_steps = round(cfg.optim.warmup_epochs * self.steps_per_epoch)
        self.pos = Position()
        self.trackers = trackers_for(cfg, run_dir, run_id(cfg), ctx.is_main)
        self.timer = StepTimer(device)

    # -- checkpoint ------------------------------------------------------------------

    def state(self) -> dict:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), **asdict(self.pos)}
        if self.ema is not None:
            state["ema"] = self.ema.module.state_dict()
        return state

    def save(self) -> None:
        if self.ctx.is_main:
            save_tensors(self.run_dir.file(CHECKPOINT), self.state())
            if self.trackers is not None:
                self.trackers.flush()
            self.timer.write(self.run_dir, self.micro * self.accum)

    def resume(self) -> bool:
        """Load the run dir's checkpoint if there is one; metrics after it are dropped."""
        if not self.run_dir.has_checkpoint():
            if self.ctx.is_main:
                self.run_dir.truncate_metrics(0)
            self._start_trackers()
            return False
        state = load_tensors(self.run_dir.file(CHECKPOINT))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None:
            self.ema.module.load_state_dict(state["ema"])
        self.pos = Position(**{f: state[f] for f in Position.__dataclass_fields__
                               if f in state or f not in POSITION_ADDED})
        if self.ctx.is_main:
            self.run_dir.truncate_metrics(self.pos.metrics_count)
        self._start_trackers()
        return True

    def record_threads(self, threads: int) -> Optional[str]:
        """Note that this attempt trains with ``threads`` intra-op threads; say why it matters when they change.

        On the CPU, torch's kernels split their work by thread count, so two counts give different round-off
        and, over training, different numbers. A run resumed with another count
        than it started with is therefore not bit-identical to an uninterrupted run; the counts are kept in
        the checkpoint and the summary so that a result can say what made it.
        """
        previous = self.pos.threads[-1] if self.pos.threads else None
        if previous == threads:
            return None
        self.pos.threads.append(threads)
        if previous is None or self.device.type != "cpu":
            return None
        return (f"{self.run_dir.path.name} trained with {previous} CPU threads and resumes with {threads}: "
                f"round-off differs, so it will not match an uninterrupted run bit for bit "
                f"(exec.threads={previous} keeps it)")

    def _start_trackers(self) -> None:
        if self.trackers is not None:
            self.trackers.start(self.run_dir.metrics())

    def log(self, record: dict) -> None:
        if self.ctx.is_main:
            self.run_dir.append_metrics([record])
            if self.trackers is not None:
                self.trackers.log(record)
        self.pos.metrics_count += 1

    # -- loop ------------------------------------------------------------------------

    def fit(self, progress: Optional[bool] = None) -> list[dict]:
        """Train to the end (or to ``exec.stop_after_steps``); return the evaluation records.

        Evaluations during training use the validation split when the data has one (and then the
        test set is evaluated once, after the last epoch: a ``test`` record), else the test set.
        """
        from tqdm import tqdm

        cfg = self.cfg
        log_every = max(1, min(cfg.log_every, self.steps_per_epoch))
        self.model.train()
        self.task.module.train()
        bar = tqdm(
            total=self.total_steps, initial=self.pos.global_step,
            disable=not progress if progress is not None else None,
            file=sys.stderr, leave=False, desc=self.run_dir.path.name, dynamic_ncols=True,
        ) if self.ctx.is_main else None
        try:
            while self.pos.epoch < cfg.optim.epochs:
                started = time.perf_counter()
                epoch = self.pos.epoch
                for images, labels in self.timer.wrap(self.source.train_batches(
                    epoch, cfg.optim.batch_size, self.pos.step_in_epoch, cfg.seed, self.ctx.rank, self.ctx.world
                )):
                    terms = self.train_step(images, labels)
                    self.timer.step_done()
                    for key, value in terms.items():
                        self.pos.pending[key] = self.pos.pending.get(key, 0.0) + value
                    self.pos.pending_steps += 1
                    self.pos.step_in_epoch += 1
                    self.pos.global_step += 1
                    if bar is not None:
                        bar.update(1)
                    if self.pos.global_step % log_every == 0:
                        self._log_train(epoch)
                    stop = self._stop_due()
                    if self._checkpoint_due() or stop:
                        self.pos.elapsed += time.perf_counter() - started
                        started = time.perf_counter()
                        self.save()
                        if stop:
                            raise StopRequested()
                self.pos.elapsed += time.perf_counter() - started
                last = epoch + 1 == cfg.optim.epochs
                if last or (epoch + 1) % cfg.eval_every == 0:
                    split = VAL if self.source.val_size else TEST
                    record = {"kind": "eval", "split": split, "epoch": epoch + 1, "step": self.pos.global_step}
                    self.log({**record, **self.evaluate(split)})
                    if cfg.save_eval_weights and self.ctx.is_main:
                        save_tensors(self.run_dir.eval_weights_path(epoch + 1), self.task.export(self.final_weights()))
                if last and self.source.val_size and cfg.test_at_end:  # the test set, read once
                    self.log({"kind": "test", "split": TEST, "epoch": epoch + 1, "step": self.pos.global_step,
                              **self.evaluate(TEST)})
                self.pos.epoch += 1
                self.pos.step_in_epoch = 0
                self.save()
        finally:
            if bar is not None:
                bar.close()
            if self.trackers is not None:
                self.trackers.close()
        return [r for r in self.run_dir.metrics() if r.get("kind") in ("eval", "test")] if self.ctx.is_main else []

    def _log_train(self, epoch: int) -> None:
        group = self.optimizer.param_groups[0]
        n = self.pos.pending_steps
        terms = all_mean({k: v / n for k, v in self.pos.pending.items()}, self.ctx)
        self.log({"kind": "train", "epoch": epoch, "step": self.pos.global_step,
                  "lr": group["lr"] / group.get("lr_scale", 1.0), **terms})
        self.pos.pending, self.pos.pending_steps = {}, 0

    def _checkpoint_due(self) -> bool:
        every = self.cfg.exec.checkpoint_every_steps
        return every > 0 and self.pos.global_step % every == 0

    def _stop_due(self) -> bool:
        """A signal or ``exec.stop_after_steps`` asks to stop; all ranks agree on the same step."""
        limit = self.cfg.exec.stop_after_steps
        stop = STOP.is_set() or (limit is not None and self.pos.global_step >= limit)
        if self.ctx.enabled:
            stop = all_mean({"stop": float(stop)}, self.ctx)["stop"] > 0
        return stop

    def train_step(self, images: Tensor, labels: Tensor) -> dict[str, float]:
        step = self.pos.global_step
        seed_step(self.cfg.seed, step, self.ctx)
        set_lr(self.optimizer, lr_at(step, self.total_steps, self.warmup_steps, self.cfg.optim))
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            images, labels = self.task.mix(images, labels)  # over the whole batch, as one pass would
        values: dict[str, float] = {}
        for i, (x, y) in enumerate(zip(images.split(self.micro), labels.split(self.micro))):
            with self._sync(i == self.accum - 1):
                with self.autocast():
                    terms = self.task.losses(x, y)
                part = {k: float(v.detach()) for k, v in terms.items() if v is not None}
                for key in sorted(part, key=lambda k: k == "loss"):  # name the term, not the total, when one broke
                    if not math.isfinite(part[key]):
                        raise TrainingDiverged(step, key, part[key])
                (terms["loss"] if self.accum == 1 else terms["loss"] / self.accum).backward()
            for key, value in part.items():  # equal micro-batches: the mean of their means is the batch's
                values[key] = values.get(key, 0.0) + (value if self.accum == 1 else value / self.accum)
        if self.cfg.optim.clip_grad:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.clip_grad)
        for decay in self.row_decays:
            decay.apply()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model, step=step)
        return values

    def _sync(self, last: bool):
        """DDP averages gradients across processes once per optimizer step: on the last micro-batch."""
        module = self.task.module
        return nullcontext() if last or not hasattr(module, "no_sync") else module.no_sync()

    def evaluate(self, split: str = TEST) -> dict:
        bs = self.cfg.data.eval_batch_size
        metrics = self.task.evaluate(self.source, bs, self.model, self.device, self.autocast, self.ctx, split)
        if self.ema is not None:
            ema = self.task.evaluate(self.source, bs, self.ema.module, self.device, self.autocast, self.ctx, split)
            metrics.update({f"ema_{k}": v for k, v in ema.items() if k != "n"})
        return metrics

    def final_weights(self) -> nn.Module:
        """The weights a run hands on (EMA when enabled, as the recipe evaluates them)."""
        return self.ema.module if self.ema is not None else self.model
