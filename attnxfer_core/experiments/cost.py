"""What a run costs, before it runs (``attnxfer plan`` shows it per run and in total).

Embedded scale: wall time on two CPU cores from *measured* costs, the table
``attnxfer bench calibrate`` writes (``results/perf/step_times_embedded.json``): seconds
per trained image and per evaluated image of every mode and of MAE pretraining,
per image of distillation's second pass over the held-out split (its attention
loss, logged at each evaluation), and a run's fixed set-up (data, models, teacher),
taken with the real trainer on the embedded presets. A run's estimate is its
set-up plus its trained images (epochs x training images), evaluated images
(validation split after each evaluated epoch, the test set once) and held-out
attention passes at those rates, the image terms scaled by the forward FLOPs of
its model relative to the preset's (the ``scale`` study's sizes). Tables written
before set-up and the held-out pass were measured count them as nothing.
``attnxfer bench estimates RUNS_ROOT`` holds the estimates to finished runs.
A study's evaluations after training (corrupted sets, the matched analysis) are
estimated apart, at the same per-image rate (:func:`evaluation_seconds`).
Without the table, and at paper scale, the estimate is FLOPs (forward =
2 * depth * tokens * (12 d^2 + 2 tokens d); training 3x forward; a transfer step
adds a teacher forward) at an assumed throughput: 50 GFLOP/s on two CPU cores,
100 TFLOP/s per GPU; ``plan`` says which basis it used.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import torch

from attnxfer_core.config import ModelConfig, Objective, RunConfig, to_dict
from attnxfer_core.data import dataset_entry
from attnxfer_core.evaluation.corruptions import BENCHMARK, EXTRA, SEVERITIES
from attnxfer_core.experiments.presets import EMBEDDED_MODEL
from attnxfer_core.experiments.scales import EMBEDDED, check_scale
from attnxfer_core.models.factory import create_vit
from attnxfer_core.modes import Kind, spec_of
from attnxfer_core.runs.provenance import PACKAGE_ROOT

CPU_FLOPS = 50e9
GPU_FLOPS = 100e12
# Images per epoch when the dataset's size cannot be known without reading it (ImageNet-1k train/val).
IMAGEFOLDER_TRAIN, IMAGEFOLDER_EVAL = 1_281_167, 50_000
KNOWN_SIZES = {"fashion_mnist": (60000, 10000), "mnist5k": (4000, 1000), "synthetic": (640, 320)}
STEP_TIMES_PATH = PACKAGE_ROOT / "results" / "perf" / "step_times_embedded.json"
MAE_PRETRAIN = "mae_pretrain"  # the table's key for MAE pretraining (modes are keyed by their names)


@dataclass
class StepTimes:
    """Measured seconds per trained image and per evaluated image, by mode, on one machine; per image of the
    held-out attention pass (distillation modes) and per run of set-up."""

    train_image_seconds: dict[str, float]
    eval_image_seconds: dict[str, float]
    environment: dict = field(default_factory=dict)
    command: str = ""
    held_out_image_seconds: dict[str, float] = field(default_factory=dict)
    setup_seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"train_image_seconds": self.train_image_seconds,
                           "eval_image_seconds": self.eval_image_seconds,
                           "held_out_image_seconds": self.held_out_image_seconds,
                           "setup_seconds": self.setup_seconds, "environment": self.environment,
                           "command": self.command}, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "StepTimes":
        d = json.loads(text)
        return cls(d["train_image_seconds"], d["eval_image_seconds"], d.get("environment", {}), d.get("command", ""),
                   d.get("held_out_image_seconds", {}), d.get("setup_seconds", {}))


@functools.lru_cache(maxsize=4)
def measured_step_times(path: Path = STEP_TIMES_PATH) -> Optional[StepTimes]:
    """The committed calibration table, or None when there is none (estimates then fall back to FLOPs)."""
    try:
        return StepTimes.from_json(path.read_text())
    except FileNotFoundError:
        return None


@functools.lru_cache(maxsize=256)
def _forward_flops(model_json: str, img: int, chans: int) -> float:
    cfg = ModelConfig(**json.loads(model_json))
    with torch.device("meta"):
        model = create_vit(cfg, num_classes=10, img_size=img, in_chans=chans, field="model", skip_init=True)
    d = model.embed_dim
    n = model.patch_embed.num_patches + model.num_prefix_tokens
    depth = len(model.blocks)
    mlp = model.blocks[0].mlp.fc1.out_features / d
    return 2.0 * depth * n * ((4 + 2 * mlp) * d * d + 2 * n * d)


def _model_flops(model: ModelConfig, img: int, chans: int) -> float:
    return _forward_flops(json.dumps(to_dict(model), sort_keys=True), img, chans)


@dataclass(frozen=True)
class Images:
    """How many images a run trains on (summed over epochs) and evaluates, and how many its held-out attention
    passes read (distillation modes: the validation split again at each evaluation)."""

    trained: int
    evaluated: int
    held_out: int = 0


def _test_images(cfg: RunConfig) -> int:
    _, test_n = KNOWN_SIZES.get(cfg.data.dataset, (IMAGEFOLDER_TRAIN, IMAGEFOLDER_EVAL))
    return min(test_n, cfg.data.eval_subset or test_n)


def images_of(cfg: RunConfig) -> Images:
    train_n, _ = KNOWN_SIZES.get(cfg.data.dataset, (IMAGEFOLDER_TRAIN, IMAGEFOLDER_EVAL))
    val_n = min(cfg.data.val_size, train_n)
    train_n = min(train_n - val_n, cfg.data.train_subset or train_n)
    test_n = _test_images(cfg)
    n_evals = -(-cfg.optim.epochs // cfg.eval_every)
    evaluated = n_evals * (val_n if val_n else test_n) + (test_n if val_n and cfg.test_at_end else 0)
    attention_pass = cfg.objective is not Objective.MAE and spec_of(cfg.transfer.mode).held_out_attention
    return Images(cfg.optim.epochs * train_n, evaluated, n_evals * val_n if attention_pass else 0)


def rate_key(cfg: RunConfig) -> str:
    """The calibration table's key of a run's rates: its mode, or MAE pretraining."""
    if cfg.objective is Objective.MAE:
        return MAE_PRETRAIN
    return cfg.transfer.mode.value


def _measured_seconds(cfg: RunConfig, times: StepTimes) -> Optional[float]:
    key = rate_key(cfg)
    if key not in times.train_image_seconds:
        return None
    entry = dataset_entry(cfg.data)
    img = entry.image_size or cfg.student.img_size or 224
    size = _model_flops(cfg.student, img, entry.in_chans) / _model_flops(EMBEDDED_MODEL, img, entry.in_chans)
    images = images_of(cfg)
    seconds = images.trained * times.train_image_seconds[key]
    seconds += images.evaluated * times.eval_image_seconds.get(key, 0.0)
    seconds += images.held_out * times.held_out_image_seconds.get(key, 0.0)
    return seconds * size + times.setup_seconds.get(key, 0.0)


def _flops_seconds(cfg: RunConfig, scale: str) -> float:
    entry = dataset_entry(cfg.data)
    img = entry.image_size or cfg.student.img_size or 224
    student = _model_flops(cfg.student, img, entry.in_chans)
    spec = spec_of(cfg.transfer.mode)
    teacher = _model_flops(cfg.teacher.model, img, entry.in_chans) if spec.transfers else 0.0
    if cfg.objective is Objective.MAE:
        student *= 1 - cfg.mae.mask_ratio + 0.1  # the encoder sees the visible patches; small decoder
    images = images_of(cfg)
    eval_flops = images.evaluated * (student + (teacher if spec.kind is Kind.COPY else 0.0))
    eval_flops += images.held_out * (student + teacher)
    total = images.trained * (3 * student + teacher) + eval_flops
    return total / (CPU_FLOPS if check_scale(scale) == EMBEDDED else GPU_FLOPS)


@dataclass(frozen=True)
class Estimate:
    seconds: float
    measured: bool  # from the calibration table (else from FLOPs at an assumed throughput)


def estimate(cfg: RunConfig, scale: str, times: Optional[StepTimes] = None) -> Estimate:
    """Compute time of one run: wall seconds on 2 CPU cores (embedded) or GPU seconds over all GPUs (paper)."""
    if check_scale(scale) == EMBEDDED:
        times = times if times is not None else measured_step_times()
        if times is not None:
            seconds = _measured_seconds(cfg, times)
            if seconds is not None:
                return Estimate(seconds, True)
    return Estimate(_flops_seconds(cfg, scale), False)


def evaluation_images(cfg: RunConfig, families: Sequence[str], analyses: Sequence[str] = ()) -> int:
    """Images a study evaluates a finished run on, after training (embedded sets only).

    ``clean`` re-reads the test set; the corrupted families are every corruption x severity of
    ``data.corruption_subset`` images (``clean_subset`` once). The ``matched`` analysis evaluates one
    checkpoint of each run again on ``clean_subset`` and ``corruptions``: counted once per run.
    """
    subset = cfg.data.corruption_subset
    per_family = {"clean": _test_images(cfg), "clean_subset": subset,
                  "corruptions": len(BENCHMARK) * len(SEVERITIES) * subset,
                  "corruptions_extra": len(EXTRA) * len(SEVERITIES) * subset}
    images = sum(per_family.get(f, 0) for f in families)
    if "matched" in analyses:
        images += per_family["clean_subset"] + per_family["corruptions"]
    return images


def evaluation_seconds(cfg: RunConfig, scale: str, families: Sequence[str], analyses: Sequence[str] = (),
                       times: Optional[StepTimes] = None) -> float:
    """Measured cost of :func:`evaluation_images` at embedded scale (0 without a table, and at paper scale)."""
    times = times if times is not None else measured_step_times()
    if check_scale(scale) != EMBEDDED or times is None or cfg.objective is Objective.MAE:
        return 0.0
    return evaluation_images(cfg, families, analyses) * times.eval_image_seconds.get(rate_key(cfg), 0.0)


def format_cost(seconds: float, scale: str) -> str:
    """Minutes at embedded scale (2 CPU cores), GPU-hours at paper scale."""
    if scale == EMBEDDED:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.0f} GPU-h"
