"""Mirrors of a run's metrics log for the dashboards researchers watch: TensorBoard and W&B.

``metrics.jsonl`` stays the one record; trackers only copy it. Every attempt (first start
or resume) rebuilds the TensorBoard folder from the records the checkpoint kept and then
appends as training goes, so a resumed run shows one curve with every step once, however
often it was killed. W&B runs offline (compute nodes often have no internet; ``wandb sync``
uploads later) under the run id, with ``resume="allow"``, so a requeued job continues the same
W&B run; a resumed run's repeated steps are bit-identical to the ones it logged before the
kill, which W&B keeps once.
"""
from __future__ import annotations

import os
import shutil
from typing import Optional

from attnxfer_core.config import RunConfig, to_dict
from attnxfer_core.runs.rundir import TENSORBOARD, WANDB, RunDir

BOOKKEEPING = ("kind", "split", "step", "epoch", "n")


def scalars(record: dict) -> tuple[int, dict[str, float]]:
    """(step, {tag: value}) of one metrics record: ``train/loss``, ``val/top1``, ``test/top1`` ..."""
    group = record.get("split") or record.get("kind") or "metrics"
    values = {f"{group}/{k}": float(v) for k, v in record.items()
              if k not in BOOKKEEPING and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return int(record.get("step", 0)), values


class Trackers:
    """TensorBoard event files in ``RUN/tensorboard/`` (``exec.tensorboard``, on by default) and an
    offline W&B run in ``RUN/wandb/`` (``exec.wandb``, off by default)."""

    def __init__(self, cfg: RunConfig, run_dir: RunDir, run_id: str) -> None:
        self.cfg, self.run_dir, self.run_id = cfg, run_dir, run_id
        self._tb = None
        self._wandb = None

    def start(self, kept: list[dict]) -> None:
        """Begin an attempt whose metrics log holds ``kept`` (the records the checkpoint saw)."""
        if self.cfg.exec.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            folder = self.run_dir.path / TENSORBOARD
            if folder.exists():
                shutil.rmtree(folder)  # a killed attempt may have logged past the checkpoint
            self._tb = SummaryWriter(log_dir=str(folder), flush_secs=30)
            for record in kept:
                self._write_tb(record)
            self._tb.flush()
        if self.cfg.exec.wandb:
            import wandb

            folder = self.run_dir.path / WANDB
            folder.mkdir(parents=True, exist_ok=True)
            self._wandb = wandb.init(
                project=os.environ.get("WANDB_PROJECT", "attnxfer"), id=self.run_id, name=self.run_id,
                resume="allow", mode=os.environ.get("WANDB_MODE", "offline"), dir=str(self.run_dir.path),
                config=to_dict(self.cfg), reinit=True,
            )

    def log(self, record: dict) -> None:
        if self._tb is not None:
            self._write_tb(record)
        if self._wandb is not None:
            step, values = scalars(record)
            if values:
                self._wandb.log(values, step=step)

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None

    def _write_tb(self, record: dict) -> None:
        step, values = scalars(record)
        for tag, value in values.items():
            self._tb.add_scalar(tag, value, step)


def trackers_for(cfg: RunConfig, run_dir: RunDir, run_id: str, is_main: bool) -> Optional[Trackers]:
    """The trackers of the process that writes (rank 0), or None."""
    if not is_main or not (cfg.exec.tensorboard or cfg.exec.wandb):
        return None
    return Trackers(cfg, run_dir, run_id)
