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

import torch
from torch import Tensor

from .losses import attention_distill_loss_from_probs


def reference_distill_attention(q: Tensor, k: Tensor, v: Tensor, teacher_probs: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """Straightforward autograd version: (per-head outputs, distillation loss)."""
    logits = (q * scale) @ k.transpose(-2, -1)
    out = logits.softmax(dim=-1) @ v
    return out, attention_distill_loss_from_probs(logits, teacher_probs)


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


def fused_distill_attention(q: Tensor, k: Tensor, v: Tensor, teacher_probs: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """Per-head attention outputs and the map-distillation loss of one layer (teacher maps as fp32 probabilities)."""
    return _DistillAttention.apply(q, k, v, teacher_probs.float(), scale)
