"""Walking a timm Vision Transformer block by block, with attention made explicit.

timm's ``Attention`` runs fused SDPA, so attention maps never exist. Instead of
patching modules (which would risk parameter names and checkpoint loading), the
suite calls a block's own submodules (``norm1``, ``attn.qkv``, ``attn.proj``,
``mlp`` ...) in the same order timm does, and materialises q, k, v or the logits
only where it needs them. The model object is never modified.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import torch
import torch.nn.functional as F
from timm.layers import Attention, DropPath
from timm.models.vision_transformer import Block, VisionTransformer
from torch import Tensor, nn

from attnxfer_core.attention.indices import IndexSpec, resolve_indices
from attnxfer_core.errors import ConfigError

PARTS = ("q", "k", "v")


# timm model classes whose attention holds something the walker does not reproduce, and what it is.
_MISSING = {
    "Beit": "a relative-position bias added inside the attention logits (BEiT, BEiTv2)",
    "Eva": "rotary position embeddings applied to q and k inside attention (EVA-02)",
}


def check_supported(model: nn.Module, field: str) -> None:
    """Refuse models whose blocks this walker does not reproduce exactly.

    Supported: timm's ``VisionTransformer`` with its ``Block``/``Attention``, including
    layer scale, register and other prefix tokens, qk-norm, pre-norm, scale-norm, gated
    attention and attention-pool heads (the head runs as timm runs it; attention maps
    are those of the blocks).
    """
    name = type(model).__name__
    if name in _MISSING:
        raise ConfigError(field, f"{name} models are not supported: the suite does not reproduce {_MISSING[name]}")
    if not isinstance(model, VisionTransformer):
        raise ConfigError(field, f"{name} is not a timm VisionTransformer")
    for i, blk in enumerate(model.blocks):
        if type(blk) is not Block or type(blk.attn) is not Attention:
            raise ConfigError(
                field,
                f"block {i} is {type(blk).__name__}/{type(blk.attn).__name__}; "
                "only timm Block with Attention is supported",
            )


def embed(model: VisionTransformer, images: Tensor) -> Tensor:
    """Tokens entering block 0, exactly as ``forward_features`` computes them."""
    x = model.patch_embed(images)
    x = model._pos_embed(x)
    x = model.patch_drop(x)
    return model.norm_pre(x)


def head(model: VisionTransformer, x: Tensor) -> Tensor:
    """Class logits from the last block's tokens, as ``forward`` computes them."""
    return model.forward_head(model.norm(x))


def drop_prob(blk: Block) -> float:
    return blk.drop_path1.drop_prob if isinstance(blk.drop_path1, DropPath) else 0.0


def drop_path_masks(blocks: Sequence[Block], batch: int, like: Tensor) -> list[Optional[tuple[Tensor, Tensor]]]:
    """Per-sample stochastic-depth masks for each block's two residual branches.

    Drawn once per step so the student and the teacher can share them; scaling
    by the keep probability matches timm's ``drop_path``.
    """
    masks: list[Optional[tuple[Tensor, Tensor]]] = []
    for blk in blocks:
        p = drop_prob(blk)
        if p == 0.0:
            masks.append(None)
            continue
        keep = 1.0 - p
        m = like.new_empty((2, batch, 1, 1)).bernoulli_(keep)
        if keep > 0:
            m.div_(keep)
        masks.append((m[0], m[1]))
    return masks


def residual(x: Tensor, branch: Tensor, mask: Optional[Tensor]) -> Tensor:
    return x + (branch if mask is None else branch * mask)


def project(attn: Attention, h: Tensor, parts: Iterable[str]) -> dict[str, Tensor]:
    """Compute the requested q/k/v as (batch, heads, tokens, head_dim).

    Only the weight rows of requested parts are multiplied, so a copied layer
    that never uses its own q and k does not pay for them.
    """
    wanted = [p for p in PARTS if p in set(parts)]
    B, N, _ = h.shape
    H, hd = attn.num_heads, attn.head_dim
    D = H * hd
    out: dict[str, Tensor] = {}
    if len(wanted) == 3:
        qkv = attn.qkv(h).reshape(B, N, 3, H, hd).permute(2, 0, 3, 1, 4)
        out = dict(zip(PARTS, qkv.unbind(0)))
    else:
        weight, bias = attn.qkv.weight, attn.qkv.bias
        for part in wanted:
            i = PARTS.index(part)
            rows = slice(i * D, (i + 1) * D)
            y = F.linear(h, weight[rows], None if bias is None else bias[rows])
            out[part] = y.reshape(B, N, H, hd).transpose(1, 2)
    if "q" in out:
        out["q"] = attn.q_norm(out["q"])
    if "k" in out:
        out["k"] = attn.k_norm(out["k"])
    return out


def logits_of(q: Tensor, k: Tensor, scale: float) -> Tensor:
    """Pre-softmax attention scores q k^T * scale."""
    return (q * scale) @ k.transpose(-2, -1)


def output(attn: Attention, h: Tensor, heads_out: Tensor) -> Tensor:
    """From per-head outputs (B, H, N, hd) to the block's attention-branch output."""
    B, N, _ = h.shape
    x = heads_out.transpose(1, 2).reshape(B, N, attn.num_heads * attn.head_dim)
    x = attn.norm(x)
    gate = getattr(attn, "gate", None)  # newer timm: optional output gate
    if gate is not None:
        x = x * gate(h).sigmoid()
    return attn.proj_drop(attn.proj(x))


def mlp_branch(blk: Block, x: Tensor, mask: Optional[Tensor]) -> Tensor:
    return residual(x, blk.ls2(blk.mlp(blk.norm2(x))), mask)


def plain_block(blk: Block, x: Tensor, masks: Optional[tuple[Tensor, Tensor]]) -> Tensor:
    """A block exactly as timm runs it (fused attention), with caller-provided drop-path masks."""
    m1, m2 = masks if masks is not None else (None, None)
    x = residual(x, blk.ls1(blk.attn(blk.norm1(x))), m1)
    return mlp_branch(blk, x, m2)


@torch.no_grad()
def _no_grad_logits(model: VisionTransformer, images: Tensor, layers: tuple[int, ...]) -> dict[int, Tensor]:
    return _logits(model, images, layers)


def _logits(model: VisionTransformer, images: Tensor, layers: tuple[int, ...]) -> dict[int, Tensor]:
    wanted = set(layers)
    result: dict[int, Tensor] = {}
    x = embed(model, images)
    last = max(layers)
    for i, blk in enumerate(model.blocks):
        if i in wanted:
            h = blk.norm1(x)
            qk = project(blk.attn, h, ("q", "k"))
            result[i] = logits_of(qk["q"], qk["k"], blk.attn.scale)
        if i == last:
            break
        x = plain_block(blk, x, None)
    return result


def attention_logits(
    model: nn.Module, images: Tensor, layers: IndexSpec = None, *, grad: bool = False
) -> dict[int, Tensor]:
    """Pre-softmax attention logits q k^T * head_dim^-0.5 of a timm ViT, per block.

    Works whether or not timm's fused attention is on, and leaves the model
    untouched. Returns {block index: (batch, heads, tokens, tokens)}. ``layers``
    uses the suite's index grammar (None = all; negatives from the end).
    Drop path and dropout are not applied: these are the maps of the
    deterministic forward pass. Set ``grad=True`` to keep the autograd graph.
    """
    check_supported(model, "model")
    chosen = resolve_indices(layers, len(model.blocks), "layers")
    if not chosen:
        return {}
    fn = _logits if grad else _no_grad_logits
    return fn(model, images, chosen)
