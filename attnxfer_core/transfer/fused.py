"""Attention with its distillation loss in one autograd function.

The straightforward version (logits -> softmax -> @v, plus a separate
log_softmax for the loss) makes autograd keep and revisit several
(batch, heads, tokens, tokens) tensors. Here the forward keeps only the student
probabilities and the teacher's, and the backward uses the closed forms

    d loss / d logits = (p - p_teacher) / (batch * heads * queries)
    d out  / d logits = p * (dP - rowsum(dP * p)),   dP = grad_out @ v^T

Numerically equal to :func:`reference_distill_attention` (tested), cheaper in
time and memory. Softmax statistics are computed in fp32 whatever the input dtype.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from attnxfer_core.attention.walk import logits_of
from attnxfer_core.transfer.losses import attention_distill_loss_from_probs


def reference_distill_attention(
    q: Tensor, k: Tensor, v: Tensor, teacher_probs: Tensor, scale: float,
    heads: Optional[Tensor] = None, dropout: Optional[Callable[[Tensor], Tensor]] = None,
) -> tuple[Tensor, Tensor]:
    """Straightforward autograd version: (per-head outputs, distillation loss).

    The one reference path: the model takes it where the fused function does not
    apply (a subset of ``heads`` distilled, attention dropout in training), and
    tests compare the fused function against it.
    """
    logits = logits_of(q, k, scale)
    probs = logits.softmax(dim=-1)
    out = (probs if dropout is None else dropout(probs)) @ v
    chosen = logits if heads is None else logits.index_select(1, heads)
    return out, attention_distill_loss_from_probs(chosen, teacher_probs)


class _DistillAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, teacher_probs: Tensor, scale: float):  # type: ignore[override]
        with torch.autocast(q.device.type, enabled=False):
            logits = torch.matmul(q * scale, k.transpose(-2, -1)).float()
            log_p = logits.log_softmax(dim=-1)
            p = log_p.exp()
            out = torch.matmul(p.to(v.dtype), v)
            count = log_p.numel() // log_p.shape[-1]
            loss = -(teacher_probs * log_p).sum() / count
        ctx.save_for_backward(q, k, v, p, teacher_probs)
        ctx.scale = scale
        ctx.count = count
        return out, loss

    @staticmethod
    def backward(ctx, grad_out: Tensor, grad_loss: Tensor):  # type: ignore[override]
        q, k, v, p, teacher_probs = ctx.saved_tensors
        scale = ctx.scale
        grad_v = torch.matmul(p.to(grad_out.dtype).transpose(-2, -1), grad_out)
        dp = torch.matmul(grad_out, v.transpose(-2, -1)).float()
        grad_logits = p * (dp - (dp * p).sum(dim=-1, keepdim=True))
        grad_logits += (grad_loss / ctx.count) * (p - teacher_probs)
        grad_logits = grad_logits.to(q.dtype)
        grad_q = torch.matmul(grad_logits, k) * scale
        grad_k = torch.matmul(grad_logits.transpose(-2, -1), q) * scale
        return grad_q, grad_k, grad_v, None, None


def fused_distill_attention(q: Tensor, k: Tensor, v: Tensor, teacher_probs: Tensor,
                            scale: float) -> tuple[Tensor, Tensor]:
    """Per-head attention outputs and the map-distillation loss of one layer (teacher maps as fp32 probabilities)."""
    return _DistillAttention.apply(q, k, v, teacher_probs.float(), scale)
