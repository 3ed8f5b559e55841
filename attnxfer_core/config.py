"""Typed run configuration.

One :class:`RunConfig` describes one run completely. It is built from defaults,
changed with dotted ``key=value`` overrides (:func:`apply_overrides`), checked by
:func:`attnxfer_core.validate.validate_config`, written beside the run's results as
``config.json`` and hashed into the run id (:func:`run_id`). Fields that do not
change what a run computes (where it is written, threads, progress display) live
in :class:`ExecConfig` and are left out of the id.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import ConfigError
from .modes import Mode


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
    img_size: Optional[int] = None
    patch_size: Optional[int] = 4
    in_chans: Optional[int] = None
    embed_dim: Optional[int] = 192
    depth: Optional[int] = 6
    num_heads: Optional[int] = 3
    mlp_ratio: Optional[float] = None
    drop_path: float = 0.0
    global_pool: Optional[str] = None


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "fashion_mnist"
    root: Optional[str] = None  # dataset directory; None: the dataset's default / env var
    train_subset: Optional[int] = None  # labelled training images used (class-balanced)
    eval_subset: Optional[int] = None  # evaluation images used (first N, class-balanced)
    subset_seed: int = 0
    eval_batch_size: int = 256
    corruption_subset: int = 2000  # test images (class-balanced) that corrupted evaluation sets are made from


@dataclass(frozen=True)
class AugmentConfig:
    crop_padding: int = 4  # random translation by up to this many pixels (tensor datasets)
    hflip: bool = True
    mixup: float = 0.0  # mixup alpha; 0 disables
    cutmix: float = 0.0  # cutmix alpha; 0 disables
    mixup_prob: float = 1.0
    label_smoothing: float = 0.1
    randaug: str = ""  # timm auto-augment string for ImageFolder data, e.g. rand-m9-mstd0.5-inc1
    random_erasing: float = 0.0  # ImageFolder data only


@dataclass(frozen=True)
class OptimConfig:
    epochs: int = 10
    warmup_epochs: float = 1.0
    batch_size: int = 128
    blr: float = 5e-4  # base lr; lr = blr * batch_size / 256 unless lr is given
    lr: Optional[float] = None
    min_lr: float = 1e-6
    weight_decay: float = 0.05
    layer_decay: float = 1.0  # layer-wise lr decay (1.0: off)
    beta1: float = 0.9
    beta2: float = 0.999
    clip_grad: Optional[float] = None
    ema_decay: Optional[float] = None  # e.g. 0.9999; evaluation then also reports the EMA

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else self.blr * self.batch_size / 256


@dataclass(frozen=True)
class TransferConfig:
    """Which attention moves from teacher to student, where, and how strongly."""

    mode: Mode = Mode.SCRATCH
    # Layer grammar: default | all | none | first:K | last:K | i,j,k (negatives count from the end).
    # default: copy modes all layers; distill modes the first three quarters (depth - depth//4).
    layers: str = "default"
    heads: str = "all"  # same grammar as layers (without default), applied in every transferred layer
    layer_heads: str = ""  # per-layer head override: "L=h,h;L=h" (L in student layer indices)
    weight: float = 3.0  # distillation loss weight (lambda)
    shared_drop_path: bool = True  # teacher uses the student's drop-path masks in training
    layer_map: str = ""  # "s=t,s=t": student layer s learns from teacher layer t (depths may differ)
    head_map: tuple[int, ...] = ()  # teacher head for each student head (head counts may differ)
    # The frozen teacher's forward precision. bf16 is faster on CPUs with bf16 units and on GPUs,
    # and perturbs the teacher's maps at bf16 rounding level; fp32 is the exact recipe.
    teacher_precision: Precision = Precision.FP32
    average: MapAverage = MapAverage.NONE  # map modes only: average teacher maps before transfer


@dataclass(frozen=True)
class MAEConfig:
    mask_ratio: float = 0.75
    decoder_dim: int = 128
    decoder_depth: int = 2
    decoder_heads: int = 4
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
    seed: int = 0


@dataclass(frozen=True)
class TeacherConfig:
    source: TeacherSource = TeacherSource.NONE
    name: str = ""  # timm source: pretrained model name, e.g. vit_large_patch16_224.mae
    path: str = ""  # file source: checkpoint path
    model: ModelConfig = field(default_factory=ModelConfig)  # architecture (file, random, pretrain)
    init_seed: int = 0  # random source: initialisation seed
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)


@dataclass(frozen=True)
class ExecConfig:
    """How a run executes; none of this changes its results, so none of it enters the run id."""

    runs_root: str = "runs"
    run_dir: str = ""  # explicit run directory; default: <runs_root>/<run id>
    device: str = "auto"  # auto | cpu | cuda
    threads: Optional[int] = None  # torch intra-op threads; None: torch's default
    data_workers: int = 4  # ImageFolder loader processes
    progress: Optional[bool] = None  # progress bar; None: only when stderr is a TTY
    checkpoint_every_steps: int = 0  # 0: checkpoint at the end of every epoch only
    stop_after_steps: Optional[int] = None  # stop (resumably) after this global step: for tests
    force: bool = False  # allow writing into a finished run directory (restarts it)
    shift_root: str = "/datasets"  # where shifted evaluation sets live (imagenet-v2, -sketch, -a, -r, -c)
    cache_root: str = ""  # generated evaluation sets (corruptions); default: <runs_root>/.cache


@dataclass(frozen=True)
class RunConfig:
    objective: Objective = Objective.CLASSIFY
    seed: int = 0
    precision: Precision = Precision.FP32
    eval_every: int = 1  # evaluate every N epochs (and always after the last)
    log_every: int = 50  # training-loss records, averaged over the steps between them
    save_eval_weights: bool = False  # keep the weights of every evaluation (for matched-accuracy comparisons)
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


# ---------------------------------------------------------------------------
# dict round trip and ids


@functools.lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.lru_cache(maxsize=None)
def _section_names(cls: type) -> tuple[str, ...]:
    """Fields of ``cls`` that are themselves config dataclasses."""
    hints = _hints(cls)
    return tuple(n for n in _field_names(cls) if dataclasses.is_dataclass(hints[n]))


def fields_of(cfg: Any) -> list[tuple[str, Any, bool]]:
    """(name, value, is a nested config section) for each field of a config."""
    sections = _section_names(type(cfg))
    return [(n, _normalised(type(cfg), n, getattr(cfg, n)), n in sections) for n in _field_names(type(cfg))]


@functools.lru_cache(maxsize=None)
def _is_config_class(cls: type) -> bool:
    # cached: hasattr on an Enum class goes through EnumType.__getattr__, slow enough to
    # dominate collecting thousands of runs
    return dataclasses.is_dataclass(cls)


def to_dict(cfg: Any) -> dict:
    """Plain JSON-ready dict of a config dataclass (enums become their values)."""
    if isinstance(cfg, enum.Enum):
        return cfg.value
    if _is_config_class(type(cfg)):
        return {name: to_dict(_normalised(type(cfg), name, getattr(cfg, name))) for name in _field_names(type(cfg))}
    if isinstance(cfg, tuple):
        return [to_dict(v) for v in cfg]
    return cfg


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """Rebuild a config dataclass from :func:`to_dict` output; unknown keys are errors."""
    if not isinstance(data, dict):
        raise ConfigError(prefix or cls.__name__, f"expected a mapping, got {type(data).__name__}")
    hints = _hints(cls)
    names = set(_field_names(cls))
    for key in data:
        if key not in names:
            raise ConfigError(f"{prefix}{key}", "unknown config key")
    kwargs = {}
    for name in names & set(data):
        kwargs[name] = _coerce(hints[name], data[name], f"{prefix}{name}")
    return cls(**kwargs)


_LEAF_BY_TYPE = {
    str: json.dumps,
    int: int.__repr__,
    float: float.__repr__,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
}


def _leaf_json(value: Any) -> str:
    """Compact JSON of a field value (what json.dumps gives, without its overhead)."""
    exact = _LEAF_BY_TYPE.get(type(value))
    if exact is not None:
        return exact(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, enum.Enum):
        return _leaf_json(value.value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, tuple):
        return "[" + ",".join(_leaf_json(v) for v in value) + "]"
    return json.dumps(value)


@functools.lru_cache(maxsize=None)
def _float_names(cls: type) -> frozenset[str]:
    """Fields declared float (or Optional[float]): an int written there canonicalises as a float."""
    hints = _hints(cls)
    return frozenset(n for n in _field_names(cls) if hints[n] is float or typing.get_args(hints[n]) == (float, type(None)))


def _normalised(cls: type, name: str, value: Any) -> Any:
    return float(value) if type(value) is int and name in _float_names(cls) else value


@functools.lru_cache(maxsize=None)
def _sorted_keys(cls: type) -> tuple[tuple[str, str, bool], ...]:
    """(field name, its JSON key, is a section) in sorted order."""
    sections = _section_names(cls)
    return tuple((n, json.dumps(n), n in sections) for n in sorted(_field_names(cls)))


def canonical_text(cfg: Any, skip: tuple[str, ...] = ()) -> str:
    """Sorted, compact JSON of a config. Configs are frozen, so each section's text is
    computed once and kept on the object: studies of thousands of runs that share
    most sections hash quickly."""
    cached = cfg.__dict__.get("_canonical") if not skip else None
    if cached is not None:
        return cached
    parts = []
    for name, key, is_section in _sorted_keys(type(cfg)):
        if name in skip:
            continue
        value = getattr(cfg, name)
        parts.append(key + ":" + (canonical_text(value) if is_section else _leaf_json(_normalised(type(cfg), name, value))))
    text = "{" + ",".join(parts) + "}"
    if not skip:
        object.__setattr__(cfg, "_canonical", text)
    return text


def canonical_json(cfg: RunConfig) -> str:
    """The config as the run id sees it: sorted JSON without execution settings."""
    return canonical_text(cfg, skip=("exec",))


def run_id(cfg: RunConfig) -> str:
    """Stable id: the objective/mode for humans plus a hash of the canonical config.
    Kept on the (frozen) config once computed: expansion, collection and status all ask."""
    cached = cfg.__dict__.get("_run_id")
    if cached is not None:
        return cached
    digest = hashlib.sha256(canonical_json(cfg).encode()).hexdigest()[:12]
    label = cfg.objective.value if cfg.objective is not Objective.CLASSIFY else cfg.transfer.mode.value
    rid = f"{label}-{digest}"
    object.__setattr__(cfg, "_run_id", rid)
    return rid


# ---------------------------------------------------------------------------
# overrides


def apply_overrides(cfg: Any, overrides: list[str]) -> Any:
    """Return ``cfg`` with dotted ``key=value`` overrides applied (configs are immutable).

    Values are parsed by the field's annotated type, so ``optim.lr=abc`` fails here
    with a message naming ``optim.lr`` instead of deep inside training.
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(item, "override must look like key=value")
        key, raw = item.split("=", 1)
        cfg = set_field(cfg, key.strip(), raw)
    return cfg


