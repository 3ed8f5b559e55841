"""``attnxfer bench calibrate``: what a training step, an evaluated image and a run's set-up cost on this machine.

``attnxfer plan`` turns a study into wall time from these measurements (see
:mod:`attnxfer_core.experiments.cost`). Each is taken with the real trainer on the
embedded presets, so data, augmentation, the teacher's forward and the optimizer
are all in it. An untimed run first loads the dataset (cached for the process, as
in a study's queue) and installs the shipped teacher. Then, for every mode, short
runs in a scratch directory:

- B: train ``steps`` steps after the trainer's untimed warm-up steps; a training step
  is the run's own ``timing.json`` median (step plus data wait), so set-up and a busy
  moment or two do not enter it (a difference of two whole runs' wall times did, and
  on a loaded machine came out negative for a few steps);
- A: train 2 steps and stop; its set-up (data, models, teacher: what a run's summary
  records as ``setup_seconds``) is a run's fixed cost;
- C: a 2-step epoch, then the validation and test evaluations;
- D, distillation modes only: C without a validation split (it evaluates the test
  set alone, and the held-out attention pass, a second pass over the validation
  split with the teacher, does not happen).

Each run's own set-up is taken off its wall time, so the differences below compare
like with like. (C - A) / evaluated images is one evaluated image; for distillation,
(D - A) / test images is, and what C spends over D beyond its extra evaluated
images, per held-out image, is one image of the held-out pass (:func:`mode_rates`).
The evaluated-image rate also carries a run's final writes (weights, timm folder,
summary), under a second for these models. MAE pretraining (the teachers) is timed
like B. The table is :class:`~attnxfer_core.experiments.cost.StepTimes`. One
measurement per mode, on whatever else the machine is doing: run it idle.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import torch

from attnxfer_core.config import ExecConfig, RunConfig
from attnxfer_core.config.pretraining import pretrain_run
from attnxfer_core.experiments.cost import MAE_PRETRAIN, Images, StepTimes, images_of
from attnxfer_core.experiments.presets import embedded, embedded_teacher
from attnxfer_core.modes import Mode
from attnxfer_core.runs.files import atomic_write_bytes
from attnxfer_core.runs.provenance import cpu_name, environment
from attnxfer_core.runs.rundir import TIMING
from attnxfer_core.training.execute import execute
from attnxfer_core.training.timing import WARMUP


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


def _timed(cfg: RunConfig) -> tuple[float, float]:
    """Run ``cfg``: its set-up, and its wall time less that set-up."""
    started = time.perf_counter()
    result = execute(cfg, progress=False)
    wall = time.perf_counter() - started
    if result.setup_seconds is None:
        raise RuntimeError(f"calibrate: {cfg.exec.run_dir} trained nothing (a finished run left in the scratch root?)")
    return result.setup_seconds, wall - result.setup_seconds


@dataclass(frozen=True)
class ModeTimings:
    """What calibrate measured of one mode, in seconds; the runs' wall times are less their own set-up."""

    step: float  # B: median seconds per optimizer step
    per_step: int  # images per step
    setup: float  # A's set-up
    stopped: float  # A: 2 steps and a checkpoint
    evaluated: float  # C: 2 steps, the evaluations of ``c`` images, the final writes
    test_only: Optional[float] = None  # D (distillation modes): C without the validation split


@dataclass(frozen=True)
class ModeRates:
    """One mode's row of the table: per trained, evaluated and held-out image, and per run."""

    train: float
    eval: float
    setup: float
    held_out: Optional[float] = None


def mode_rates(name: str, t: ModeTimings, c: Images, d: Optional[Images] = None) -> ModeRates:
    """Per-image and per-run costs from the runs' times (``c``, ``d``: what runs C and D evaluate)."""
    train = t.step / t.per_step
    setup = _per(t.setup, 1, f"{name} set-up")
    if d is None or t.test_only is None:
        return ModeRates(train, _per(t.evaluated - t.stopped, c.evaluated, f"{name} evaluation"), setup)
    evaluation = _per(t.test_only - t.stopped, d.evaluated, f"{name} evaluation")
    extra = t.evaluated - t.test_only - (c.evaluated - d.evaluated) * evaluation
    return ModeRates(train, evaluation, setup, _per(extra, c.held_out, f"{name} held-out attention pass"))


