"""How a classifier is scored: predictions over batches, then accuracy, likelihood and calibration.

Used by the trainer's evaluations and by after-the-fact evaluations alike, so a
number in a training log and one from ``attnxfer eval`` mean the same thing.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager, Iterable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

Batch = tuple[Tensor, Tensor]


@torch.no_grad()
def predict(
    forward: Callable[[Tensor], Tensor], batches: Iterable[Batch], device: torch.device,
    autocast: Callable[[], ContextManager] = nullcontext, class_index: Optional[Tensor] = None,
) -> tuple[Tensor, Tensor]:
    """All logits (fp32, on the CPU) and labels for ``batches``: the one prediction loop.

    ``class_index`` keeps only those model outputs (sets scored on a subset of the
    classes, such as ImageNet-A and -R).
    """
    logits, labels = [], []
    for images, targets in batches:
        with autocast():
            out = forward(images.to(device, non_blocking=True))
        out = out.float()
        if class_index is not None:
            out = out[:, class_index.to(out.device)]
        logits.append(out.cpu())
        labels.append(targets.cpu())
    return torch.cat(logits), torch.cat(labels)


def expected_calibration_error(probs: Tensor, labels: Tensor, bins: int = 15) -> float:
    """ECE with equal-width confidence bins (Guo et al. 2017)."""
    confidence, predicted = probs.max(dim=1)
    correct = predicted.eq(labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = torch.zeros(())
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.float().mean() * (confidence[in_bin].mean() - correct[in_bin].mean()).abs()
    return float(ece)


def classification_metrics(logits: Tensor, labels: Tensor) -> dict[str, float]:
    """top-1 / top-5 accuracy (percent), mean NLL and ECE of a set of logits."""
    probs = logits.softmax(dim=1)
    k = min(5, logits.shape[1])
    topk = logits.topk(k, dim=1).indices
    hits = topk.eq(labels[:, None])
    return {
        "top1": 100.0 * float(hits[:, 0].float().mean()),
        "top5": 100.0 * float(hits.any(dim=1).float().mean()),
        "nll": float(F.cross_entropy(logits, labels)),
        "ece": expected_calibration_error(probs, labels),
        "n": int(labels.numel()),
    }
