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
    ErasingMode,
    Interpolation,
    LayerDecayGroups,
    MAEConfig,
    ModelConfig,
    OptimConfig,
    Precision,
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
EMBEDDED_VAL_IMAGES = 2000  # training images held out for the per-epoch curves (the test set is read once)
EMBEDDED_STUDENT_IMAGES = 10_000  # labelled images a student trains on, drawn from the remaining 58,000


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of the paper's recipe table, at embedded scale.

    The paper trains fine-tuning 50 epochs, copy 100, distillation (and scratch) 200;
    here each is a tenth. Copy and fine-tuning use layer-wise lr decay, as MAE
    fine-tuning does; distillation and scratch use the distillation column's
    beta2 0.95 and weight decay 0.3. Student drop path is shared with the teacher.
    """

    epochs: int
    warmup_epochs: float
    lr: float
    weight_decay: float
    layer_decay: float
    beta2: float
    drop_path: float

    def optim(self, batch_size: int) -> OptimConfig:
        return OptimConfig(epochs=self.epochs, warmup_epochs=self.warmup_epochs, batch_size=batch_size, lr=self.lr,
                           min_lr=1e-5, weight_decay=self.weight_decay, layer_decay=self.layer_decay, beta2=self.beta2)


EMBEDDED_BATCH = 128
EMBEDDED_COLUMNS = {
    "distill": Column(epochs=20, warmup_epochs=2.0, lr=1e-3, weight_decay=0.3, layer_decay=1.0, beta2=0.95,
                      drop_path=0.1),
    "copy": Column(epochs=10, warmup_epochs=0.5, lr=1e-3, weight_decay=0.05, layer_decay=0.75, beta2=0.999,
                   drop_path=0.0),
    "finetune": Column(epochs=5, warmup_epochs=0.5, lr=1e-3, weight_decay=0.05, layer_decay=0.75, beta2=0.999,
                       drop_path=0.1),
}


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much training an embedded student gets: labelled images and each column's epochs.

    ``full`` is the recipe of the pre-registered main replication (one seed of its four
    methods costs about 26 minutes on 2 cores). ``short`` gives the ablation studies a fifth
    of it (half the labelled images, 0.4 of the epochs, warm-up in proportion) so that a whole
    study fits in about 45 minutes; the columns' ratios (distill = scratch > copy > fine-tune),
    learning rates and regularisation are the full recipe's. Numbers from the two budgets are
    never compared with each other: a study uses one.
    """

    name: str
    student_images: int
    epochs: tuple[tuple[str, int], ...]  # (column, epochs)

    def column(self, name: str) -> Column:
        full = EMBEDDED_COLUMNS[name]
        epochs = dict(self.epochs)[name]
        return dataclasses.replace(full, epochs=epochs, warmup_epochs=full.warmup_epochs * epochs / full.epochs)


def budget_of(cfg: RunConfig) -> str:
    """The budget an embedded student run was built at (by its labelled images and epochs), or "other"."""
    column = column_of(cfg.transfer.mode)
    for budget in BUDGETS.values():
        if cfg.data.train_subset == budget.student_images and cfg.optim.epochs == dict(budget.epochs)[column]:
            return budget.name
    return "other"


