"""A dress rehearsal of a study: every run's real model and recipe, a few steps, measured.

A paper-scale sweep costs hundreds of GPU-hours, so before it is submitted each of its runs
trains a few steps, through the same executor, on a synthetic ImageNet-layout folder made
here (real JPEG decoding and augmentation, no dataset needed). The rehearsal keeps what
decides cost (architectures, per-GPU micro-batch, precision, transfer mode and layers, data
pipeline) and changes what does not: the weights teachers start from are random (same
architecture: nothing is downloaded), and each rehearsal run is one process on one GPU with
accumulation 1, so it trains one real micro-batch per step and measures what one GPU of the
real run does. The real run's cost then follows from the measurement:

  wall seconds  = optimizer steps x accumulation x (micro-step time + data wait)
  GPU-hours     = wall seconds x GPUs / 3600

which leaves out gradient all-reduce between GPUs (overlapped with the backward in DDP) and
evaluations (counted at a third of a training image's measured time: a forward only).
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from attnxfer_core.config import ModelConfig, RunConfig, TeacherConfig, TeacherSource, run_id
from attnxfer_core.experiments.cost import estimate, images_of
from attnxfer_core.experiments.study import PlannedRun
from attnxfer_core.models import hub
from attnxfer_core.runs.files import read_json_record
from attnxfer_core.runs.rundir import TIMING, run_dir_of
from attnxfer_core.training.timing import WARMUP  # the trainer's untimed first steps

MEMORY_SHARE = 0.9  # a peak above this share of the GPU's memory leaves no room for fragmentation


def make_image_folder(root: Path, classes: int, per_class: int, size: tuple[int, int] = (375, 500),
                      seed: int = 0) -> Path:
    """train/ and val/ of ``classes`` folders of smooth random JPEGs (ImageNet's typical size).

    Reused when it exists with the same shape (a marker file says which).
    """
    from PIL import Image

    marker = root / f".made-{classes}x{per_class}-{size[0]}x{size[1]}"
    if marker.exists():
        return root
    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("val", 1)):
        for c in range(classes):
            folder = root / split / f"n{c:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                coarse = rng.integers(0, 256, (size[0] // 25 + 1, size[1] // 25 + 1, 3), dtype=np.uint8)
                image = Image.fromarray(coarse).resize((size[1], size[0]), Image.BILINEAR)
                noise = rng.integers(-12, 13, (size[0], size[1], 3))
                pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}.JPEG", quality=90)
    marker.touch()
    return root


def architecture_of(name: str, field: str, img_size: Optional[int]) -> ModelConfig:
    """The ModelConfig of a timm-named architecture, so that a rehearsal can build it with random weights.

    Built on the meta device: registry names download nothing; ``hf-hub:`` names read the repository's
    config.json (from the cache when the hub is offline); ``local-dir:`` names read the folder's."""
    with torch.device("meta"):
        model = hub.create(name, pretrained=False, num_classes=0, img_size=img_size, field=field,
                           weight_init="skip")
    block = model.blocks[0]
    return ModelConfig(
        arch=name.split(".")[0] if ":" not in name else model.pretrained_cfg.get("architecture", ""),
        img_size=model.patch_embed.img_size[0], patch_size=model.patch_embed.patch_size[0],
        in_chans=model.patch_embed.proj.in_channels, embed_dim=model.embed_dim, depth=len(model.blocks),
        num_heads=block.attn.num_heads, mlp_ratio=block.mlp.fc1.out_features / model.embed_dim,
        global_pool=model.global_pool or None, class_token=model.cls_token is not None,
        reg_tokens=model.num_reg_tokens, no_embed_class=model.no_embed_class,
        init_values=1e-5 if type(block.ls1).__name__ == "LayerScale" else None,
        qk_norm=type(block.attn.q_norm).__name__ != "Identity",
        pre_norm=type(model.norm_pre).__name__ != "Identity",
    )


def _random_weights(source: TeacherConfig, field: str) -> TeacherConfig:
    """The same architecture with random weights (timing needs no trained weights)."""
    if source.source in (TeacherSource.NONE, TeacherSource.RANDOM):
        return source
    model = source.model
    if source.source is TeacherSource.TIMM:
        model = architecture_of(source.name, f"{field}.name", source.model.img_size)
    return replace(source, source=TeacherSource.RANDOM, model=model, name="", path="")


def rehearsal_run(run: PlannedRun, data_root: Path, runs_root: Path, steps: int) -> PlannedRun:
    """``run`` as its rehearsal: one process at the real per-GPU micro-batch, ``steps`` timed steps."""
    cfg = run.config
    micro, _ = cfg.optim.split(max(1, run.resources.gpus))
    data = replace(cfg.data, dataset="imagefolder", root=str(data_root), train_subset=None, eval_subset=None,
                   val_size=0)
    optim = replace(cfg.optim, batch_size=micro, micro_batch=None)
    ex = replace(cfg.exec, runs_root=str(runs_root), run_dir="", stop_after_steps=WARMUP + steps,
                 checkpoint_every_steps=0, progress=False, tensorboard=False, wandb=False)
    rehearsal = replace(cfg, data=data, optim=optim, exec=ex, teacher=_random_weights(cfg.teacher, "teacher"),
                        init=_random_weights(cfg.init, "init"))
    res = run.resources
    share = max(1, res.gpus_per_node)  # one GPU of a node: its share of the node's memory
    resources = replace(res, gpus_per_node=min(1, res.gpus_per_node), nodes=1, mem_gb=max(16, res.mem_gb // share))
    return PlannedRun(run_id(rehearsal), rehearsal, run.values, run.seed, (), resources, run.role)


def rehearsals(runs: Sequence[PlannedRun], data_root: Path, runs_root: Path,
               steps: int) -> tuple[list[PlannedRun], dict[str, str]]:
    """The distinct rehearsal runs (seeds cost the same: one rehearsal serves them all), and for
    each real run id the id of the rehearsal that measures it."""
    distinct: dict[str, PlannedRun] = {}
    measured_by: dict[str, str] = {}
    for run in runs:
        unseeded = replace(run, config=replace(run.config, seed=0), seed=0)
        rehearsal = rehearsal_run(unseeded, data_root, runs_root, steps)
        distinct.setdefault(rehearsal.run_id, rehearsal)
        measured_by[run.run_id] = rehearsal.run_id
    return list(distinct.values()), measured_by


def images_needed(runs: Sequence[PlannedRun], steps: int) -> int:
    """Training images the largest rehearsal micro-batch needs for its steps (one epoch)."""
    return max(r.config.optim.batch_size for r in runs) * (WARMUP + steps + 1)


def prediction(real: PlannedRun, timing: Optional[dict], scale: str) -> dict:
    """What the real run costs, from its rehearsal's timing (None where the rehearsal measured nothing)."""
    cfg: RunConfig = real.config
    gpus = max(1, real.resources.gpus)
    micro, accum = cfg.optim.split(gpus)
    images = images_of(cfg)
    steps = images.trained // cfg.optim.batch_size
    row = {"run_id": real.run_id, "label": real.label, "seed": real.seed, "student": cfg.student.arch,
           "micro_batch": micro, "accumulation": accum, "gpus": gpus, "optimizer_steps": steps,
           "flops_gpu_hours": estimate(cfg, scale).seconds / 3600}
    if not timing or not timing.get("median_step_seconds"):
        return {**row, "measured": False}
    micro_step = timing["median_step_seconds"] + timing["median_data_wait_seconds"]
    train_wall = steps * accum * micro_step
    eval_wall = images.evaluated / gpus * timing["median_step_seconds"] / micro / 3
    wall = train_wall + eval_wall
    return {**row, "measured": True, "device_name": timing["device_name"],
            "micro_step_seconds": timing["median_step_seconds"],
            "data_wait_seconds": timing["median_data_wait_seconds"],
            "images_per_second_per_gpu": micro / micro_step,
            "peak_gpu_memory_gb": timing["peak_gpu_memory_gb"], "peak_rss_gb": timing["peak_rss_gb"],
            "gpu_total_memory_gb": timing.get("gpu_total_memory_gb"),
            "wall_hours": wall / 3600, "gpu_hours": wall * gpus / 3600, "steps_timed": timing["steps_timed"]}


def read_timing(run: PlannedRun) -> Optional[dict]:
    return read_json_record(run_dir_of(run.config).file(TIMING))


def format_report(rows: list[dict]) -> str:
    head = (f"{'run':<34} {'micro x acc x GPUs':>18} {'ms/step':>8} {'data ms':>8} {'img/s/GPU':>9} "
            f"{'peak GB':>8} {'wall h':>7} {'GPU-h':>7} {'FLOP guess':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        shape = f"{r['micro_batch']}x{r['accumulation']}x{r['gpus']}"
        label = f"{r['label']} s{r['seed']}"[:34]
        if not r["measured"]:
            lines.append(f"{label:<34} {shape:>18} {'not measured':>52} {r['flops_gpu_hours']:>10.0f}")
            continue
        memory = r["peak_gpu_memory_gb"] if r["peak_gpu_memory_gb"] is not None else r["peak_rss_gb"]
        lines.append(f"{label:<34} {shape:>18} {1e3 * r['micro_step_seconds']:>8.1f} "
                     f"{1e3 * r['data_wait_seconds']:>8.1f} {r['images_per_second_per_gpu']:>9.1f} "
                     f"{memory:>8.2f} {r['wall_hours']:>7.1f} {r['gpu_hours']:>7.1f} {r['flops_gpu_hours']:>10.0f}")
    measured = [r for r in rows if r["measured"]]
    for r in measured:  # the micro-batch is checked against the memory of the GPU it ran on
        total_gb, peak = r.get("gpu_total_memory_gb"), r["peak_gpu_memory_gb"]
        if total_gb and peak and peak > MEMORY_SHARE * total_gb:
            lines.append(f"warning: {r['label']} s{r['seed']} peaks at {peak:.1f} of {total_gb:.0f} GB "
                         f"({100 * peak / total_gb:.0f}%): lower optim.micro_batch (accumulation keeps the batch)")
    total = sum(r["gpu_hours"] for r in measured)
    guess = sum(r["flops_gpu_hours"] for r in rows)
    longest = max((r["wall_hours"] for r in measured), default=0.0)
    lines.append(f"predicted from the measurement: {total:.1f} GPU-h over {len(measured)} of {len(rows)} runs "
                 f"(FLOP guess: {guess:.0f} GPU-h); the longest run takes {longest:.1f} h of wall time")
    return "\n".join(lines)


def per_class(classes: int, images: int) -> int:
    return max(1, math.ceil(images / classes))
