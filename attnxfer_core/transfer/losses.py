"""Attention-transfer losses, kept separate so they can be pinned by golden tests."""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor


def total_loss(task: Tensor, attn: Optional[Tensor], weight: float) -> Tensor:
    """The training objective, written once: the task loss plus ``weight`` times the attention loss (summed over
    transferred layers); a run with no attention term (copy, scratch, fine-tuning) trains on the task alone."""
    return task if attn is None else task + weight * attn


def attention_distill_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """Cross-entropy of softmax(teacher) against log_softmax(student) over the key axis.

    Averaged over batch, heads and queries. Its gradient with respect to the
    student logits equals that of KL(teacher || student): the two differ by the
    teacher's entropy, a constant. Computed in fp32 whatever the autocast dtype.
    """
    return attention_distill_loss_from_probs(student_logits, teacher_logits.float().softmax(dim=-1))


def attention_distill_loss_from_probs(student_logits: Tensor, teacher_probs: Tensor) -> Tensor:
    """As :func:`attention_distill_loss`, with the teacher's map already a distribution."""
    log_probs = student_logits.float().log_softmax(dim=-1)
    return -(teacher_probs * log_probs).sum(dim=-1).mean()


def projection_distill_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean squared error between student and teacher q, k or v (the q/k/v distill variants)."""
    return F.mse_loss(student.float(), teacher.float())
