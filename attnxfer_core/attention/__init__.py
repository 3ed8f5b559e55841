"""Attention access on unmodified timm ViTs: walking blocks, explicit q/k/v and logits, index grammar."""