def set_field(cfg: Any, key: str, raw: Any) -> Any:
    """A copy of ``cfg`` with one dotted field set, ``raw`` (a string or a plain value) parsed
    by the field's type. Sections off the path are shared, not copied."""
    return _set_path(cfg, key.split("."), 0, raw, key)


def set_fields(cfg: Any, values: dict[str, Any]) -> Any:
    """:func:`set_field` for several keys at once, copying each touched section once."""
    tree: dict[str, Any] = {}
    for key, raw in values.items():
        parts = key.split(".")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(key, "conflicts with another key in the same update")
        node[parts[-1]] = (key, raw)
    return _apply_tree(cfg, tree, "")


def _apply_tree(obj: Any, tree: dict[str, Any], prefix: str) -> Any:
    cls = type(obj)
    names, sections = _field_names(cls), _section_names(cls)
    changes = {}
    for name, sub in tree.items():
        path = prefix + name
        if name not in names:
            raise ConfigError(path if isinstance(sub, dict) else sub[0], "unknown config key")
        if isinstance(sub, dict):
            if name not in sections:
                raise ConfigError(path, f"'{path}' is not a config section")
            changes[name] = _apply_tree(getattr(obj, name), sub, path + ".")
        else:
            key, raw = sub
            if name in sections:
                raise ConfigError(key, f"is a config section; set one of its fields (e.g. {key}.<field>=...)")
            changes[name] = _coerce(_hints(cls)[name], raw, key)
    return dataclasses.replace(obj, **changes)


