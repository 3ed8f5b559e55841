"""Building timm ViTs from :class:`ModelConfig`."""
from __future__ import annotations

import timm
from timm.models.vision_transformer import VisionTransformer

from attnxfer_core.attention.walk import check_supported
from attnxfer_core.config import ModelConfig
from attnxfer_core.errors import ConfigError


def shape_kwargs(cfg: ModelConfig, img_size: int, in_chans: int) -> dict:
    """timm keyword arguments for the fields the config sets (None keeps timm's default)."""
    kwargs = {
        "img_size": cfg.img_size or img_size,
        "in_chans": cfg.in_chans or in_chans,
        "patch_size": cfg.patch_size,
        "embed_dim": cfg.embed_dim,
        "depth": cfg.depth,
        "num_heads": cfg.num_heads,
        "mlp_ratio": cfg.mlp_ratio,
        "global_pool": cfg.global_pool,
        "class_token": cfg.class_token,
        "reg_tokens": cfg.reg_tokens,
        "no_embed_class": cfg.no_embed_class,
        "init_values": cfg.init_values,
        "qk_norm": cfg.qk_norm,
        "pre_norm": cfg.pre_norm,
    }
    return {k: v for k, v in kwargs.items() if v is not None}


def create_vit(
    cfg: ModelConfig, *, num_classes: int, img_size: int, in_chans: int, field: str, pretrained: bool = False,
    skip_init: bool = False,
) -> VisionTransformer:
    """Create a timm ViT; unknown architectures and impossible shapes fail naming ``field``.

    ``skip_init`` leaves weights uninitialised: for shape checks on the meta device.
    """
    if not timm.is_model(cfg.arch):
        raise ConfigError(f"{field}.arch", f"unknown timm model {cfg.arch!r}")
    if cfg.embed_dim and cfg.num_heads and cfg.embed_dim % cfg.num_heads:
        raise ConfigError(f"{field}.num_heads", f"embed_dim {cfg.embed_dim} is not divisible by {cfg.num_heads} heads")
    if not 0.0 <= cfg.drop_path < 1.0:
        raise ConfigError(f"{field}.drop_path", f"must be in [0, 1), got {cfg.drop_path}")
    kwargs = shape_kwargs(cfg, img_size, in_chans)
    size, patch = kwargs["img_size"], kwargs.get("patch_size")
    if patch is not None and size % patch:
        raise ConfigError(f"{field}.patch_size", f"image size {size} is not divisible by patch size {patch}")
    try:
        model = timm.create_model(
            cfg.arch, pretrained=pretrained, num_classes=num_classes, drop_path_rate=cfg.drop_path,
            **({"weight_init": "skip"} if skip_init else {}), **kwargs,
        )
    except (TypeError, ValueError, AssertionError, RuntimeError, OverflowError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(field, f"timm cannot build {cfg.arch} with {kwargs}: {first}") from None
    check_supported(model, field)
    return model
