"""The two scales every study runs at.

``embedded``: Fashion-MNIST from Debian, a small ViT, minutes on two CPU cores;
how a newcomer sees the whole suite work. ``paper``: ImageNet-layout data, the
paper's ViT-L/16 recipes from the shared notes, on GPUs through SLURM.
Both are plain :class:`RunConfig` values, so both go through the same code.
Configs are immutable, so the presets are built once and shared.
"""
from __future__ import annotations

import dataclasses
import functools

from attnxfer_core.config import (
    AugmentConfig,
    DataConfig,
    MAEConfig,
    ModelConfig,
    OptimConfig,
    PretrainConfig,
    PretrainMethod,
    RunConfig,
    TeacherConfig,
    TeacherSource,
    TransferConfig,
)
from attnxfer_core.modes import Kind, Mode, spec_of

# --- embedded ------------------------------------------------------------------------

EMBEDDED_MODEL = ModelConfig(arch="vit_tiny_patch16_224", patch_size=4, embed_dim=64, depth=4, num_heads=4)
EMBEDDED_STUDENT_IMAGES = 5000  # labelled images a student sees: scratch training is data-hungry


@functools.lru_cache(maxsize=None)
def embedded_teacher(method: PretrainMethod = PretrainMethod.SUPERVISED,
                     dataset: str = "fashion_mnist") -> TeacherConfig:
    """A teacher the suite pretrains itself on the full training split."""
    if method is PretrainMethod.MAE:
        optim = OptimConfig(epochs=4, warmup_epochs=0.5, batch_size=128, lr=1.5e-3, weight_decay=0.05, beta2=0.95)
        augment = AugmentConfig(crop_padding=2, hflip=dataset == "fashion_mnist", label_smoothing=0.0)
    else:
        optim = OptimConfig(epochs=1, warmup_epochs=0.1, batch_size=64, lr=1e-3, weight_decay=0.05)
        augment = AugmentConfig(crop_padding=0, hflip=False, label_smoothing=0.1)
    return TeacherConfig(
        source=TeacherSource.PRETRAIN,
        model=EMBEDDED_MODEL,
        pretrain=PretrainConfig(method=method, data=DataConfig(dataset=dataset), optim=optim, augment=augment,
                                mae=MAEConfig(decoder_dim=64, decoder_depth=2, decoder_heads=4)),
    )


@functools.lru_cache(maxsize=None)
def embedded(mode: Mode = Mode.SCRATCH, seed: int = 0) -> RunConfig:
    """A student run at embedded scale; transfer modes learn from the supervised embedded teacher."""
    spec = spec_of(mode)
    return RunConfig(
        seed=seed,
        data=DataConfig(dataset="fashion_mnist", train_subset=EMBEDDED_STUDENT_IMAGES),
        augment=AugmentConfig(crop_padding=2, hflip=True, label_smoothing=0.1),
        student=EMBEDDED_MODEL,
        teacher=embedded_teacher() if spec.needs_teacher else TeacherConfig(),
        transfer=TransferConfig(mode=mode),
        optim=OptimConfig(epochs=6, warmup_epochs=1, batch_size=64, lr=1e-3 if not spec.init_from_teacher else 5e-4,
                          weight_decay=0.05),
        eval_every=6,
        log_every=10,
    )


# --- paper ---------------------------------------------------------------------------

PAPER_MODEL = ModelConfig(arch="vit_large_patch16_224", img_size=224, patch_size=None, in_chans=None,
                          embed_dim=None, depth=None, num_heads=None, global_pool="avg")
PAPER_TEACHER = "vit_large_patch16_224.mae"
PAPER_AUGMENT = AugmentConfig(crop_padding=0, hflip=True, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                              randaug="rand-m9-mstd0.5-inc1", random_erasing=0.25)
EFFECTIVE_BATCH = 2048


def paper_optim(kind: Kind | None) -> OptimConfig:
    """The recipe table of the shared notes (effective batch 2048, EMA 0.9999)."""
    if kind is Kind.COPY:
        return OptimConfig(epochs=100, warmup_epochs=5, batch_size=EFFECTIVE_BATCH, blr=1e-3, min_lr=2e-3,
                           layer_decay=0.75, beta2=0.999, weight_decay=0.05, ema_decay=0.9999)
    return OptimConfig(epochs=200, warmup_epochs=20, batch_size=EFFECTIVE_BATCH, blr=1e-4, min_lr=1e-6,
                       layer_decay=1.0, beta2=0.95, weight_decay=0.3, ema_decay=0.9999)


@functools.lru_cache(maxsize=None)
def paper(mode: Mode = Mode.SCRATCH, seed: int = 0, data_root: str = "/datasets/imagenet") -> RunConfig:
    """A student run at paper scale: ViT-L/16 on ImageNet-1k with the MAE teacher.

    Copy uses the copy recipe; distillation, scratch and fine-tuning the
    distillation recipe (drop path 0.2). Fine-tuning and scratch recipes beyond
    these are not in the shared notes: they reuse the distillation column.
    """
    spec = spec_of(mode)
    drop_path = 0.0 if spec.kind is Kind.COPY else 0.2
    model = dataclasses.replace(PAPER_MODEL, drop_path=drop_path)
    return RunConfig(
        seed=seed,
        data=DataConfig(dataset="imagefolder", root=data_root, eval_batch_size=256),
        augment=PAPER_AUGMENT,
        student=model,
        teacher=TeacherConfig(source=TeacherSource.TIMM, name=PAPER_TEACHER) if spec.needs_teacher else TeacherConfig(),
        transfer=TransferConfig(mode=mode),
        optim=paper_optim(spec.kind),
        eval_every=10,
    )
