"""How alike are two models' attention maps? Jensen-Shannon divergence per layer and head.

Maps are the *effective* attention probabilities of a run on a fixed evaluation
batch: what its forward pass uses (the teacher's maps where a copy run copies
them). Two head-matching schemes: the same head index, and the best one-to-one
assignment (Hungarian algorithm on the head-by-head divergence matrix), which
forgives a permutation of heads. Also per layer: attention entropy and mean
attention distance (in pixels, between patch tokens).
"""
from __future__ import annotations

import math

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from attnxfer_core.attention.walk import attention_logits
from attnxfer_core.errors import UserError
from attnxfer_core.transfer.model import AttentionTransferModel

Maps = dict[int, Tensor]  # layer -> (batch, heads, tokens, tokens) probabilities


@torch.no_grad()
def effective_maps(model: torch.nn.Module, images: Tensor) -> Maps:
    """Attention probabilities of a timm ViT, or those an AttentionTransferModel really uses."""
    if isinstance(model, AttentionTransferModel):
        model.eval()
        with model.capturing() as maps:
            model(images)
        return dict(sorted(maps.items()))
    was = model.training
    model.eval()
    maps = {i: t.float().softmax(dim=-1) for i, t in attention_logits(model, images).items()}
    model.train(was)
    return maps


def jsd_matrix(p: Tensor, q: Tensor, eps: float = 1e-12) -> Tensor:
    """(heads_p, heads_q) JSD in bits between every head pair, averaged over batch and queries."""
    p = p.float().clamp_min(eps)
    q = q.float().clamp_min(eps)
    pe, qe = p[:, :, None], q[:, None, :]  # (B, Hp, 1, N, N), (B, 1, Hq, N, N)
    m = 0.5 * (pe + qe)
    kl_pm = (pe * (pe / m).log()).sum(-1)
    kl_qm = (qe * (qe / m).log()).sum(-1)
    return (0.5 * (kl_pm + kl_qm)).mean(dim=(0, 3)) / math.log(2)


def layer_similarity(a: Maps, b: Maps) -> dict[int, dict[str, float]]:
    """Per common layer: mean JSD over heads with same-index and with best one-to-one matching."""
    out: dict[int, dict[str, float]] = {}
    for layer in sorted(set(a) & set(b)):
        if a[layer].shape[-1] != b[layer].shape[-1]:
            raise UserError(f"layer {layer}: maps over {a[layer].shape[-1]} and {b[layer].shape[-1]} tokens "
                            "cannot be compared (different token layouts, e.g. register tokens)")
        matrix = jsd_matrix(a[layer], b[layer])
        same = float(matrix.diagonal().mean()) if matrix.shape[0] == matrix.shape[1] else float("nan")
        rows, cols = linear_sum_assignment(matrix.numpy())
        out[layer] = {"jsd_same_head": same, "jsd_matched": float(matrix[rows, cols].mean())}
    return out


def entropy(maps: Maps) -> dict[int, float]:
    """Mean attention entropy (nats) per layer."""
    return {layer: float(-(p.clamp_min(1e-12).log() * p).sum(-1).mean()) for layer, p in maps.items()}


def mean_distance(maps: Maps, grid: tuple[int, int], patch: int, prefix: int) -> dict[int, float]:
    """Mean attention distance in pixels per layer, over patch queries and patch keys (renormalised)."""
    gh, gw = grid
    ys, xs = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()], dim=1).float() * patch
    dist = torch.cdist(coords, coords)
    out = {}
    for layer, p in maps.items():
        patches = p[:, :, prefix:, prefix:]
        patches = patches / patches.sum(-1, keepdim=True).clamp_min(1e-12)
        out[layer] = float((patches * dist).sum(-1).mean())
    return out


def summarize(maps: Maps, references: dict[str, Maps], grid: tuple[int, int], patch: int, prefix: int) -> dict:
    """Per layer: entropy, distance, and JSD to each reference under both matching schemes."""
    ent, dist = entropy(maps), mean_distance(maps, grid, patch, prefix)
    result = {str(layer): {"entropy": ent[layer], "mean_distance_px": dist[layer]} for layer in maps}
    for name, ref in references.items():
        for layer, values in layer_similarity(maps, ref).items():
            result[str(layer)].update({f"{k}/{name}": v for k, v in values.items()})
    return result
