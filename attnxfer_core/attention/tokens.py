"""Which teacher token each student token is, when the two token layouts differ.

timm orders a ViT's tokens as [class token?, registers..., patches]. A student may
lack the register tokens its teacher has (a DINOv2-with-registers teacher, a
standard student): its tokens are then the teacher's class token and patches,
and transfer uses the teacher's attention among exactly those tokens. For maps
that is the softmax of the teacher's logits over the kept keys, i.e. its
attention renormalised once the registers are taken away; for q, k, v and block
outputs it is the kept tokens' vectors. A student keeps all of the teacher's
registers or none; every other difference (patch grid, class token, other prefix
tokens such as DeiT's distillation token) is refused by name, because no
correspondence between the tokens would be more than a guess.
"""
from __future__ import annotations

from typing import Optional

from timm.models.vision_transformer import VisionTransformer

from attnxfer_core.errors import ConfigError


def layout(model: VisionTransformer) -> tuple[int, int, int, int]:
    """(class tokens, register tokens, other prefix tokens such as DeiT's distillation token, patches)."""
    cls, reg = int(model.cls_token is not None), int(model.num_reg_tokens)
    return cls, reg, int(model.num_prefix_tokens) - cls - reg, int(model.patch_embed.num_patches)


def teacher_tokens(student: VisionTransformer, teacher: VisionTransformer,
                   field: str = "teacher.model") -> Optional[tuple[int, ...]]:
    """The teacher token index of each student token, or None when the layouts are the same."""
    s_cls, s_reg, s_other, s_patches = layout(student)
    t_cls, t_reg, t_other, t_patches = layout(teacher)
    if (s_cls, s_reg, s_other, s_patches) == (t_cls, t_reg, t_other, t_patches):
        return None
    if s_patches != t_patches:
        raise ConfigError(field, f"student has {s_patches} patches per image, teacher {t_patches}; "
                                 "image and patch size must give equal patch counts")
    if s_cls != t_cls:
        has = {1: "has a class token", 0: "has no class token"}
        raise ConfigError(field, f"the student {has[s_cls]} and the teacher {has[t_cls]}; "
                                 f"set student.class_token={'true' if t_cls else 'false'} (and a matching global_pool)")
    if s_other or t_other:
        raise ConfigError(field, f"student has {s_other} other prefix tokens (e.g. a distillation token), teacher "
                                 f"{t_other}, and the layouts differ otherwise too; no correspondence is defined")
    if s_reg and not t_reg:
        raise ConfigError(field, f"student has {s_reg} register tokens and the teacher none: their attention "
                                 "would have no teacher; set student.reg_tokens=0")
    if s_reg:
        raise ConfigError(field, f"student has {s_reg} register tokens, teacher {t_reg}; a student keeps all of "
                                 f"the teacher's registers or none (student.reg_tokens={t_reg} or 0)")
    return tuple(range(t_cls)) + tuple(range(t_cls + t_reg, t_cls + t_reg + t_patches))