def _set_path(obj: Any, parts: list[str], i: int, raw: Any, key: str) -> Any:
    name = parts[i]
    path = ".".join(parts[: i + 1])
    if not dataclasses.is_dataclass(obj) or name not in _field_names(type(obj)):
        raise ConfigError(path if i < len(parts) - 1 else key, "unknown config key")
    sections = _section_names(type(obj))
    if i == len(parts) - 1:
        if name in sections:
            raise ConfigError(key, f"is a config section; set one of its fields (e.g. {key}.<field>=...)")
        return dataclasses.replace(obj, **{name: _coerce(_hints(type(obj))[name], raw, key)})
    if name not in sections:
        raise ConfigError(key, f"'{path}' is not a config section")
    return dataclasses.replace(obj, **{name: _set_path(getattr(obj, name), parts, i + 1, raw, key)})


_NONE_WORDS = {"none", "null", "~"}
_TRUE_WORDS = {"true", "1", "yes", "on"}
_FALSE_WORDS = {"false", "0", "no", "off"}


def _coerce(tp: Any, raw: Any, key: str) -> Any:
    """Convert ``raw`` to type ``tp``; raises ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in _NONE_WORDS):
            return None
        return _coerce(inner[0], raw, key)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, raw, prefix=f"{key}.")
    if origin is tuple:
        items = raw
        if isinstance(raw, str):
            text = raw.strip().strip("[]()")
            items = [s for s in (p.strip() for p in text.split(",")) if s]
        if not isinstance(items, (list, tuple)):
            raise ConfigError(key, f"expected a list, got {raw!r}")
        return tuple(_coerce(args[0], item, key) for item in items)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(raw.strip() if isinstance(raw, str) else raw)
        except ValueError:
            choices = ", ".join(m.value for m in tp)
            raise ConfigError(key, f"unknown value {raw!r}; choose one of: {choices}") from None
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ConfigError(key, f"expected true/false, got {raw!r}")
    if tp is int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ConfigError(key, f"expected an integer, got {raw!r}")
        try:
            return int(raw) if not isinstance(raw, str) else int(raw.strip())
        except (TypeError, ValueError):
            raise ConfigError(key, f"expected an integer, got {raw!r}") from None
    if tp is float:
        if isinstance(raw, bool):
            raise ConfigError(key, f"expected a number, got {raw!r}")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(key, f"expected a number, got {raw!r}") from None
        if math.isnan(value) or math.isinf(value):
            raise ConfigError(key, f"expected a finite number, got {raw!r}")
        return value
    if tp is str:
        if not isinstance(raw, str):
            raise ConfigError(key, f"expected a string, got {raw!r}")
        return raw
    raise ConfigError(key, f"unsupported config type {tp!r}")
