"""Resolving a :class:`TransferConfig` against a concrete student and teacher.

The plan says, per student layer, which teacher layer and which heads transfer.
All shape checks happen here, before any run directory exists, so a mismatch
between teacher and student is one clear error naming the field to fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from timm.models.vision_transformer import VisionTransformer

from attnxfer_core.attention.indices import parse_layer_heads, parse_layer_map, resolve_indices
from attnxfer_core.attention.tokens import teacher_tokens
from attnxfer_core.attention.walk import PARTS
from attnxfer_core.config import MapAverage, Precision, TransferConfig
from attnxfer_core.errors import ConfigError
from attnxfer_core.modes import Kind, ModeSpec, Target, spec_of


@dataclass(frozen=True)
class LayerPlan:
    student_layer: int
    teacher_layer: int
    heads: tuple[int, ...]  # student heads that transfer
    teacher_heads: tuple[int, ...]  # the teacher head each of those learns from
    num_heads: int  # student heads in the layer

    @property
    def full(self) -> bool:
        return len(self.heads) == self.num_heads

    @property
    def own_heads(self) -> tuple[int, ...]:
        chosen = set(self.heads)
        return tuple(h for h in range(self.num_heads) if h not in chosen)

    @property
    def merge_order(self) -> tuple[int, ...]:
        """Index that puts [transferred heads, own heads] back in head order."""
        order = list(self.heads) + list(self.own_heads)
        inverse = [0] * len(order)
        for pos, h in enumerate(order):
            inverse[h] = pos
        return tuple(inverse)


@dataclass(frozen=True)
class TransferPlan:
    spec: ModeSpec
    layers: tuple[LayerPlan, ...]
    weight: float
    shared_drop_path: bool
    teacher_mask_source: tuple[Optional[int], ...]  # per teacher layer: student layer whose masks it shares
    teacher_bf16: bool = False  # run the frozen teacher under bf16 autocast (faster, not bit-exact)
    average: MapAverage = MapAverage.NONE  # ablation: average teacher maps over examples or queries
    # the teacher token each student token is (see attention.tokens); None: the same layout
    teacher_tokens: Optional[tuple[int, ...]] = None
    # map transfer through torch's fused attention kernels, no N x N maps (transfer.sdpa); else maps in fp32
    sdpa: bool = False

    def by_student_layer(self, depth: int) -> list[Optional[LayerPlan]]:
        table: list[Optional[LayerPlan]] = [None] * depth
        for lp in self.layers:
            table[lp.student_layer] = lp
        return table

    @property
    def last_teacher_layer(self) -> int:
        return max(lp.teacher_layer for lp in self.layers)

    def frozen_rows(self, student: VisionTransformer) -> list[tuple[torch.nn.Parameter, torch.Tensor]]:
        """(parameter, row mask) pairs the copy leaves unused: not trained and not decayed.

        In copy modes the student's own q/k (or v) of transferred heads never
        enter the forward pass; their rows of the fused qkv weight and bias get a
        zero gradient, and the optimizer must not decay them either.
        """
        if self.spec.kind is not Kind.COPY:
            return []
        result = []
        for lp in self.layers:
            attn = student.blocks[lp.student_layer].attn
            D, hd = attn.num_heads * attn.head_dim, attn.head_dim
            rows = torch.zeros(3 * D, dtype=torch.bool)
            for part in self.spec.replaced:
                base = PARTS.index(part) * D
                for h in lp.heads:
                    rows[base + h * hd: base + (h + 1) * hd] = True
            result.append((attn.qkv.weight, rows))
            if attn.qkv.bias is not None:
                result.append((attn.qkv.bias, rows))
        return result


RELEASED_END_LAYER = -3  # the released code's model default, which its training script never overrides


def released_layers(depth: int) -> tuple[int, ...]:
    """What the authors' released code ran for copy and distillation alike: the prefix [0, depth - 3)
    (21 of ViT-L's 24 layers), whatever its README recipe asks (``transfer.layers=released``)."""
    return tuple(range(max(1, depth + RELEASED_END_LAYER)))


def default_layers(spec: ModeSpec, depth: int) -> tuple[int, ...]:
    """Public recipe: copy transfers every layer; distillation the first three quarters."""
    if spec.kind is Kind.COPY:
        return tuple(range(depth))
    return tuple(range(depth - depth // 4))


def build_plan(cfg: TransferConfig, student: VisionTransformer, teacher: VisionTransformer) -> TransferPlan:
    """Check that ``teacher`` can teach ``student`` as configured and say exactly how."""
    spec = spec_of(cfg.mode)
    if not spec.transfers:
        raise ConfigError("transfer.mode", f"{cfg.mode.value} transfers no attention")
    if cfg.weight < 0:
        raise ConfigError("transfer.weight", f"must be >= 0, got {cfg.weight}")
    s_depth, t_depth = len(student.blocks), len(teacher.blocks)
    s_heads = student.blocks[0].attn.num_heads
    t_heads = teacher.blocks[0].attn.num_heads
    tokens = teacher_tokens(student, teacher)

    layer_map = parse_layer_map(cfg.layer_map, s_depth, t_depth, "transfer.layer_map")
    if not layer_map and s_depth != t_depth:
        raise ConfigError(
            "transfer.layer_map",
            f"student has {s_depth} layers, teacher {t_depth}; give a map such as transfer.layer_map=0=0,1=2",
        )
    if layer_map and cfg.layers.strip().lower() == "default":
        layers = tuple(sorted(layer_map))
    elif cfg.layers.strip().lower() == "default":
        layers = default_layers(spec, s_depth)
    elif cfg.layers.strip().lower() == "released":
        layers = released_layers(s_depth)
    else:
        layers = resolve_indices(cfg.layers, s_depth, "transfer.layers")
    if not layers:
        raise ConfigError("transfer.layers", "selects no layer; use scratch mode for no transfer")
    if layer_map:
        missing = [i for i in layers if i not in layer_map]
        if missing:
            raise ConfigError("transfer.layer_map", f"has no teacher layer for student layers {missing}")
        targets = [layer_map[i] for i in layers]
        if any(b < a for a, b in zip(targets, targets[1:])):
            raise ConfigError("transfer.layer_map", "teacher layers must not decrease along the student's depth")
    else:
        layer_map = {i: i for i in range(s_depth)}

    if cfg.head_map:
        if len(cfg.head_map) != s_heads:
            raise ConfigError("transfer.head_map",
                              f"needs {s_heads} entries (one per student head), got {len(cfg.head_map)}")
        head_map = tuple(resolve_indices([h], t_heads, "transfer.head_map")[0] for h in cfg.head_map)
    elif s_heads != t_heads:
        raise ConfigError(
            "transfer.head_map",
            f"student has {s_heads} heads, teacher {t_heads}; "
            "give transfer.head_map with a teacher head per student head",
        )
    else:
        head_map = tuple(range(s_heads))

    if cfg.average is not MapAverage.NONE and spec.target is not Target.MAP:
        raise ConfigError("transfer.average",
                          f"averaging applies to attention maps; {cfg.mode.value} transfers {spec.target.value}")
    if spec.target is Target.RESIDUAL and student.embed_dim != teacher.embed_dim:
        raise ConfigError("transfer.mode",
                          f"feature_kd needs equal widths; student {student.embed_dim}, teacher {teacher.embed_dim}")
    if spec.target is not None and spec.target.value in PARTS:
        s_hd, t_hd = student.blocks[0].attn.head_dim, teacher.blocks[0].attn.head_dim
        if s_hd != t_hd:
            raise ConfigError("transfer.mode",
                              f"{cfg.mode.value} needs equal head dims; student {s_hd}, teacher {t_hd}")

    heads = resolve_indices(cfg.heads, s_heads, "transfer.heads")
    per_layer = parse_layer_heads(cfg.layer_heads, s_depth, s_heads, "transfer.layer_heads")
    stray = sorted(set(per_layer) - set(layers))
    if stray:
        raise ConfigError("transfer.layer_heads", f"names layers {stray} that are not transferred")
    plans = []
    for i in layers:
        chosen = per_layer.get(i, heads)
        if not chosen:
            continue
        plans.append(LayerPlan(i, layer_map[i], chosen, tuple(head_map[h] for h in chosen), s_heads))
    if not plans:
        raise ConfigError("transfer.heads", "selects no head in any transferred layer")

    if s_depth == t_depth:
        mask_source: tuple[Optional[int], ...] = tuple(range(t_depth))
    else:
        by_teacher: dict[int, int] = {}
        for s, t in sorted(layer_map.items()):
            by_teacher.setdefault(t, s)
        mask_source = tuple(by_teacher.get(t) for t in range(t_depth))
    return TransferPlan(
        spec, tuple(plans), cfg.weight, cfg.shared_drop_path, mask_source,
        cfg.teacher_precision is Precision.BF16, cfg.average, tokens,
    )
