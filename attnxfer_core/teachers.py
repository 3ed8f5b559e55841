"""Teacher registry: from ``teacher.source`` to a frozen timm ViT.

Sources: timm pretrained names (paper scale; needs the hub or its cache), local
checkpoint files (timm state dicts, safetensors, MAE ``{'model': ...}``), a
random-init control, and teachers pretrained by the suite itself (a cached run of
its own, see :mod:`attnxfer_core.pretrain`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Optional

import timm
import torch
from timm.models.vision_transformer import VisionTransformer

from .config import RunConfig, TeacherConfig, TeacherSource
from .errors import ConfigError, UserError
from .models import create_vit
from .rundir import load_tensors
from .vit import check_supported

# Keys a teacher checkpoint may lack: the classifier (unused by a teacher; re-initialised on fine-tuning).
OPTIONAL_PREFIXES = ("head.", "fc_norm.")
NESTED_KEYS = ("model", "state_dict", "student", "module")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Weights from a .safetensors file or a torch file (plain, or nested under model/state_dict)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"teacher checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise UserError(f"cannot load checkpoint {path}: {exc}") from None
    state = load_tensors(path)
    for key in NESTED_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path} does not hold a state dict of tensors")
    prefix = "module."
    if state and all(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def check_compatible(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], origin: str) -> None:
    """Every model weight (but the classifier) must be in ``state`` with the same shape."""
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise UserError(
                f"{origin}: weight {key} has shape {tuple(value.shape)} but the model expects "
                f"{tuple(own[key].shape)}; the checkpoint is for a different architecture"
            )
    missing = [k for k in own if k not in state and not k.startswith(OPTIONAL_PREFIXES)]
    if missing:
        raise UserError(f"{origin}: checkpoint lacks {len(missing)} model weights, e.g. {missing[0]}")


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], origin: str) -> list[str]:
    """Load ``state`` into ``model``; shape mismatches and missing weights are errors.

    Returns the checkpoint keys the model has no place for (e.g. an MAE decoder).
    """
    own = model.state_dict()
    check_compatible(own, state, origin)
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return sorted(k for k in state if k not in own)


def _from_timm(cfg: TeacherConfig, shape: dict, field: str) -> VisionTransformer:
    if not cfg.name:
        raise ConfigError(f"{field}.name", f"{field}.source=timm needs a pretrained model name")
    if not timm.is_model(cfg.name):
        raise ConfigError(f"{field}.name", f"unknown timm model {cfg.name!r}")
    extra = {"img_size": cfg.model.img_size} if cfg.model.img_size else {}
    try:
        model = timm.create_model(cfg.name, pretrained=True, num_classes=shape["num_classes"], **extra)
    except Exception as exc:  # hub and network errors come in many types
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{field}.name: cannot fetch pretrained weights for {cfg.name} ({first}); offline, save them "
            f"elsewhere and use {field}.source=file {field}.path=<file> {field}.model.arch=<arch>"
        ) from None
    check_supported(model, f"{field}.name")
    return model


def _architecture(cfg: TeacherConfig, shape: dict, field: str) -> VisionTransformer:
    return create_vit(cfg.model, field=f"{field}.model", **shape)


def _from_file(cfg: TeacherConfig, shape: dict, field: str) -> VisionTransformer:
    if not cfg.path:
        raise ConfigError(f"{field}.path", f"{field}.source=file needs a checkpoint path")
    model = _architecture(cfg, shape, field)
    load_weights(model, read_state_dict(Path(cfg.path)), f"{field}.path {cfg.path}")
    return model


def _random(cfg: TeacherConfig, shape: dict, field: str) -> VisionTransformer:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.init_seed)
        return _architecture(cfg, shape, field)


WeightsBuilder = Callable[[TeacherConfig, dict, str], VisionTransformer]

SOURCES: dict[TeacherSource, WeightsBuilder] = {
    TeacherSource.TIMM: _from_timm,
    TeacherSource.FILE: _from_file,
    TeacherSource.RANDOM: _random,
    # The suite's own pretraining is a run of its own: the architecture is built
    # here (so shapes are checked before anything runs); the runner then loads the
    # weights of the cached pretraining run (see attnxfer_core.pretrain).
    TeacherSource.PRETRAIN: _architecture,
}


def build_from_source(source: TeacherConfig, shape: dict, field: str) -> Optional[VisionTransformer]:
    """A ViT with the weights ``source`` names (None for source=none); ``field`` prefixes errors."""
    if source.source is TeacherSource.NONE:
        return None
    return SOURCES[source.source](source, shape, field)


def build_teacher(cfg: RunConfig, num_classes: int, img_size: int, in_chans: int) -> Optional[VisionTransformer]:
    """The frozen teacher a run needs, or None for sources that have none."""
    shape = dict(num_classes=num_classes, img_size=img_size, in_chans=in_chans)
    teacher = build_from_source(cfg.teacher, shape, "teacher")
    if teacher is not None:
        teacher.eval().requires_grad_(False)
    return teacher