def _scratch(cfg: RunConfig, root: Path, name: str, shipped: str = "") -> RunConfig:
    """``cfg`` run in its own directory under ``root`` (its teacher installed there from the shipped root)."""
    ex = replace(cfg.exec, runs_root=str(root), run_dir=str(root / name), force=True, progress=False,
                 shipped_root=shipped)
    return replace(cfg, exec=ex)


def calibrate(modes: list[Mode], steps: int = 20, log: Callable[[str], None] = print) -> StepTimes:
    """Time ``steps`` training steps and one evaluation of every mode (and MAE pretraining)."""
    train_seconds: dict[str, float] = {}  # per trained image
    eval_seconds: dict[str, float] = {}  # per evaluated image
    held_out_seconds: dict[str, float] = {}  # per image of the held-out attention pass (distillation modes)
    setup_seconds: dict[str, float] = {}  # per run
    with tempfile.TemporaryDirectory(prefix="attnxfer-calibrate-") as tmp:
        root = Path(tmp)
        no_shipped = str(root / "no-shipped")  # MAE pretraining is timed, never installed
        warm = embedded(Mode.FINETUNE)  # loads the dataset and installs the shipped teacher, untimed
        execute(_scratch(replace(warm, exec=replace(warm.exec, stop_after_steps=1)), root, "warm-up"), progress=False)
        for mode in modes:
            cfg = embedded(mode)
            stop = replace(cfg.exec, stop_after_steps=2)
            setup, stopped = _timed(_scratch(replace(cfg, exec=stop), root, f"{mode.value}-a"))
            step, per_step = _step_seconds(_scratch(replace(cfg, exec=replace(stop, stop_after_steps=steps + WARMUP)),
                                                    root, f"{mode.value}-b"))
            short = replace(cfg, data=replace(cfg.data, train_subset=2 * cfg.optim.batch_size),
                            optim=replace(cfg.optim, epochs=1, warmup_epochs=0.5))
            evaluated = _timed(_scratch(short, root, f"{mode.value}-c"))[1]
            c = images_of(short)  # the validation split once (twice for distillation), then the test set
            test_only, d = None, None
            if c.held_out:
                short_d = replace(short, data=replace(short.data, val_size=0))
                test_only, d = _timed(_scratch(short_d, root, f"{mode.value}-d"))[1], images_of(short_d)
            rates = mode_rates(mode.value, ModeTimings(step, per_step, setup, stopped, evaluated, test_only), c, d)
            train_seconds[mode.value], eval_seconds[mode.value] = rates.train, rates.eval
            setup_seconds[mode.value] = rates.setup
            line = ""
            if rates.held_out is not None:
                held_out_seconds[mode.value] = rates.held_out
                line = f"  {1e6 * rates.held_out:7.0f} us/held-out attention image"
            log(f"{mode.value:<14} {1e3 * step:7.1f} ms/step of {per_step}  "
                f"{1e6 * rates.train:7.0f} us/trained image  {1e6 * rates.eval:7.0f} us/evaluated image  "
                f"{rates.setup:5.1f} s set-up" + line)
        mae = pretrain_run(embedded_teacher(), ExecConfig())
        step, per_step = _step_seconds(_scratch(replace(mae, exec=replace(mae.exec, stop_after_steps=steps + WARMUP)),
                                                root, "mae-b", no_shipped))
        train_seconds[MAE_PRETRAIN] = step / per_step
        log(f"{MAE_PRETRAIN:<14} {1e3 * step:7.1f} ms/step of {per_step}  "
            f"{1e6 * train_seconds[MAE_PRETRAIN]:7.0f} us/trained image")
    where = {"device": "cpu", "device_name": cpu_name(), "threads": torch.get_num_threads(), "cores": os.cpu_count()}
    return StepTimes(train_seconds, eval_seconds, {**environment(), **where},
                     held_out_image_seconds=held_out_seconds, setup_seconds=setup_seconds)


def write(times: StepTimes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, times.to_json().encode())