FULL = Budget("full", EMBEDDED_STUDENT_IMAGES, (("distill", 20), ("copy", 10), ("finetune", 5)))
SHORT = Budget("short", EMBEDDED_STUDENT_IMAGES // 2, (("distill", 8), ("copy", 4), ("finetune", 2)))
BUDGETS = {b.name: b for b in (FULL, SHORT)}


def column_of(mode: Mode) -> str:
    """Fine-tuning has its own column; copy modes the copy column; scratch and distillation modes the distillation
    column (scratch gets distillation's budget, as in the paper)."""
    spec = spec_of(mode)
    if spec.init_from_teacher:
        return "finetune"
    return "copy" if spec.kind is Kind.COPY else "distill"


@functools.lru_cache(maxsize=None)
def embedded_teacher(method: PretrainMethod = PretrainMethod.MAE, dataset: str = "fashion_mnist") -> TeacherConfig:
    """A teacher the suite pretrains itself on the training images (all but the validation split).

    MAE (the default, as in the paper) sees no labels: students later train on a labelled subset of the
    same images. The supervised teacher (the ``teachers`` study's alternative) learns from all their labels.
    """
    val = EMBEDDED_VAL_IMAGES if dataset == "fashion_mnist" else 0
    if method is PretrainMethod.MAE:
        optim = OptimConfig(epochs=40, warmup_epochs=4, batch_size=256, lr=1.5e-3, min_lr=1e-5, weight_decay=0.05,
                            beta2=0.95)
        augment = AugmentConfig(crop_padding=2, hflip=dataset == "fashion_mnist", label_smoothing=0.0)
    else:
        optim = OptimConfig(epochs=1, warmup_epochs=0.1, batch_size=64, lr=1e-3, weight_decay=0.05)
        augment = AugmentConfig(crop_padding=0, hflip=False, label_smoothing=0.1)
    return TeacherConfig(
        source=TeacherSource.PRETRAIN,
        model=EMBEDDED_MODEL,
        pretrain=PretrainConfig(method=method, data=DataConfig(dataset=dataset, val_size=val), optim=optim,
                                augment=augment, mae=MAEConfig(decoder_dim=64, decoder_depth=2, decoder_heads=4)),
    )


@functools.lru_cache(maxsize=None)
def embedded(mode: Mode = Mode.SCRATCH, seed: int = 0, budget: Budget = FULL) -> RunConfig:
    """A student run at embedded scale: its recipe column at ``budget``, the MAE teacher, per-epoch
    validation curves."""
    spec = spec_of(mode)
    column = budget.column(column_of(mode))
    return RunConfig(
        seed=seed,
        data=DataConfig(dataset="fashion_mnist", train_subset=budget.student_images, val_size=EMBEDDED_VAL_IMAGES),
        augment=AugmentConfig(crop_padding=2, hflip=True, label_smoothing=0.1),
        student=dataclasses.replace(EMBEDDED_MODEL, drop_path=column.drop_path),
        teacher=embedded_teacher() if spec.needs_teacher else TeacherConfig(),
        transfer=TransferConfig(mode=mode),
        optim=column.optim(EMBEDDED_BATCH),
        eval_every=1,
        log_every=20,
    )


# --- paper ---------------------------------------------------------------------------

PAPER_MODEL = ModelConfig(arch="vit_large_patch16_224", img_size=224, patch_size=None, in_chans=None,
                          embed_dim=None, depth=None, num_heads=None, global_pool="avg")
PAPER_TEACHER = "vit_large_patch16_224.mae"
# Bicubic resampling and per-pixel random erasing, as MAE's and the attention-transfer code's transforms
PAPER_AUGMENT = AugmentConfig(crop_padding=0, hflip=True, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                              randaug="rand-m9-mstd0.5-inc1", random_erasing=0.25,
                              interpolation=Interpolation.BICUBIC, erasing_mode=ErasingMode.PIXEL)
EFFECTIVE_BATCH = 2048
FINETUNE_BATCH = 1024  # MAE's ViT-L fine-tuning
MICRO_BATCH = 32  # images per GPU per forward/backward, as the authors ran ViT-L (64 GPUs x 32)


def paper_optim(mode: Mode) -> OptimConfig:
    """The recipe a paper-scale run of ``mode`` trains with (in micro-batches of 32 images per GPU,
    accumulated to the effective batch over however many GPUs the run gets).

    Copy and distillation (and scratch, on distillation's column): the shared notes' recipe table, effective
    batch 2048, EMA 0.9999; copy's layer-wise decay groups the layers as the released code does. Fine-tuning
    (the Table 1 baseline): MAE's ViT-L fine-tuning recipe, 50 epochs with 5 of warm-up, base lr 1e-3 at batch
    1024, layer decay 0.75 grouped as MAE groups it, weight decay 0.05, beta2 0.999, no EMA.
    """
    spec = spec_of(mode)
    if spec.init_from_teacher:
        return OptimConfig(epochs=50, warmup_epochs=5, batch_size=FINETUNE_BATCH, micro_batch=MICRO_BATCH, blr=1e-3,
                           min_lr=1e-6, layer_decay=0.75, beta2=0.999, weight_decay=0.05)
    if spec.kind is Kind.COPY:
        return OptimConfig(epochs=100, warmup_epochs=5, batch_size=EFFECTIVE_BATCH, micro_batch=MICRO_BATCH, blr=1e-3,
                           min_lr=2e-3, layer_decay=0.75, layer_decay_groups=LayerDecayGroups.RELEASED, beta2=0.999,
                           weight_decay=0.05, ema_decay=0.9999)
    return OptimConfig(epochs=200, warmup_epochs=20, batch_size=EFFECTIVE_BATCH, micro_batch=MICRO_BATCH, blr=1e-4,
                       min_lr=1e-6, layer_decay=1.0, beta2=0.95, weight_decay=0.3, ema_decay=0.9999)


@functools.lru_cache(maxsize=None)
def paper(mode: Mode = Mode.SCRATCH, seed: int = 0, data_root: str = "/datasets/imagenet") -> RunConfig:
    """A student run at paper scale: ViT-L/16 on ImageNet-1k with the MAE teacher.

    Recipes by :func:`paper_optim`; drop path 0.2 except copy (0). Copy and distillation
    transfer the layers the released code ran (``released``: the first 21 of 24), not its
    README's (all / 18): ``transfer.layers=default`` switches to those.

    Runs train under bf16 autocast, the teacher's forward included: the authors' code trains
    in mixed precision (fp16 autocast with a loss scaler), and bf16 is its scaler-free form on
    the GPUs this scale targets. It is also what makes the scale affordable: a plain ViT-B/16
    step ran 5.5x faster than in fp32 on an H200 (results/perf/gpu_bench.json). ``precision=fp32``
    switches it off; the attention losses are computed in fp32 either way.
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
        transfer=TransferConfig(mode=mode, layers="released" if spec.transfers else "default"),
        optim=paper_optim(mode),
        eval_every=10,
        precision=Precision.BF16,
    )
