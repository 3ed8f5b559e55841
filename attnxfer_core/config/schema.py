"""The typed run configuration: what one run is.

One :class:`RunConfig` describes one run completely. It is built from defaults,
changed with dotted ``key=value`` overrides (:mod:`.overrides`), checked by
:func:`attnxfer_core.config.validate.validate_config`, written beside the run's
results as ``config.json`` and hashed into the run id (:mod:`.codec`). Fields that
do not change what a run computes (where it is written, progress display), or change
only its round-off (device, attention path, CPU threads: each is recorded in the
run's summary), live in :class:`ExecConfig` and are left out of the id.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

from attnxfer_core.config.bounds import bounded
from attnxfer_core.modes import Mode


class Precision(str, enum.Enum):
    FP32 = "fp32"
    BF16 = "bf16"  # autocast to bfloat16 for the forward pass; master weights stay fp32


class Objective(str, enum.Enum):
    CLASSIFY = "classify"  # supervised classification, with or without attention transfer
    MAE = "mae"  # masked-autoencoder pretraining of a teacher encoder


class TeacherSource(str, enum.Enum):
    NONE = "none"  # no teacher (scratch)
    TIMM = "timm"  # timm pretrained weights by name (needs the hub or a local cache)
    FILE = "file"  # a local checkpoint: timm state dict, safetensors, or MAE {'model': ...}
    RANDOM = "random"  # a randomly initialised teacher: the control
    PRETRAIN = "pretrain"  # pretrained by this suite (MAE or supervised), cached as its own run


class MapAverage(str, enum.Enum):
    """Ablation (paper appendix): average the teacher's maps before transferring them."""

    NONE = "none"
    EXAMPLES = "examples"  # one map per layer/head, shared by every image of the batch
    QUERIES = "queries"  # every query token gets the same key distribution


DEVICES = ("auto", "cpu", "cuda")
# how map transfer computes attention: auto = "sdpa" on CUDA, "maps" on the CPU (see transfer.model)
ATTENTION_PATHS = ("auto", "maps", "sdpa")
# Upper ends of model shapes: far beyond any ViT, short of sizes that overflow before timm can refuse them.
MAX_SIZE, MAX_WIDTH, MAX_COUNT = 16384, 65536, 4096
GLOBAL_POOLS = ("", "token", "avg", "max", "avgmax", "map")  # what timm's VisionTransformer takes

# Field metadata for fields added after run ids were first published: the run id leaves such a field
# out while it holds its default, so adding it changed no existing run's id (see ``codec.canonical_text``).
ADDED_LATER = {"id_omits_default": True}


class Interpolation(str, enum.Enum):
    """How ImageFolder crops and resizes are resampled."""

    BILINEAR = "bilinear"  # timm's create_transform default
    BICUBIC = "bicubic"  # MAE's and the attention-transfer code's


class ErasingMode(str, enum.Enum):
    """What random erasing fills a box with (timm's modes)."""

    CONST = "const"  # zeros: timm's default
    RAND = "rand"  # one normal draw per channel
    PIXEL = "pixel"  # a normal draw per pixel: MAE's and the attention-transfer code's


class LayerDecayGroups(str, enum.Enum):
    """How layer-wise lr decay numbers the layers of a depth-D ViT.

    TIMM: D + 1 groups above the embeddings, the head alone at scale 1, the last block at decay (timm's and
    MAE's fine-tuning). RELEASED: D groups, the last block at scale 1 with the head, every block one power of
    decay higher than TIMM (the attention-transfer authors' released code).
    """

    TIMM = "timm"
    RELEASED = "released"


class PretrainMethod(str, enum.Enum):
    SUPERVISED = "supervised"
    MAE = "mae"


