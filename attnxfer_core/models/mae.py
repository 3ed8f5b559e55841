"""Masked-autoencoder pretraining of a timm ViT encoder (the paper's teacher recipe).

The encoder is an unmodified timm ``VisionTransformer``, so its weights load as a
teacher like any timm checkpoint. The decoder is small and discarded afterwards.
Following MAE: random masking of 75% of patches, the encoder sees only visible
patches (plus its prefix tokens: the class token, and registers where the encoder
has them), the decoder reconstructs per-patch normalised pixels from the prefix
tokens and the patches, and the loss counts masked patches only.
"""
from __future__ import annotations

import torch
from timm.models.vision_transformer import Block, VisionTransformer
from torch import Tensor, nn

from attnxfer_core.config import MAEConfig
from attnxfer_core.errors import ConfigError


def patchify(images: Tensor, patch: int) -> Tensor:
    """(B, C, H, W) -> (B, L, patch*patch*C), patches in row-major order like patch_embed."""
    B, C, H, W = images.shape
    h, w = H // patch, W // patch
    x = images.reshape(B, C, h, patch, w, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(B, h * w, patch * patch * C)


class MaskedAutoencoder(nn.Module):
    def __init__(self, encoder: VisionTransformer, cfg: MAEConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.cfg = cfg
        self.patch = encoder.patch_embed.patch_size[0]
        in_chans = encoder.patch_embed.proj.in_channels
        num_patches = encoder.patch_embed.num_patches
        self.prefix = encoder.num_prefix_tokens  # class token and registers, in timm's order
        known = int(encoder.cls_token is not None) + int(encoder.num_reg_tokens)
        if self.prefix != known:
            raise ConfigError("student.arch", f"{type(encoder).__name__} has {self.prefix - known} prefix tokens "
                                              "besides its class token and registers; MAE pretraining does not "
                                              "know where they go")
        self.decoder_embed = nn.Linear(encoder.embed_dim, cfg.decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.decoder_dim))
        self.decoder_pos_embed = nn.Parameter(torch.randn(1, num_patches + self.prefix, cfg.decoder_dim) * 0.02)
        self.decoder_blocks = nn.ModuleList(
            Block(cfg.decoder_dim, cfg.decoder_heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(cfg.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(cfg.decoder_dim)
        self.decoder_pred = nn.Linear(cfg.decoder_dim, self.patch * self.patch * in_chans)
        nn.init.normal_(self.mask_token, std=0.02)

    def no_weight_decay(self) -> set[str]:
        return {"encoder.pos_embed", "encoder.cls_token", "encoder.reg_token", "mask_token", "decoder_pos_embed"}

    def encode_visible(self, images: Tensor, noise: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        enc = self.encoder
        x = enc.patch_embed(images)
        prefix = enc.num_prefix_tokens
        pos = enc.pos_embed
        x = x + (pos if enc.no_embed_class else pos[:, prefix:])
        B, L, D = x.shape
        keep = max(1, int(round(L * (1 - self.cfg.mask_ratio))))
        shuffle = noise.argsort(dim=1)
        restore = shuffle.argsort(dim=1)
        kept = shuffle[:, :keep]
        x = x.gather(1, kept[..., None].expand(-1, -1, D))
        mask = torch.ones(B, L, device=images.device)
        mask[:, :keep] = 0
        mask = mask.gather(1, restore)  # 1 = masked, in patch order
        tokens = [t for t in (enc.cls_token, enc.reg_token) if t is not None]
        if tokens:
            first = torch.cat(tokens, dim=1) + (0 if enc.no_embed_class else pos[:, :prefix])
            x = torch.cat([first.expand(B, -1, -1), x], dim=1)
        x = enc.norm_pre(x)
        x = enc.blocks(x)
        return enc.norm(x), mask, restore

    def decode(self, latent: Tensor, restore: Tensor) -> Tensor:
        x = self.decoder_embed(latent)
        B, width, d = x.shape
        n = self.prefix
        L = restore.shape[1]
        fill = self.mask_token.expand(B, L + n - width, -1)
        tokens = torch.cat([x[:, n:], fill], dim=1).gather(1, restore[..., None].expand(-1, -1, d))
        x = torch.cat([x[:, :n], tokens], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, n:]

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Reconstruction loss on masked patches (mean squared error per pixel)."""
        B = images.shape[0]
        L = self.encoder.patch_embed.num_patches
        noise = torch.rand(B, L, generator=generator, device="cpu" if generator is not None else images.device)
        latent, mask, restore = self.encode_visible(images, noise.to(images.device))
        pred = self.decode(latent, restore)
        target = patchify(images, self.patch)
        if self.cfg.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        per_patch = (pred.float() - target.float()).pow(2).mean(dim=-1)
        return (per_patch * mask).sum() / mask.sum()
