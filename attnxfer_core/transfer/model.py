"""The student with its frozen teacher: one forward pass for copy and distill.

Teacher and student run interleaved, block by block, so only one layer's
teacher maps are alive at a time and the teacher stops after the last layer
anything is taken from. Non-transferred student blocks run exactly as timm runs
them (fused attention). The teacher is held outside the module tree: it is not
in ``state_dict()``, not in ``parameters()`` and never wrapped by DDP.

Map transfer takes one of two paths with the same mathematics: the maps path
materialises the teacher's probabilities and the student's logits in fp32 (the
CPU's default: it keeps earlier CPU results bit for bit); with ``plan.sdpa`` the
teacher hands over its q and k and both methods run as fused attention calls
(:mod:`attnxfer_core.transfer.sdpa`), except where a map itself is needed
(captured maps, averaged maps, attention dropout under distillation).
"""
from __future__ import annotations

import enum
from contextlib import ExitStack, contextmanager
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block, VisionTransformer
from torch import Tensor, nn

from attnxfer_core.attention.walk import (
    PARTS,
    drop_path_masks,
    embed,
    head,
    logits_of,
    mlp_branch,
    output,
    plain_block,
    project,
    residual,
)
from attnxfer_core.config import MapAverage
from attnxfer_core.modes import Kind, Target
from attnxfer_core.transfer import sdpa as fused_kernels
from attnxfer_core.transfer.fused import fused_distill_attention, reference_distill_attention
from attnxfer_core.transfer.losses import projection_distill_loss
from attnxfer_core.transfer.plan import LayerPlan, TransferPlan

Masks = Optional[tuple[Tensor, Tensor]]


def average_maps(probs: Tensor, how: MapAverage) -> Tensor:
    """The appendix ablation: teacher probabilities averaged over examples or over queries."""
    if how is MapAverage.EXAMPLES:
        return probs.mean(dim=0, keepdim=True).expand_as(probs)
    if how is MapAverage.QUERIES:
        return probs.mean(dim=-2, keepdim=True).expand_as(probs)
    return probs


class AttentionPath(str, enum.Enum):
    """How map transfer runs in a forward pass."""

    SDPA = "sdpa"  # fused attention kernels on the teacher's q and k: no N x N maps
    MAPS = "maps"  # materialised fp32 maps; distillation's attention and loss as one closed-form autograd function
    REFERENCE = "reference"  # materialised maps through plain autograd (tests hold the other two to it)