@dataclass(frozen=True)
class ModelConfig:
    """A timm Vision Transformer: an architecture name and the shape fields to override.

    ``None`` keeps the architecture's default, except ``img_size`` and ``in_chans``,
    which then follow the dataset.
    """

    arch: str = "vit_tiny_patch16_224"
    img_size: Optional[int] = bounded(None, ge=1, le=MAX_SIZE)
    patch_size: Optional[int] = bounded(4, ge=1, le=MAX_SIZE)
    in_chans: Optional[int] = bounded(None, ge=1, le=MAX_COUNT)
    embed_dim: Optional[int] = bounded(192, ge=1, le=MAX_WIDTH)
    depth: Optional[int] = bounded(6, ge=1, le=MAX_COUNT)
    num_heads: Optional[int] = bounded(3, ge=1, le=MAX_COUNT)
    mlp_ratio: Optional[float] = bounded(None, gt=0, le=MAX_COUNT)
    drop_path: float = bounded(0.0, ge=0, lt=1)
    global_pool: Optional[str] = bounded(None, choices=GLOBAL_POOLS)  # "map": attention pool, as SigLIP
    # Components of other ViT families, as timm's VisionTransformer takes them (None: the arch's default).
    class_token: Optional[bool] = field(default=None, metadata=ADDED_LATER)
    reg_tokens: Optional[int] = bounded(None, metadata=ADDED_LATER, ge=0, le=MAX_COUNT)  # register tokens (DINOv2-reg)
    no_embed_class: Optional[bool] = field(default=None, metadata=ADDED_LATER)  # no pos. embedding on prefix
    init_values: Optional[float] = bounded(None, metadata=ADDED_LATER, gt=0)  # layer scale's initial value
    qk_norm: Optional[bool] = field(default=None, metadata=ADDED_LATER)  # LayerNorm on q and k per head
    pre_norm: Optional[bool] = field(default=None, metadata=ADDED_LATER)  # LayerNorm before block 0 (CLIP)


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "fashion_mnist"
    root: Optional[str] = None  # dataset directory; None: the dataset's default / env var
    train_subset: Optional[int] = bounded(None, ge=1)  # labelled training images used (class-balanced)
    eval_subset: Optional[int] = bounded(None, ge=1)  # evaluation images used (first N, class-balanced)
    subset_seed: int = bounded(0, ge=0)
    # Training images held out (class-balanced, the same split for every run) for the evaluations during
    # training; the test set is then read once, at the end. 0: evaluate on the test set during training.
    val_size: int = bounded(0, ge=0)
    eval_batch_size: int = bounded(256, ge=1)
    # test images (class-balanced) that corrupted evaluation sets are made from
    corruption_subset: int = bounded(2000, ge=1)


@dataclass(frozen=True)
class AugmentConfig:
    crop_padding: int = bounded(4, ge=0)  # random translation by up to this many pixels (tensor datasets)
    hflip: bool = True
    mixup: float = bounded(0.0, ge=0)  # mixup alpha; 0 disables
    cutmix: float = bounded(0.0, ge=0)  # cutmix alpha; 0 disables
    mixup_prob: float = bounded(1.0, ge=0, le=1)
    label_smoothing: float = bounded(0.1, ge=0, lt=1)
    randaug: str = ""  # timm auto-augment string for ImageFolder data, e.g. rand-m9-mstd0.5-inc1
    random_erasing: float = bounded(0.0, ge=0, le=1)  # ImageFolder data only
    interpolation: Interpolation = field(default=Interpolation.BILINEAR, metadata=ADDED_LATER)  # ImageFolder only
    erasing_mode: ErasingMode = field(default=ErasingMode.CONST, metadata=ADDED_LATER)  # ImageFolder only


@dataclass(frozen=True)
class OptimConfig:
    epochs: int = bounded(10, ge=1)
    warmup_epochs: float = bounded(1.0, ge=0)  # and <= epochs
    batch_size: int = bounded(128, ge=1)  # the effective batch of one optimizer step, over all processes
    # images per process in one forward/backward: each process's share of batch_size is accumulated over
    # share / micro_batch of them (None: one pass). Chosen to fit the GPU; see attnxfer plan.
    micro_batch: Optional[int] = bounded(None, metadata=ADDED_LATER, ge=1)
    blr: float = bounded(5e-4, gt=0)  # base lr; lr = blr * batch_size / 256 unless lr is given
    lr: Optional[float] = bounded(None, gt=0)
    min_lr: float = bounded(1e-6, ge=0)
    weight_decay: float = bounded(0.05, ge=0)
    layer_decay: float = bounded(1.0, gt=0, le=1)  # layer-wise lr decay (1.0: off)
    layer_decay_groups: LayerDecayGroups = field(default=LayerDecayGroups.TIMM, metadata=ADDED_LATER)
    beta1: float = bounded(0.9, ge=0, lt=1)
    beta2: float = bounded(0.999, ge=0, lt=1)
    clip_grad: Optional[float] = bounded(None, gt=0)
    ema_decay: Optional[float] = bounded(None, gt=0, lt=1)  # e.g. 0.9999; evaluation then also reports the EMA

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else self.blr * self.batch_size / 256

    def split(self, processes: int) -> tuple[int, int]:
        """(images per forward/backward, passes accumulated per step) on each of ``processes``."""
        share = self.batch_size // processes
        micro = self.micro_batch or share
        return micro, share // micro


@dataclass(frozen=True)
class TransferConfig:
    """Which attention moves from teacher to student, where, and how strongly."""

    mode: Mode = Mode.SCRATCH
    # Layer grammar: default | released | all | none | first:K | last:K | i,j,k (negatives count from the end).
    # default (the public README's recipe): copy modes all layers; distill modes the first three quarters
    # (depth - depth//4). released (what the authors' released code ran): the first depth - 3, for both.
    layers: str = "default"
    heads: str = "all"  # same grammar as layers (without default), applied in every transferred layer
    layer_heads: str = ""  # per-layer head override: "L=h,h;L=h" (L in student layer indices)
    weight: float = bounded(3.0, ge=0)  # distillation loss weight (lambda)
    shared_drop_path: bool = True  # teacher uses the student's drop-path masks in training
    layer_map: str = ""  # "s=t,s=t": student layer s learns from teacher layer t (depths may differ)
    head_map: tuple[int, ...] = bounded((), ge=0)  # teacher head for each student head (head counts may differ)
    # The frozen teacher's forward precision. bf16 is faster on CPUs with bf16 units and on GPUs,
    # and perturbs the teacher's maps at bf16 rounding level; fp32 is the exact recipe.
    teacher_precision: Precision = Precision.FP32
    average: MapAverage = MapAverage.NONE  # map modes only: average teacher maps before transfer


