"""``attnxfer calibrate``: what a training step and an evaluated image cost on this machine.

``attnxfer plan`` turns a study into wall time from these measurements (see
:mod:`attnxfer_core.experiments.cost`). Each is taken with the real trainer on the
embedded presets, so data, augmentation, the teacher's forward and the optimizer
are all in it: for every mode, three short runs in a scratch directory,

- B: train ``steps`` steps after the trainer's untimed warm-up steps; a training step
  is the run's own ``timing.json`` median (step plus data wait), so set-up and a busy
  moment or two do not enter it (a difference of two whole runs' wall times did, and
  on a loaded machine came out negative for a few steps);
- A: train 2 steps and stop (set-up, checkpoint write, 2 steps),
- C: a 2-step epoch, then the validation and test evaluations (the same as A plus
  ``val + test`` evaluated images),

so that (C - A) / images is one evaluated image, set-up cancelling out (thousands of
images, so the difference is large). MAE pretraining (the teachers) is timed like B.
The table is :class:`~attnxfer_core.experiments.cost.StepTimes`, per image.
One measurement per mode, on whatever else the machine is doing: run it idle.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

from attnxfer_core.config import ExecConfig, RunConfig
from attnxfer_core.config.pretraining import pretrain_run
from attnxfer_core.experiments.cost import MAE_PRETRAIN, StepTimes, images_of
from attnxfer_core.experiments.presets import embedded, embedded_teacher
from attnxfer_core.modes import Mode
from attnxfer_core.runs.files import atomic_write_bytes
from attnxfer_core.runs.provenance import environment
from attnxfer_core.runs.rundir import TIMING
from attnxfer_core.training.execute import execute
from attnxfer_core.training.timing import WARMUP


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), for the record of where the times were measured."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def _per(extra: float, count: int, what: str) -> float:
    if extra <= 0:
        raise RuntimeError(f"calibrate: {what} took no measurable time over its baseline ({extra:.3f} s): "
                           "the machine is too busy to measure; run it idle, or with more --steps")
    return extra / count


def _step_seconds(cfg: RunConfig) -> tuple[float, int]:
    """Run ``cfg`` and return its median seconds per optimizer step (data wait included), and images per step."""
    execute(cfg, progress=False)
    timing = json.loads((Path(cfg.exec.run_dir) / TIMING).read_text())
    if not timing.get("steps_timed"):
        raise RuntimeError(f"calibrate: {cfg.exec.run_dir} timed no step (is --steps at least 1?)")
    return timing["median_step_seconds"] + timing["median_data_wait_seconds"], timing["images_per_step"]


def _timed(cfg: RunConfig) -> float:
    started = time.perf_counter()
    execute(cfg, progress=False)
    return time.perf_counter() - started


def _scratch(cfg: RunConfig, root: Path, name: str, shipped: str = "") -> RunConfig:
    """``cfg`` run in its own directory under ``root`` (its teacher installed there from the shipped root)."""
    ex = replace(cfg.exec, runs_root=str(root), run_dir=str(root / name), force=True, progress=False,
                 shipped_root=shipped)
    return replace(cfg, exec=ex)


def calibrate(modes: list[Mode], steps: int = 20, log: Callable[[str], None] = print) -> StepTimes:
    """Time ``steps`` training steps and one evaluation of every mode (and MAE pretraining)."""
    train_seconds: dict[str, float] = {}  # per trained image
    eval_seconds: dict[str, float] = {}  # per evaluated image
    with tempfile.TemporaryDirectory(prefix="attnxfer-calibrate-") as tmp:
        root = Path(tmp)
        no_shipped = str(root / "no-shipped")  # MAE pretraining is timed, never installed
        for mode in modes:
            cfg = embedded(mode)
            stop = replace(cfg.exec, stop_after_steps=2)
            a = _timed(_scratch(replace(cfg, exec=stop), root, f"{mode.value}-a"))
            step, per_step = _step_seconds(_scratch(replace(cfg, exec=replace(stop, stop_after_steps=steps + WARMUP)),
                                                    root, f"{mode.value}-b"))
            short = replace(cfg, data=replace(cfg.data, train_subset=2 * cfg.optim.batch_size),
                            optim=replace(cfg.optim, epochs=1, warmup_epochs=0.5))
            c = _timed(_scratch(short, root, f"{mode.value}-c"))
            images = images_of(short).evaluated  # the validation split once, then the test set
            train_seconds[mode.value] = step / per_step
            eval_seconds[mode.value] = _per(c - a, images, f"{mode.value} evaluation")
            log(f"{mode.value:<14} {1e3 * step:7.1f} ms/step of {per_step}  "
                f"{1e6 * train_seconds[mode.value]:7.0f} us/trained image  "
                f"{1e6 * eval_seconds[mode.value]:7.0f} us/evaluated image")
        mae = pretrain_run(embedded_teacher(), ExecConfig())
        step, per_step = _step_seconds(_scratch(replace(mae, exec=replace(mae.exec, stop_after_steps=steps + WARMUP)),
                                                root, "mae-b", no_shipped))
        train_seconds[MAE_PRETRAIN] = step / per_step
        log(f"{MAE_PRETRAIN:<14} {1e3 * step:7.1f} ms/step of {per_step}  "
            f"{1e6 * train_seconds[MAE_PRETRAIN]:7.0f} us/trained image")
    where = {"device": "cpu", "device_name": cpu_name(), "threads": torch.get_num_threads(), "cores": os.cpu_count()}
    return StepTimes(train_seconds, eval_seconds, {**environment(), **where})


def write(times: StepTimes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, times.to_json().encode())
