"""Attention-map pictures: an image with one query token's attention overlaid, per layer."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor


def query_attention(maps: dict[int, Tensor], index: int, query: int, prefix: int,
                    grid: tuple[int, int]) -> dict[int, Tensor]:
    """Per layer: the (grid_h, grid_w) attention of ``query`` over patch tokens, averaged over heads."""
    out = {}
    for layer, p in maps.items():
        row = p[index, :, query, prefix:].float().mean(dim=0)
        out[layer] = (row / row.sum().clamp_min(1e-12)).reshape(grid)
    return out


def attention_figure(image: Tensor, per_method: dict[str, dict[int, Tensor]], layers: Sequence[int], path: Path,
                     title: str = "") -> Path:
    """Grid: one row per method, one column per layer; the image in gray, the attention in colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gray = image.float().mean(dim=0)
    gray = (gray - gray.min()) / (gray.max() - gray.min()).clamp_min(1e-6)
    rows, cols = len(per_method), len(layers)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols + 1, 1.8 * rows + 0.4), squeeze=False)
    size = gray.shape
    for r, (method, maps) in enumerate(per_method.items()):
        for c, layer in enumerate(layers):
            ax = axes[r][c]
            ax.imshow(gray.numpy(), cmap="gray", interpolation="nearest")
            heat = torch.nn.functional.interpolate(maps[layer][None, None], size=size, mode="nearest")[0, 0]
            ax.imshow(heat.numpy(), cmap="inferno", alpha=0.6, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"layer {layer}", fontsize=9)
            if c == 0:
                ax.set_ylabel(method, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path