@dataclass(frozen=True)
class MAEConfig:
    mask_ratio: float = bounded(0.75, gt=0, lt=1)
    decoder_dim: int = bounded(128, ge=1, le=MAX_WIDTH)
    decoder_depth: int = bounded(2, ge=1, le=MAX_COUNT)
    decoder_heads: int = bounded(4, ge=1, le=MAX_COUNT)
    norm_pix_loss: bool = True


@dataclass(frozen=True)
class PretrainConfig:
    """How the suite pretrains a teacher of its own (``teacher.source=pretrain``)."""

    method: PretrainMethod = PretrainMethod.SUPERVISED
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    mae: MAEConfig = field(default_factory=MAEConfig)
    precision: Precision = Precision.FP32
    seed: int = bounded(0, ge=0)


@dataclass(frozen=True)
class TeacherConfig:
    source: TeacherSource = TeacherSource.NONE
    name: str = ""  # timm source: pretrained model name, e.g. vit_large_patch16_224.mae
    path: str = ""  # file source: checkpoint path
    model: ModelConfig = field(default_factory=ModelConfig)  # architecture (file, random, pretrain)
    init_seed: int = bounded(0, ge=0)  # random source: initialisation seed
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)


@dataclass(frozen=True)
class ExecConfig:
    """How a run executes; none of this changes its results, so none of it enters the run id."""

    runs_root: str = "runs"
    run_dir: str = ""  # explicit run directory; default: <runs_root>/<run id>
    device: str = bounded("auto", choices=DEVICES)
    # Map copy/distillation through fused attention kernels ("sdpa", no N x N maps) or materialised fp32 maps
    # ("maps"); the same mathematics, different round-off, as a different device gives. auto: sdpa on CUDA.
    attention: str = bounded("auto", choices=ATTENTION_PATHS)
    # torch.compile the training forward (student with its teacher): fewer kernel launches and less Python per
    # layer on a GPU; the first steps pay the compilation. Round-off differs from eager, as another device's does.
    compile: bool = False
    # torch intra-op threads; None: torch's default (the CPUs the process may use). On the CPU the count changes
    # round-off, as another device does: a run resumed with a different count warns, and its summary lists both.
    threads: Optional[int] = bounded(None, ge=1)
    data_workers: int = bounded(4, ge=0)  # ImageFolder loader processes
    progress: Optional[bool] = None  # progress bar; None: only when stderr is a TTY
    checkpoint_every_steps: int = bounded(0, ge=0)  # 0: checkpoint at the end of every epoch only
    stop_after_steps: Optional[int] = bounded(None, ge=1)  # stop (resumably) after this global step: for tests
    force: bool = False  # allow writing into a finished run directory (restarts it)
    shift_root: str = "/datasets"  # where shifted evaluation sets live (imagenet-v2, -sketch, -a, -r, -c)
    # Finished runs that ship with the repository (the embedded MAE teacher): installed instead of trained
    # when their recipe matches. "": <checkout>/results/teachers.
    shipped_root: str = ""
    # Finished runs whose records (config, summary, metrics; no weights) the repository carries between
    # machines (attnxfer carry): installed as finished when their recipe matches. "": <checkout>/results/carried.
    carried_root: str = ""
    cache_root: str = ""  # generated evaluation sets (corruptions); default: <runs_root>/.cache
    tensorboard: bool = True  # TensorBoard event files in RUN/tensorboard/, mirroring metrics.jsonl
    wandb: bool = False  # also an offline W&B run keyed by the run id (WANDB_PROJECT, WANDB_MODE respected)


@dataclass(frozen=True)
class RunConfig:
    objective: Objective = Objective.CLASSIFY
    seed: int = bounded(0, ge=0)
    precision: Precision = Precision.FP32
    eval_every: int = bounded(1, ge=1)  # evaluate every N epochs (and always after the last)
    log_every: int = bounded(50, ge=1)  # training-loss records, averaged over the steps between them
    save_eval_weights: bool = False  # keep the weights of every evaluation (for matched-accuracy comparisons)
    # With a validation split (data.val_size): read the test set once after training. A pilot that must
    # never see the test set sets this false.
    test_at_end: bool = True
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    student: ModelConfig = field(default_factory=ModelConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    # The student's starting weights (same sources as a teacher); source=none: random init.
    # Fine-tuning ignores this and starts from the teacher.
    init: TeacherConfig = field(default_factory=TeacherConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    mae: MAEConfig = field(default_factory=MAEConfig)
    exec: ExecConfig = field(default_factory=ExecConfig)