class AttentionTransferModel(nn.Module):
    """Student ViT guided by a frozen teacher (attention copy or distillation).

    ``forward`` returns ``{"logits", "attn_loss", "layer_losses"}``; ``attn_loss``
    is the unweighted sum over transferred layers (None for copy modes).
    How a forward pass transfers maps is decided once per pass (:meth:`path_now`):
    fused kernels without maps, materialised maps with distillation's closed-form
    backward, or the straightforward autograd reference (``with model.reference_path():``,
    what tests hold the other two to). ``with model.capturing() as maps:`` records each
    layer's effective attention for analysis.
    """

    _reference: bool = False  # set only by reference_path()
    # While capturing(): each layer's effective attention probabilities (what the student really uses: the
    # teacher's map where copied); None otherwise
    capture: Optional[dict] = None

    def __init__(self, student: VisionTransformer, teacher: VisionTransformer, plan: TransferPlan) -> None:
        super().__init__()
        self.student = student
        self._teacher = (teacher,)  # a tuple keeps it out of the module tree
        self.plan = plan
        self._layer_plans = plan.by_student_layer(len(student.blocks))
        self._index_cache: dict[tuple, Tensor] = {}
        self.paths_used: set[str] = set()  # "maps", "sdpa": which path map transfer took (for the run summary)
        teacher.eval()
        teacher.requires_grad_(False)

    @property
    def teacher(self) -> VisionTransformer:
        return self._teacher[0]

    def train(self, mode: bool = True) -> "AttentionTransferModel":
        super().train(mode)
        self.teacher.eval()  # frozen: dropout off; drop path comes from the student's masks
        return self

    def _teacher_context(self, images: Tensor) -> ExitStack:
        """no_grad, plus bf16 autocast when the plan asks for a low-precision teacher."""
        stack = ExitStack()
        stack.enter_context(torch.no_grad())
        if self.plan.teacher_bf16:
            stack.enter_context(torch.autocast(images.device.type, dtype=torch.bfloat16))
        return stack

    def _index(self, heads: tuple[int, ...], device: torch.device) -> Tensor:
        key = (heads, device)
        if key not in self._index_cache:
            self._index_cache[key] = torch.tensor(heads, dtype=torch.long, device=device)
        return self._index_cache[key]

    @contextmanager
    def capturing(self) -> Iterator[dict]:
        """Record every layer's effective attention maps during the passes inside (they take the maps path)."""
        previous, self.capture = self.capture, {}
        try:
            yield self.capture
        finally:
            self.capture = previous

    @contextmanager
    def reference_path(self) -> Iterator[None]:
        """Distil maps through the straightforward autograd path inside (the tests' reference)."""
        previous, self._reference = self._reference, True
        try:
            yield
        finally:
            self._reference = previous

    def path_now(self, tokens: Tensor) -> AttentionPath:
        """How this forward pass transfers maps: the one decision, made once per pass."""
        if self._sdpa_now(tokens):
            return AttentionPath.SDPA
        return AttentionPath.REFERENCE if self._reference else AttentionPath.MAPS

    def _sdpa_now(self, tokens: Tensor) -> bool:
        """Whether this forward pass transfers maps through fused kernels (see the module's docstring).

        ``tokens``: the student's, entering block 0. Copy needs only torch's public attention;
        distillation needs :func:`~attnxfer_core.transfer.sdpa.attention_with_lse` to be usable here.
        """
        plan = self.plan
        if not plan.sdpa or plan.spec.target is not Target.MAP or self.capture is not None:
            return False
        if plan.average is not MapAverage.NONE:
            return False
        if plan.spec.kind is not Kind.DISTILL:
            return True
        attns = [self.student.blocks[lp.student_layer].attn for lp in plan.layers]
        if self.training and any(attn.attn_drop.p > 0 for attn in attns):
            return False
        kind = tokens.device.type
        dtype = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else tokens.dtype
        shapes = {(attn.num_heads, tokens.shape[1], attn.head_dim) for attn in attns}
        return all(fused_kernels.usable(tokens.device, dtype, shape) for shape in shapes)

    def forward(self, images: Tensor) -> dict[str, object]:
        student, teacher, plan = self.student, self.teacher, self.plan
        masks = drop_path_masks(student.blocks, images.shape[0], images) if self.training else None
        share = masks is not None and plan.shared_drop_path
        teacher_masks = [masks[s] if share and s is not None else None for s in plan.teacher_mask_source]
        last_teacher = plan.last_teacher_layer
        residual_target = plan.spec.target is Target.RESIDUAL

        x = embed(student, images)
        path = self.path_now(x)
        sdpa = path is AttentionPath.SDPA
        if plan.spec.target is Target.MAP:
            self.paths_used.add("sdpa" if sdpa else "maps")  # the reference path is maps, for the summary
        with self._teacher_context(images):
            tx = embed(teacher, images)
        t_next = 0  # next teacher block to run
        captured: Optional[tuple[int, dict[str, Tensor]]] = None
        layer_losses: dict[int, Tensor] = {}
        for i, blk in enumerate(student.blocks):
            m = masks[i] if masks is not None else None
            lp = self._layer_plans[i]
            if lp is None:
                if self.capture is not None:
                    self._record_own(i, blk, x)
                x = plain_block(blk, x, m)
                continue
            if captured is None or captured[0] != lp.teacher_layer:
                with self._teacher_context(images):
                    while t_next < lp.teacher_layer:
                        tx = plain_block(teacher.blocks[t_next], tx, teacher_masks[t_next])
                        t_next += 1
                    if residual_target:
                        tx = plain_block(teacher.blocks[t_next], tx, teacher_masks[t_next])
                        cap = {"residual": self._kept(tx, dim=1)}
                    else:
                        keep_going = t_next < last_teacher
                        cap, tx = self._teacher_block(teacher.blocks[t_next], tx, teacher_masks[t_next], keep_going,
                                                      sdpa)
                    captured = (t_next, cap)
                    t_next += 1
            if residual_target:
                if self.capture is not None:
                    self._record_own(i, blk, x)
                x = plain_block(blk, x, m)
                layer_losses[i] = projection_distill_loss(x, captured[1]["residual"])
                continue
            m1, m2 = m if m is not None else (None, None)
            h = blk.norm1(x)
            heads_out, loss = self._student_attention(blk, h, lp, captured[1], layer=i, path=path)
            x = residual(x, blk.ls1(output(blk.attn, h, heads_out)), m1)
            x = mlp_branch(blk, x, m2)
            if loss is not None:
                layer_losses[i] = loss
        attn_loss = torch.stack(list(layer_losses.values())).sum() if layer_losses else None
        return {"logits": head(student, x), "attn_loss": attn_loss, "layer_losses": layer_losses}

    # -- teacher -------------------------------------------------------------------

    def _teacher_block(self, blk: Block, x: Tensor, masks: Masks, keep_going: bool,
                       sdpa: bool = False) -> tuple[dict[str, Tensor], Tensor]:
        """Run a teacher block, returning what the student needs from it and its output.

        The output is only computed when a later teacher layer is still needed.
        Map targets are captured as fp32 probabilities (averaged if the plan says so),
        or, on the fused path, as the q and k they come from.
        """
        target = self.plan.spec.target
        attn = blk.attn
        h = blk.norm1(x)
        parts = PARTS if keep_going else (("q", "k") if target is Target.MAP else (target.value,))
        p = project(attn, h, parts)
        cap: dict[str, Tensor] = {}
        same_tokens = self.plan.teacher_tokens is None
        probs = None  # the teacher's own full maps, when it needs them itself
        if target is Target.MAP and not sdpa and (same_tokens or keep_going):
            probs = logits_of(p["q"], p["k"], attn.scale).float().softmax(dim=-1)
        if target is Target.MAP and sdpa:
            cap["q"], cap["k"] = self._kept(p["q"]), self._kept(p["k"])
        elif target is Target.MAP:
            # with other layouts, the teacher's attention among the student's tokens only (registers taken away)
            taught = probs if same_tokens else (
                logits_of(self._kept(p["q"]), self._kept(p["k"]), attn.scale).float().softmax(dim=-1))
            cap["probs"] = average_maps(taught, self.plan.average)
        else:
            cap[target.value] = self._kept(p[target.value])
        if not keep_going:
            return cap, x
        if probs is not None:
            heads_out = probs.to(p["v"].dtype) @ p["v"]
        else:
            heads_out = F.scaled_dot_product_attention(p["q"], p["k"], p["v"])
        m1, m2 = masks if masks is not None else (None, None)
        x = residual(x, blk.ls1(output(attn, h, heads_out)), m1)
        return cap, mlp_branch(blk, x, m2)

    def _kept(self, t: Tensor, dim: int = 2) -> Tensor:
        """The teacher tokens the student has, along ``dim`` (all of them when the layouts agree)."""
        if self.plan.teacher_tokens is None:
            return t
        return t.index_select(dim, self._index(self.plan.teacher_tokens, t.device))

    def _teacher_heads(self, cap: Tensor, lp: LayerPlan) -> Tensor:
        if lp.teacher_heads == tuple(range(cap.shape[1])):
            return cap
        return cap.index_select(1, self._index(lp.teacher_heads, cap.device))

    # -- student -------------------------------------------------------------------

    def _record_own(self, layer: int, blk: Block, x: Tensor) -> None:
        p = project(blk.attn, blk.norm1(x), ("q", "k"))
        self.capture[layer] = logits_of(p["q"], p["k"], blk.attn.scale).float().softmax(dim=-1)

    def _student_attention(
        self, blk: Block, h: Tensor, lp: LayerPlan, cap: dict[str, Tensor], layer: int,
        path: AttentionPath = AttentionPath.MAPS,
    ) -> tuple[Tensor, Optional[Tensor]]:
        spec = self.plan.spec
        attn = blk.attn
        dropout_p = attn.attn_drop.p if self.training else 0.0
        if path is AttentionPath.SDPA:
            return self._sdpa_attention(attn, h, lp, cap, dropout_p)
        if spec.kind is Kind.COPY:
            parts = tuple(p for p in PARTS if p not in spec.replaced) if lp.full else PARTS
            p = project(attn, h, parts)
            if spec.target is Target.MAP:
                if self.capture is not None:
                    self.capture[layer] = self._copied_maps(attn, p, lp, cap["probs"])
                return self._copy_map(attn, p, lp, cap["probs"], dropout_p), None
            part = spec.target.value
            taught = self._teacher_heads(cap[part], lp).to(next(iter(p.values())).dtype)
            if lp.full:
                p[part] = taught
            else:
                p[part] = p[part].index_copy(1, self._index(lp.heads, h.device), taught)
            if self.capture is not None:
                self.capture[layer] = logits_of(p["q"], p["k"], attn.scale).float().softmax(dim=-1)
            return F.scaled_dot_product_attention(p["q"], p["k"], p["v"], dropout_p=dropout_p), None

        p = project(attn, h, PARTS)
        if self.capture is not None:
            self.capture[layer] = logits_of(p["q"], p["k"], attn.scale).float().softmax(dim=-1)
        heads_index = None if lp.full else self._index(lp.heads, h.device)
        if spec.target is Target.MAP:
            teacher_probs = self._teacher_heads(cap["probs"], lp)
            if heads_index is None and path is AttentionPath.MAPS and dropout_p == 0.0:
                return fused_distill_attention(p["q"], p["k"], p["v"], teacher_probs, attn.scale)
            return reference_distill_attention(p["q"], p["k"], p["v"], teacher_probs, attn.scale, heads_index,
                                               attn.attn_drop)
        part = spec.target.value
        heads_out = F.scaled_dot_product_attention(p["q"], p["k"], p["v"], dropout_p=dropout_p)
        chosen = p[part] if heads_index is None else p[part].index_select(1, heads_index)
        return heads_out, projection_distill_loss(chosen, self._teacher_heads(cap[part], lp))

    def _sdpa_attention(self, attn: nn.Module, h: Tensor, lp: LayerPlan, cap: dict[str, Tensor],
                        dropout_p: float) -> tuple[Tensor, Optional[Tensor]]:
        """Map copy or distillation of one layer as fused attention calls (teacher q and k in ``cap``)."""
        tq, tk = self._teacher_heads(cap["q"], lp), self._teacher_heads(cap["k"], lp)
        t_scale = self.teacher.blocks[lp.teacher_layer].attn.scale
        if self.plan.spec.kind is Kind.COPY:
            p = project(attn, h, ("v",) if lp.full else PARTS)
            v = p["v"]
            tq, tk = tq.to(v.dtype), tk.to(v.dtype)
            if lp.full:
                return F.scaled_dot_product_attention(tq, tk, v, dropout_p=dropout_p, scale=t_scale), None
            taught = F.scaled_dot_product_attention(tq, tk, v.index_select(1, self._index(lp.heads, v.device)),
                                                    dropout_p=dropout_p, scale=t_scale)
            return self._with_own_heads(taught, p, lp, dropout_p), None
        p = project(attn, h, PARTS)
        heads_out, lse = fused_kernels.attention_with_lse(p["q"], p["k"], p["v"], attn.scale)
        q, k = p["q"], p["k"]
        if not lp.full:
            heads = self._index(lp.heads, q.device)
            q, k, lse = q.index_select(1, heads), k.index_select(1, heads), lse.index_select(1, heads)
        return heads_out, fused_kernels.distill_loss_sdpa(q, k, lse, attn.scale, tq, tk, t_scale)

    def _copied_maps(self, attn: nn.Module, p: dict[str, Tensor], lp: LayerPlan, t_probs: Tensor) -> Tensor:
        """The maps a copy layer uses: the teacher's in transferred heads, the student's own elsewhere."""
        taught = self._teacher_heads(t_probs, lp).float()
        if lp.full:
            return taught
        own = logits_of(p["q"], p["k"], attn.scale).float().softmax(dim=-1)
        return own.index_copy(1, self._index(lp.heads, own.device), taught)

    def _copy_map(self, attn: nn.Module, p: dict[str, Tensor], lp: LayerPlan, t_probs: Tensor,
                  dropout_p: float) -> Tensor:
        """Teacher's probabilities applied to the student's values in transferred heads."""
        v = p["v"]
        probs = attn.attn_drop(self._teacher_heads(t_probs, lp).to(v.dtype))
        if lp.full:
            return probs @ v
        taught = probs @ v.index_select(1, self._index(lp.heads, v.device))
        return self._with_own_heads(taught, p, lp, dropout_p)

    def _with_own_heads(self, taught: Tensor, p: dict[str, Tensor], lp: LayerPlan, dropout_p: float) -> Tensor:
        """A copy layer's per-head outputs: ``taught`` in the transferred heads, the student's own attention
        (timm's fused call) in the others, back in head order."""
        v = p["v"]
        own = self._index(lp.own_heads, v.device)
        mine = F.scaled_dot_product_attention(
            p["q"].index_select(1, own), p["k"].index_select(1, own), v.index_select(1, own), dropout_p=dropout_p
        )
        merged = torch.cat([taught, mine], dim=1)
        return merged.index_select(1, self._index(lp.merge_order, v.device))
